package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/openacquire/acquire/adapters/fileanchor"
	"github.com/openacquire/acquire/runtime/bench"
)

// anchorFlags are `acquire bench --anchors s3,gcs,azure`: start each
// cloud's local server and measure the storage service on it beside that
// cloud's own SDK uploader (docs/design/storage.md, "Fair anchors").
type anchorFlags struct {
	names string
	tools string
}

func addAnchorFlags(f *pflag.FlagSet) *anchorFlags {
	a := &anchorFlags{}
	f.StringVar(&a.names, "anchors", "", "comma-separated cloud stores ("+strings.Join(fileanchor.Names, ", ")+") whose local servers the anchors step starts, to move --file-bytes through the storage service and a PAR beside that cloud's SDK uploader on the same bucket")
	f.StringVar(&a.tools, "tools", "", "folder of the pinned local servers for --anchors (default $ACQUIRE_TOOLS_BIN or .tools/bin)")
	return a
}

// parse checks the names before anything starts.
func (a *anchorFlags) parse() ([]string, error) {
	if a.names == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Split(a.names, ",") {
		n := strings.TrimSpace(p)
		if !fileanchor.Known(n) {
			return nil, usagef("--anchors: %q is not one of %s", n, strings.Join(fileanchor.Names, ", "))
		}
		out = append(out, n)
	}
	return out, nil
}

// start starts the named anchors into cfg; the answer stops them.
func (a *anchorFlags) start(ctx context.Context, cfg *bench.Config, progress func(string)) (func(), error) {
	names, err := a.parse()
	if err != nil || len(names) == 0 {
		return func() {}, err
	}
	tools := a.tools
	if tools == "" {
		tools = fileanchor.ToolsBin()
	}
	progress(fmt.Sprintf("anchors: starting %s", strings.Join(names, ", ")))
	anchors, started, err := fileanchor.Start(ctx, names, tools)
	if err != nil {
		started.Stop()
		return nil, err
	}
	cfg.Anchors = anchors
	return started.Stop, nil
}
