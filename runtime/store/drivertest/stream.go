package drivertest

import (
	"bytes"
	"io"
	"testing"

	"github.com/openacquire/acquire/runtime/store"
)

// testOpen: a stream yields exactly the object's bytes and version (through
// the driver's Streamer where it has one, else from one Get), a missing key
// is ErrNotFound, and a replaced object streams its new bytes.
func (s *suite) testOpen(t *testing.T, b *store.Bucket) {
	mib := bytes.Repeat([]byte("stream me "), 100_000)
	for key, data := range map[string][]byte{"s/empty": {}, "s/small": []byte("x"), "s/mib": mib} {
		v, err := b.Put(ctx(t), key, data)
		must(t, "Put "+key, err)
		st, err := b.Open(ctx(t), key)
		must(t, "Open "+key, err)
		got, err := io.ReadAll(st.R)
		must(t, "read "+key, err)
		must(t, "close "+key, st.Close())
		if !bytes.Equal(got, data) || st.Size != int64(len(data)) {
			t.Fatalf("Open %s: %d bytes (size %d), want %d", key, len(got), st.Size, len(data))
		}
		if st.Version != v {
			t.Fatalf("Open %s: version %q, want %q", key, st.Version, v)
		}
	}
	_, err := b.Open(ctx(t), "s/missing")
	wantErr(t, "Open s/missing", err, store.ErrNotFound)
	_, err = b.Put(ctx(t), "s/small", []byte("replaced"))
	must(t, "Put s/small again", err)
	st, err := b.Open(ctx(t), "s/small")
	must(t, "Open s/small again", err)
	defer func() { _ = st.Close() }()
	if got, _ := io.ReadAll(st.R); string(got) != "replaced" {
		t.Fatalf("Open after a replace: %q", got)
	}
}
