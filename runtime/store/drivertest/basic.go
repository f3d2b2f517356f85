package drivertest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/openacquire/acquire/runtime/store"
)

// must fails the test on err, naming what was being done.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr fails unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// wantData fails unless key holds data at version v ("" skips the check).
func wantData(t *testing.T, b *store.Bucket, key string, data []byte, v store.Version) {
	t.Helper()
	got, gotV, err := b.Get(ctx(t), key)
	must(t, "Get "+key, err)
	if !bytes.Equal(got, data) {
		if len(got)+len(data) <= 128 {
			t.Fatalf("Get %s: %q, want %q", key, got, data)
		}
		t.Fatalf("Get %s: %d bytes, want %d (content differs)", key, len(got), len(data))
	}
	if v != "" && gotV != v {
		t.Fatalf("Get %s: version %q, want %q", key, gotV, v)
	}
}

func wantAbsent(t *testing.T, b *store.Bucket, key string) {
	t.Helper()
	_, _, err := b.Get(ctx(t), key)
	wantErr(t, "Get "+key, err, store.ErrNotFound)
}

func (s *suite) testGetMissing(t *testing.T, b *store.Bucket) {
	wantAbsent(t, b, "missing")
	wantAbsent(t, b, "missing/deeper/key")
}

func (s *suite) testRoundTrip(t *testing.T, b *store.Bucket) {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	mib := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	cases := map[string][]byte{"empty": {}, "one": {'x'}, "binary": binary, "mib": mib}
	for name, data := range cases {
		k := "rt/" + name
		v, err := b.Put(ctx(t), k, data)
		must(t, "Put "+k, err)
		wantData(t, b, k, data, v)
	}
	// The store must own its copy: the caller may reuse its buffer.
	buf := []byte("original")
	v, err := b.Put(ctx(t), "rt/owned", buf)
	must(t, "Put", err)
	copy(buf, "CHANGED!")
	got, _, err := b.Get(ctx(t), "rt/owned")
	must(t, "Get", err)
	copy(got, "mutated!")
	wantData(t, b, "rt/owned", []byte("original"), v)
}

func (s *suite) testPutIfAbsent(t *testing.T, b *store.Bucket) {
	v, err := b.PutIfAbsent(ctx(t), "pia", []byte("first"))
	must(t, "PutIfAbsent new", err)
	_, err = b.PutIfAbsent(ctx(t), "pia", []byte("second"))
	wantErr(t, "PutIfAbsent existing", err, store.ErrPrecondition)
	wantData(t, b, "pia", []byte("first"), v)
}

func (s *suite) testPutIfVersion(t *testing.T, b *store.Bucket) {
	v1, err := b.Put(ctx(t), "piv", []byte("one"))
	must(t, "Put", err)
	v2, err := b.PutIfVersion(ctx(t), "piv", []byte("two"), v1)
	must(t, "PutIfVersion right", err)
	if v2 == v1 {
		t.Fatalf("PutIfVersion kept version %q", v1)
	}
	_, err = b.PutIfVersion(ctx(t), "piv", []byte("three"), v1)
	wantErr(t, "PutIfVersion wrong", err, store.ErrPrecondition)
	wantData(t, b, "piv", []byte("two"), v2)
	// An absent key is a lost race, not a lookup: ErrPrecondition, and
	// nothing may be created.
	_, err = b.PutIfVersion(ctx(t), "piv-absent", []byte("x"), v2)
	wantErr(t, "PutIfVersion absent", err, store.ErrPrecondition)
	wantAbsent(t, b, "piv-absent")
}

func (s *suite) testDelete(t *testing.T, b *store.Bucket) {
	_, err := b.Put(ctx(t), "del", []byte("x"))
	must(t, "Put", err)
	must(t, "Delete", b.Delete(ctx(t), "del"))
	wantAbsent(t, b, "del")
	wantErr(t, "Delete again", b.Delete(ctx(t), "del"), store.ErrNotFound)
	wantErr(t, "Delete never written", b.Delete(ctx(t), "del/never/written"), store.ErrNotFound)
}

func (s *suite) testDeleteIfVersion(t *testing.T, b *store.Bucket) {
	t.Run("Right", func(t *testing.T) {
		v, err := b.Put(ctx(t), "div/right", []byte("x"))
		must(t, "Put", err)
		must(t, "DeleteIfVersion", b.DeleteIfVersion(ctx(t), "div/right", v))
		wantAbsent(t, b, "div/right")
	})
	t.Run("Wrong", func(t *testing.T) {
		gap(t, "NoDeletePrecondition", s.opts.NoDeletePrecondition)
		v1, err := b.Put(ctx(t), "div/wrong", []byte("x"))
		must(t, "Put", err)
		v2, err := b.Put(ctx(t), "div/wrong", []byte("y"))
		must(t, "Put", err)
		wantErr(t, "DeleteIfVersion", b.DeleteIfVersion(ctx(t), "div/wrong", v1), store.ErrPrecondition)
		wantData(t, b, "div/wrong", []byte("y"), v2)
	})
	t.Run("Absent", func(t *testing.T) {
		v, err := b.Put(ctx(t), "div/other", []byte("x"))
		must(t, "Put", err)
		wantErr(t, "DeleteIfVersion", b.DeleteIfVersion(ctx(t), "div/absent", v), store.ErrNotFound)
	})
}

// testVersionsNoABA: a token taken before an overwrite must be refused after
// it, even when the new bytes are identical, and even across delete and
// re-create. Otherwise a stale writer's CAS would silently succeed.
func (s *suite) testVersionsNoABA(t *testing.T, b *store.Bucket) {
	const k = "aba"
	seen := map[store.Version]bool{}
	fresh := func(v store.Version) {
		t.Helper()
		if seen[v] {
			t.Fatalf("version %q produced twice for one key", v)
		}
		seen[v] = true
	}
	data := []byte("same bytes")
	v1, err := b.Put(ctx(t), k, data)
	must(t, "Put", err)
	fresh(v1)
	v2, err := b.Put(ctx(t), k, data)
	must(t, "Put same bytes", err)
	fresh(v2)
	_, err = b.PutIfVersion(ctx(t), k, data, v1)
	wantErr(t, "PutIfVersion with pre-overwrite version", err, store.ErrPrecondition)
	if s.opts.NoDeletePrecondition == "" {
		wantErr(t, "DeleteIfVersion with pre-overwrite version", b.DeleteIfVersion(ctx(t), k, v1), store.ErrPrecondition)
	}
	must(t, "Delete", b.Delete(ctx(t), k))
	v3, err := b.PutIfAbsent(ctx(t), k, data)
	must(t, "PutIfAbsent after delete", err)
	fresh(v3)
	_, err = b.PutIfVersion(ctx(t), k, data, v2)
	wantErr(t, "PutIfVersion with pre-delete version", err, store.ErrPrecondition)
	for range 10 {
		v, err := b.PutIfVersion(ctx(t), k, data, v3)
		must(t, "PutIfVersion chain", err)
		fresh(v)
		v3 = v
	}
}
