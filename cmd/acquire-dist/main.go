// Command acquire-dist builds the deployable artifact of every function
// platform (make dist): see package adapters/dist for what each holds.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/openacquire/acquire/adapters/dist"
)

func main() {
	out := flag.String("o", "dist", "folder to write the artifacts to")
	archs := flag.String("arch", strings.Join(dist.Archs, ","), "comma-separated architectures (amd64, arm64)")
	asJSON := flag.Bool("json", false, "print the artifacts as JSON")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: acquire-dist [-o dir] [-arch amd64,arm64] [-json]\n\n"+
			"Builds, reproducibly, the Lambda zip, the Cloud Run image, the Azure Functions zip and the Fn image (OCI layout).\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(*out, strings.Split(*archs, ","), *asJSON); err != nil {
		fmt.Fprintln(os.Stderr, "acquire-dist:", err)
		os.Exit(1)
	}
}

func run(out string, archs []string, asJSON bool) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	arts, err := dist.WriteAll(context.Background(), root, out, archs)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(os.Stdout).Encode(arts)
	}
	for _, a := range arts {
		fmt.Printf("%s  %s  %d bytes\n", a.SHA256, a.Path, a.Bytes)
	}
	return nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run inside the acquire module (no go.mod found above here)")
		}
		dir = parent
	}
}
