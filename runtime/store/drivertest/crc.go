package drivertest

import (
	"bytes"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/openacquire/acquire/runtime/store"
)

// testPutCRC32C: a put with its data's right CRC-32C reads back like any
// put, and one with a wrong CRC never reads back as good data: either the
// put is refused (drivers without a CRC of their own, checked by the
// Bucket) or a whole read of it reports ErrCorrupt (drivers that store the
// given CRC). A refused put leaves the old object as it was.
func (s *suite) testPutCRC32C(t *testing.T, b *store.Bucket) {
	data := bytes.Repeat([]byte("checksummed "), 50_000)
	crc := crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))
	v, err := b.PutCRC32C(ctx(t), "c/right", data, crc)
	must(t, "PutCRC32C with the right CRC", err)
	got, gv, err := b.Get(ctx(t), "c/right")
	must(t, "Get c/right", err)
	if !bytes.Equal(got, data) || gv != v {
		t.Fatalf("Get c/right: %d bytes at %q, want %d at %q", len(got), gv, len(data), v)
	}

	_, err = b.Put(ctx(t), "c/wrong", []byte("before"))
	must(t, "Put c/wrong", err)
	_, err = b.PutCRC32C(ctx(t), "c/wrong", data, crc^1)
	if err != nil {
		wantErr(t, "PutCRC32C with a wrong CRC", err, store.ErrInvalidArgument)
		got, _, err := b.Get(ctx(t), "c/wrong")
		must(t, "Get c/wrong after a refused put", err)
		if string(got) != "before" {
			t.Fatalf("a refused PutCRC32C changed the object to %d bytes", len(got))
		}
		return
	}
	_, _, err = b.Get(ctx(t), "c/wrong")
	if !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("%s stored a wrong CRC and Get answered %v, want ErrCorrupt", s.driverName, err)
	}
}
