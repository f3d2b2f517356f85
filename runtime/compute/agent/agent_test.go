package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openacquire/acquire/runtime/compute"
)

// A log keeps its first max bytes, accepts (and drops) the rest without
// failing the writer, and notes what it dropped.
func TestLogFileBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l, err := newLog(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"hello ", "world, ", "and more"} {
		if n, err := l.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("write %q: %d %v", s, n, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "hello worl\n[acquire: 11 more bytes dropped") {
		t.Fatalf("log %q", b)
	}
}

// DirDrive never writes outside the link's folder.
func TestDirDriveStaysInside(t *testing.T) {
	root, src := t.TempDir(), filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &DirDrive{Dirs: map[string]string{"https://x/out": root}}
	for _, name := range []string{"../escape", "/abs", `a\b`} {
		if err := d.Put(context.Background(), "https://x/out", name, src); err == nil {
			t.Errorf("put %q was allowed", name)
		}
	}
	if err := d.Put(context.Background(), "https://x/out", "out/ok.txt", src); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(context.Background(), "https://x/other", "ok", src); err == nil || strings.Contains(err.Error(), "x/other") {
		t.Fatalf("unknown link: %v", err)
	}
}

func TestConfigBounds(t *testing.T) {
	key, err := compute.GenerateClusterKey("c1")
	if err != nil {
		t.Fatal(err)
	}
	cl := &compute.AgentClient{Key: key, Agent: "a"}
	for _, c := range []Config{{}, {Client: &compute.AgentClient{}}, {Client: cl, Workers: MaxWorkers + 1}, {Client: cl, Workers: -1}} {
		if err := c.defaults(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	c := Config{Client: cl}
	if err := c.defaults(); err != nil || c.Workers != DefaultWorkers || c.Lease != compute.DefaultLease || c.MaxLogBytes != DefaultMaxLogBytes {
		t.Fatalf("defaults: %+v %v", c, err)
	}
}

func TestLimitsBoundsAndForm(t *testing.T) {
	key, err := compute.GenerateClusterKey("c1")
	if err != nil {
		t.Fatal(err)
	}
	cl := &compute.AgentClient{Key: key, Agent: "a"}
	for _, l := range []Limits{{MemoryBytes: -1}, {CPUSeconds: -1}, {MemoryBytes: MinMemoryBytes - 1}, {OpenFiles: MinOpenFiles - 1}} {
		c := Config{Client: cl, Limits: l}
		if err := c.defaults(); err == nil {
			t.Errorf("limits %+v accepted", l)
		}
	}
	c := Config{Client: cl, Limits: Limits{CPUSeconds: 5}, WorkDir: "rel"}
	if err := c.defaults(); err != nil || c.Launcher == "" || !filepath.IsAbs(c.WorkDir) {
		t.Fatalf("defaults with limits: %+v %v", c, err)
	}
	l := Limits{MemoryBytes: 1 << 30, CPUSeconds: 7, FileBytes: 3, OpenFiles: 99}
	if got, err := parseLimits(l.String()); err != nil || got != l {
		t.Fatalf("round trip %+v: %+v %v", l, got, err)
	}
	for _, bad := range []string{"", "memory=1,swap=2", "cpu=-1", "cpu=x"} {
		if _, err := parseLimits(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
