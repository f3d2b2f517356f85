package s3store

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/openacquire/acquire/runtime/store/driver"
)

// TestFrame: the frame is valid gzip (what HTTP clients of a signed URL
// decode), round-trips, is unique per write, and its size arithmetic is
// exact at every block boundary.
func TestFrame(t *testing.T) {
	for _, n := range []int{0, 1, 255, maxBlockBytes - 1, maxBlockBytes, maxBlockBytes + 1, 2 * maxBlockBytes, 2*maxBlockBytes + 7, 300_000} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rand.N(256))
		}
		f1, f2 := encode(data), encode(data)
		if bytes.Equal(f1, f2) {
			t.Fatalf("n=%d: two frames of the same bytes are equal", n)
		}
		if len(f1) != storedSize(n) {
			t.Fatalf("n=%d: frame of %d bytes, storedSize says %d", n, len(f1), storedSize(n))
		}
		if got, ok := dataSize(int64(len(f1))); !ok || got != int64(n) {
			t.Fatalf("n=%d: dataSize(%d) = %d, %v", n, len(f1), got, ok)
		}
		got, err := decode(f1)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("n=%d: decode: %v", n, err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(f1))
		if err != nil {
			t.Fatalf("n=%d: gzip header: %v", n, err)
		}
		viaGzip, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(viaGzip, data) {
			t.Fatalf("n=%d: gzip decode: %v", n, err)
		}
		if len(zr.Extra) != 21 || string(zr.Extra[:2]) != "AQ" {
			t.Fatalf("n=%d: gzip extra field % x", n, zr.Extra)
		}
	}
}

func TestFrameCorruption(t *testing.T) {
	data := bytes.Repeat([]byte("abc"), 30000)
	f := encode(data)
	cases := map[string][]byte{
		"truncated":      f[:len(f)-1],
		"extended":       append(bytes.Clone(f), 0),
		"data bit":       flip(f, headerBytes+blockHeader+10),
		"block header":   flip(f, headerBytes+1),
		"crc":            flip(f, len(f)-8),
		"size":           flip(f, len(f)-1),
		"magic":          flip(f, 0),
		"format version": flip(f, 16),
	}
	for name, b := range cases {
		if _, err := decode(b); !errors.Is(err, driver.ErrCorrupt) {
			t.Errorf("%s: decode = %v, want ErrCorrupt", name, err)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

// TestDataSizeInverse: every stored size maps back to at most one data size
// and only sizes a frame can have are accepted.
func TestDataSizeInverse(t *testing.T) {
	for s := int64(0); s < 3*fullBlockBytes+100; s++ {
		n, ok := dataSize(s)
		if ok != (n >= 0 && int64(storedSize(int(n))) == s) || ok && n < 0 {
			t.Fatalf("dataSize(%d) = %d, %v", s, n, ok)
		}
	}
	if n, ok := dataSize(int64(storedSize(driver.MaxObjectBytes))); !ok || n != driver.MaxObjectBytes {
		t.Fatalf("dataSize at the object limit = %d, %v", n, ok)
	}
}
