package web

import (
	"io/fs"
	"path"
	"sort"
)

// Routes are every name the handler answers below Path: "" (the login
// page), the pages, and the embedded scripts and styles. A platform whose
// routes match whole paths only (Fn's HTTP triggers) needs one route per
// name; a new asset is listed here by itself.
func Routes() []string {
	out := []string{"", PageLogin, PageRegister, PageConsole}
	entries, err := fs.ReadDir(assetFS, "assets")
	if err != nil {
		panic(err) // the embedded folder is part of the binary
	}
	for _, e := range entries {
		if _, ok := contentTypes[path.Ext(e.Name())]; ok && !e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out[4:])
	return out
}
