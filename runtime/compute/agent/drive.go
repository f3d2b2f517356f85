package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// DirDrive is a Drive over local folders: each link names a folder. It
// stands in for the storage service's PAR client in tests and on one
// machine.
type DirDrive struct {
	Dirs map[string]string // link → folder
}

func (d *DirDrive) dir(link string) (string, error) {
	dir, ok := d.Dirs[link]
	if !ok {
		return "", errors.New("no folder for this link") // the link holds a secret: not repeated
	}
	return dir, nil
}

// Fetch copies the regular files at the top of the link's folder into dir.
func (d *DirDrive) Fetch(_ context.Context, link, dir string) error {
	src, err := d.dir(link)
	if err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Type().IsRegular() {
			if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// Put copies path to name below the link's folder.
func (d *DirDrive) Put(_ context.Context, link, name, path string) error {
	root, err := d.dir(link)
	if err != nil {
		return err
	}
	if !filepath.IsLocal(name) || strings.Contains(name, "\\") {
		return fmt.Errorf("name %q leaves the folder", name)
	}
	dst := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	return copyFile(path, dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src) //nolint:gosec // paths come from the agent's own folders
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600) //nolint:gosec // see above
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
