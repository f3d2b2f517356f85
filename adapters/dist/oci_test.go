package dist_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openacquire/acquire/adapters/dist"
)

// An archive that is not the layout OCIArchive writes is refused, and
// nothing is written outside the folder given.
func TestReadOCIArchiveRefuses(t *testing.T) {
	var good bytes.Buffer
	if err := dist.OCIArchive(&good, "function", "amd64", []byte("#!binary")); err != nil {
		t.Fatal(err)
	}
	if _, err := dist.ReadOCIArchive(write(t, good.Bytes()), t.TempDir()); err != nil {
		t.Fatalf("a good archive: %v", err)
	}
	outside := filepath.Join(t.TempDir(), "escaped")
	cases := map[string][]dist.File{
		"traversal":    {{Name: "../escaped", Mode: 0o644, Data: []byte("x")}},
		"absolute":     {{Name: outside, Mode: 0o644, Data: []byte("x")}},
		"stray file":   {{Name: "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)}, {Name: "index.json", Data: []byte(`{}`)}, {Name: "run.sh", Data: []byte("x")}},
		"no index":     {{Name: "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)}},
		"empty index":  {{Name: "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)}, {Name: "index.json", Data: []byte(`{"schemaVersion":2,"manifests":[]}`)}},
		"bad blob":     {{Name: "blobs/sha256/" + strings.Repeat("g", 64), Data: []byte("x")}},
		"duplicate":    {{Name: "index.json", Data: []byte(`{}`)}, {Name: "index.json", Data: []byte(`{}`)}},
		"not a layout": {{Name: "function", Mode: 0o755, Data: []byte("x")}},
	}
	for name, files := range cases {
		var buf bytes.Buffer
		if err := dist.Tar(&buf, files); err != nil {
			t.Fatal(err)
		}
		_, err := dist.ReadOCIArchive(write(t, buf.Bytes()), t.TempDir())
		if !errors.Is(err, dist.ErrOCIArchive) {
			t.Errorf("%s: %v, want ErrOCIArchive", name, err)
		}
	}
	if _, err := os.Stat(outside); err == nil {
		t.Fatal("an entry was written outside the folder")
	}
	// A blob whose bytes do not match its digest fails validation.
	if _, err := dist.ReadOCIArchive(write(t, tamper(t, good.Bytes())), t.TempDir()); !errors.Is(err, dist.ErrOCIArchive) {
		t.Fatalf("tampered layer: %v", err)
	}
}

// tamper flips a byte in the middle of the archive's largest blob (the layer).
func tamper(t *testing.T, archive []byte) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(archive))
	var files []dist.File
	largest := -1
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if largest < 0 || len(data) > len(files[largest].Data) {
			largest = len(files)
		}
		files = append(files, dist.File{Name: h.Name, Mode: os.FileMode(h.Mode), Data: data})
	}
	files[largest].Data[len(files[largest].Data)/2] ^= 0xff
	var buf bytes.Buffer
	if err := dist.Tar(&buf, files); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func write(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fn.tar")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
