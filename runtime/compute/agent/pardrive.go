package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/storage"
)

// MaxInputFiles bounds the files fetched from one input link.
const MaxInputFiles = 1000

// listPage is how many file names one listing call asks for.
const listPage = 100

// PARDrive moves a job's files through the storage service's PAR links:
// a read link (of a drive, or of one file) for the inputs, a write link
// of a drive for the outputs and logs. The agent needs no login.
//
// The services a job's links name are the job's choice, not the
// operator's: each Fetch or Put verifies them with pins of its own, in
// memory (call.OverlayPins over C's), so a job cannot add pins to the
// agent's wallet (a query string or path per job made a new pin, and
// 3,848 of them filled it) and they go when the transfer does. Services
// the wallet already pins are still checked against it.
type PARDrive struct {
	C *call.Client
}

// maxLinkServices bounds the services one transfer may pin: a link names
// one storage service.
const maxLinkServices = 4

// openPAR opens a link with a client whose new pins stay in memory.
func (d *PARDrive) openPAR(link string) (*storage.PARClient, error) {
	var c *call.Client
	if d.C.Pins != nil {
		c = d.C.Derive(&call.OverlayPins{Trusted: d.C.Pins, Max: maxLinkServices})
	} else {
		c = d.C.Derive(nil)
	}
	return storage.OpenPAR(c, link)
}

// Fetch downloads every current file behind a read link into dir, under
// its name in the drive (at most MaxInputFiles); a file link gives its
// one file, under its base name.
func (d *PARDrive) Fetch(ctx context.Context, link, dir string) error {
	p, err := d.openPAR(link)
	if err != nil {
		return err
	}
	info, err := p.Info(ctx)
	if err != nil {
		return err
	}
	if info.Name != "" {
		return download(ctx, p, "", filepath.Join(dir, path.Base(info.Name)))
	}
	n := 0
	for page := ""; ; {
		l, err := p.List(ctx, page, listPage)
		if err != nil {
			return err
		}
		for _, f := range l.Files {
			if f.Deleted {
				continue
			}
			if n++; n > MaxInputFiles {
				return fmt.Errorf("the input link holds over %d files", MaxInputFiles)
			}
			local := filepath.FromSlash(f.Name)
			if !filepath.IsLocal(local) { // storage cleans names; checked again here
				return fmt.Errorf("input file name %q leaves the folder", f.Name)
			}
			if err := download(ctx, p, f.Name, filepath.Join(dir, local)); err != nil {
				return err
			}
		}
		if l.Next == "" {
			return nil
		}
		page = l.Next
	}
}

func download(ctx context.Context, p *storage.PARClient, name, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // inside the job's own folder, checked above
	if err != nil {
		return err
	}
	_, err = p.Download(ctx, name, f, storage.DownloadOptions{})
	return errors.Join(err, f.Close())
}

// Put uploads the file at local as name behind a write link.
func (d *PARDrive) Put(ctx context.Context, link, name, local string) error {
	p, err := d.openPAR(link)
	if err != nil {
		return err
	}
	f, err := os.Open(local) //nolint:gosec // the job's own folder
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	_, err = p.Upload(ctx, name, f, st.Size(), storage.UploadOptions{})
	return err
}
