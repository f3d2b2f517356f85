package bench

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// The delay proxy adds its delay each way: a request and its answer pay
// at least the round trip.
func TestDelayProxyAddsRoundTrip(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "pong") }),
		ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	p, err := NewDelayProxy(ln.Addr().String(), 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := &http.Client{Timeout: 10 * time.Second}
	for i := range 3 { // a fresh connection, then reused ones
		t0 := time.Now()
		resp, err := c.Get("http://" + p.Addr() + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if d := time.Since(t0); string(body) != "pong" || d < 40*time.Millisecond {
			t.Fatalf("call %d: %q in %s, want pong after at least 40 ms", i, body, d)
		}
	}
}

// The xregion step end to end, briefly: it proves the harness works (both
// regions, the proxy, positions that agree afterwards), not how fast.
func TestXRegionSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the benchmark harness registers users with argon2id")
	}
	rep, err := Run(context.Background(), Config{Duration: 300 * time.Millisecond, Concurrency: []int{1, 2}, Steps: []string{"xregion"}},
		func(s string) { t.Log(s) })
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, f := range rep.Figures {
		if f.Ops == 0 || f.Errors != 0 || f.P50ms <= 0 || f.PerSecond <= 0 {
			t.Errorf("figure %s@%d: %+v", f.Name, f.Concurrency, f)
		}
		if (f.Name == "xregion: cross-region transfers (+50 ms RTT)" || f.Name == "xregion: first cross-region transfer (keys cold)") &&
			f.P50ms < float64(XRegionRTT.Milliseconds()) {
			t.Errorf("a cross-region transfer took %.1f ms, less than the round trip the proxy adds", f.P50ms)
		}
		got[f.Name]++
	}
	if got["xregion: same-region transfers"] != 2 || got["xregion: cross-region transfers (+50 ms RTT)"] != 2 ||
		got["xregion: first cross-region transfer (keys cold)"] != 1 {
		t.Fatalf("figures: %v", got)
	}
}

// BenchmarkCrossRegionTransfer: one client's cross-region transfers
// through the 50 ms round-trip proxy (b.N of them), for ns/op beside
// BenchmarkSameRegionTransfer.
func BenchmarkCrossRegionTransfer(b *testing.B) { benchRegionTransfer(b, true) }

// BenchmarkSameRegionTransfer: the same client's same-region transfers.
func BenchmarkSameRegionTransfer(b *testing.B) { benchRegionTransfer(b, false) }
