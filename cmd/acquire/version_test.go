package main

import (
	"bytes"
	"strings"
	"testing"
)

// --version prints the version a release stamps in (goreleaser's ldflags
// set main.version; a plain build says dev).
func TestVersionFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--version"}, strings.NewReader(""), &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := strings.TrimSpace(out.String()); got != "acquire version "+version {
		t.Fatalf("--version printed %q", got)
	}
}
