package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/openacquire/acquire/runtime/store/driver"
)

var _ driver.Streamer = (*Driver)(nil)

// Open streams an object from its file without reading it whole: the
// stream's reader is an *io.LimitedReader over the *os.File, positioned at
// the data, which net/http sends to a socket with sendfile(2). Reads take
// no lock (see Get), and an open file keeps the bytes of the write it
// opened even if a rename replaces the name meanwhile. The header is
// checked (magic, key, length against the file's size); the data's CRC is
// not: that needs every byte read, which is what a stream avoids. Callers
// check the bytes (driver.Streamer).
func (d *Driver) Open(ctx context.Context, key string) (*driver.Stream, error) {
	if err := d.check(ctx); err != nil {
		return nil, err
	}
	var f *os.File
	_, err := d.lookup(locate(key), func(rel string) error {
		var err error
		f, err = os.Open(d.path(rel))
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, driver.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	st, err := openedStream(f, key)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return st, nil
}

func openedStream(f *os.File, key string) (*driver.Stream, error) {
	h, err := readHeader(f)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	start := int64(headerFixed + len(h.key))
	if h.key != key || info.Size() != start+h.dataLen {
		return nil, fmt.Errorf("%w: key or length mismatch", driver.ErrCorrupt)
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return nil, err
	}
	return &driver.Stream{R: &io.LimitedReader{R: f, N: h.dataLen}, Size: h.dataLen, Version: h.version, Close: f.Close}, nil
}
