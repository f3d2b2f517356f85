package fileanchor_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openacquire/acquire/adapters/fileanchor"
	"github.com/openacquire/acquire/adapters/servertest"
	"github.com/openacquire/acquire/runtime/bench"
)

// Each anchor's SDK round-trips a file on its server, and the anchors
// step measures the service, a PAR and the SDK on it: six figures per
// anchor, the service's and the PAR's beside the SDK's rate.
func TestAnchorsRoundTripAndMeasure(t *testing.T) {
	tools := filepath.Dir(servertest.Binary(t, "versitygw"))
	ctx := context.Background()
	anchors, started, err := fileanchor.Start(ctx, fileanchor.Names, tools)
	t.Cleanup(started.Stop)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 3<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	for i := range anchors {
		a := &anchors[i]
		if err := a.Upload(ctx, "probe.bin", bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatalf("%s: SDK upload: %v", a.Name, err)
		}
		f, err := os.Create(filepath.Join(t.TempDir(), "probe.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Download(ctx, "probe.bin", f); err != nil {
			t.Fatalf("%s: SDK download: %v", a.Name, err)
		}
		got, err := os.ReadFile(f.Name())
		_ = f.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: SDK round trip gave %d bytes (%v), want the %d sent", a.Name, len(got), err, len(data))
		}
		a.Rounds = 1
	}
	rep, err := bench.Run(ctx, bench.Config{Steps: []string{"anchors"}, FileBytes: 9 << 20, Anchors: anchors}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Figures) != 6*len(anchors) {
		t.Fatalf("%d figures for %d anchors", len(rep.Figures), len(anchors))
	}
	for _, f := range rep.Figures {
		if f.PerSecond <= 0 || f.Ops != 1 {
			t.Errorf("%s: %.1f MB/s over %d rounds", f.Name, f.PerSecond, f.Ops)
		}
		sdk := strings.Contains(f.Name, "via SDK")
		if sdk != (f.BoundPerSec == 0) {
			t.Errorf("%s: bound %.1f (only the service's and the PAR's lines stand beside the SDK's)", f.Name, f.BoundPerSec)
		}
		if s3 := strings.HasPrefix(f.Name, "S3"); !sdk && (f.Target == fileanchor.S3Target) != s3 {
			t.Errorf("%s: target %.2f (90%% on S3 only)", f.Name, f.Target)
		}
	}
}

// Unknown names are refused before any server starts.
func TestUnknownAnchorRefused(t *testing.T) {
	_, st, err := fileanchor.Start(context.Background(), []string{"s4"}, t.TempDir())
	st.Stop()
	if err == nil || !strings.Contains(err.Error(), "unknown anchor") {
		t.Fatalf("s4: %v", err)
	}
}
