package filestore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// tempAttempts bounds retries when a random temp name already exists.
const tempAttempts = 4

// writeTemp writes one complete object file under a temp name in the
// root's .tmp (on the same file system, so the later rename or link is
// atomic) and flushes it to disk, so whatever name it later gets never
// points at partial or unflushed data. It returns the temp file's path and
// the new version.
func (d *Driver) writeTemp(key string, data []byte, crc uint32) (string, []byte, error) {
	f, err := d.createTemp()
	if err != nil {
		return "", nil, err
	}
	version := newVersion()
	err = d.writeObject(f, encodeHeader(key, version, data, crc, time.Now()), data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", nil, err
	}
	return f.Name(), version, nil
}

// object is a new object's flushed file waiting for its name: unnamed
// (O_TMPFILE) where the system allows, which saves a directory entry's
// creation and removal per object and leaves nothing behind after a crash
// (the kernel frees an unnamed file), else under a temp name.
type object struct {
	f       *os.File // the unnamed file, or nil
	tmp     string   // the temp name, when not unnamed
	version []byte
}

func (d *Driver) newObject(key string, data []byte, crc uint32) (*object, error) {
	if !d.noAnonymous.Load() {
		f, err := openAnonymous(d.path(tempDir))
		if err == nil {
			version := newVersion()
			if err := d.writeObject(f, encodeHeader(key, version, data, crc, time.Now()), data); err != nil {
				_ = f.Close()
				return nil, err
			}
			return &object{f: f, version: version}, nil
		}
		if !anonymousUnsupported(err) {
			return nil, err
		}
		d.noAnonymous.Store(true)
	}
	tmp, version, err := d.writeTemp(key, data, crc)
	if err != nil {
		return nil, err
	}
	return &object{tmp: tmp, version: version}, nil
}

// link gives the object the name rel, failing with fs.ErrExist if taken.
func (o *object) link(d *Driver, rel string) error {
	if o.f != nil {
		return linkAnonymous(o.f, d.path(rel), &d.noEmptyPath)
	}
	return os.Link(o.tmp, d.path(rel))
}

// discard drops the object's temp name or unnamed file (its data stays
// under the name it was given, if any).
func (o *object) discard() {
	if o.f != nil {
		_ = o.f.Close()
	}
	if o.tmp != "" {
		_ = os.Remove(o.tmp)
	}
}

// probeAnonymous checks once, at Open, that an unnamed file can be named
// here (O_TMPFILE, and linkat through the descriptor or /proc), so that a
// write failing later with ENOENT means its directory vanished, never a
// missing /proc. Without it, new objects get temp names.
func (d *Driver) probeAnonymous() {
	obj, err := d.newObject("probe", nil, 0)
	if err != nil || obj.f == nil {
		d.noAnonymous.Store(true)
		if obj != nil {
			obj.discard()
		}
		return
	}
	defer obj.discard()
	rel := tempDir + "/" + tempPrefix + "probe-" + randomHex(8)
	if err := obj.link(d, rel); err != nil {
		d.noAnonymous.Store(true)
		return
	}
	_ = os.Remove(d.path(rel))
}

// sweepTemps removes temp files a crash left in .tmp (older than
// tempMaxAge: a live writer holds its temp file for milliseconds).
func (d *Driver) sweepTemps() {
	names, err := d.readNames(tempDir + "/")
	if err != nil {
		return
	}
	for _, name := range names {
		d.removeIfStale(tempDir + "/" + name)
	}
}

func (d *Driver) writeObject(f *os.File, head, data []byte) error {
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
	if d.noFlush {
		return nil
	}
	return syncData(f)
}

func (d *Driver) createTemp() (*os.File, error) {
	var err error
	for range tempAttempts {
		var f *os.File
		f, err = os.OpenFile(d.path(tempDir)+"/"+tempPrefix+randomHex(8), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
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

// path turns a root-relative name into an absolute one.
func (d *Driver) path(rel string) string {
	return d.root + string(filepath.Separator) + rel
}
