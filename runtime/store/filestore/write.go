package filestore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// tempAttempts bounds retries when a random temp name already exists.
const tempAttempts = 4

// writeTemp writes one complete object file under a temp name in the key's
// directory (so the later rename or link stays within one file system) and
// flushes it to disk, so whatever name it later gets never points at partial
// or unflushed data. It returns the temp file's path and the new version.
func (d *Driver) writeTemp(loc location, key string, data []byte, crc uint32) (string, []byte, error) {
	f, err := d.createTemp(loc.dir)
	if errors.Is(err, fs.ErrNotExist) {
		// First write under this directory: create it (rare, so not checked
		// up front, which would cost every write a stat).
		if err = d.mkdirs(loc.dir); err == nil {
			f, err = d.createTemp(loc.dir)
		}
	}
	if err != nil {
		return "", nil, err
	}
	version := newVersion()
	err = writeObject(f, encodeHeader(key, version, data, crc, time.Now()), data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", nil, err
	}
	return f.Name(), version, nil
}

// linkNew writes a new object as an unnamed file (O_TMPFILE) in the key's
// directory, flushes it and links it to the key's name. Compared with a
// temp name that is linked and then removed, it saves a directory entry's
// creation and removal per object (and the directory writes they cause),
// and a crash leaves nothing behind: the kernel frees an unnamed file.
// done is false, and nothing was written, when the file system or
// environment cannot do it (no O_TMPFILE, no /proc); the caller then uses a
// temp name, as every later call will.
func (d *Driver) linkNew(loc location, key string, data []byte, crc uint32) (version []byte, done bool, err error) {
	dir := d.path(loc.dir)
	f, err := openAnonymous(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err = d.mkdirs(loc.dir); err == nil {
			f, err = openAnonymous(dir)
		}
	}
	if err != nil {
		if anonymousUnsupported(err) {
			d.noAnonymous.Store(true)
			return nil, false, nil
		}
		return nil, true, err
	}
	defer func() { _ = f.Close() }()
	version = newVersion()
	if err := writeObject(f, encodeHeader(key, version, data, crc, time.Now()), data); err != nil {
		return nil, true, err
	}
	err = linkAnonymous(f, d.path(loc.data()), &d.noEmptyPath)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil, true, d.exists(loc)
	case errors.Is(err, fs.ErrNotExist):
		// The directory exists (directories are never removed), so the
		// missing name is /proc/self/fd: no /proc here.
		d.noAnonymous.Store(true)
		return nil, false, nil
	case err != nil:
		return nil, true, err
	}
	return version, true, d.syncDir(loc.dir)
}

func writeObject(f *os.File, head, data []byte) error {
	if len(data) <= smallObjectBytes {
		// encodeHeader left room: one write system call for small objects.
		data, head = nil, append(head, data...)
	}
	if _, err := f.Write(head); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return syncData(f)
}

func (d *Driver) createTemp(relDir string) (*os.File, error) {
	var err error
	for range tempAttempts {
		var f *os.File
		f, err = os.OpenFile(d.path(relDir)+tempPrefix+randomHex(8), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// mkdirs creates the missing directories of relDir one level at a time and
// fsyncs each new directory's parent, so the new entry survives a crash.
// Directories are never removed: removing an empty one would race with a
// writer about to create a file in it.
func (d *Driver) mkdirs(relDir string) error {
	parent := ""
	for part := range strings.SplitSeq(strings.TrimSuffix(relDir, "/"), "/") {
		dir := parent + part + "/"
		err := os.Mkdir(d.path(dir), 0o700)
		if err == nil {
			err = d.syncDir(parent)
		}
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		parent = dir
	}
	return nil
}

// path turns a root-relative name into an absolute one.
func (d *Driver) path(rel string) string {
	return d.root + string(filepath.Separator) + rel
}
