package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// resumeState remembers the unfinished upload of one local file to one
// place, so running the same upload again resumes it. The key covers the
// file's size and modification time: a changed file starts afresh
// instead of mixing old chunks with new bytes.
type resumeState struct {
	path string
	log  func(msg string, args ...any)
}

type resumeRecord struct {
	Upload string `json:"upload"`
}

// resumeKey is where an upload goes: the service, who uploads (a user
// UID or a PAR id), the drive and the name.
type resumeKey struct{ service, who, drive, name string }

func (g *globals) resumeState(k resumeKey, file string, fi os.FileInfo) (*resumeState, error) {
	dir, err := g.stateDir()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	for _, p := range []string{k.service, k.who, k.drive, k.name, abs, fmt.Sprint(fi.Size()), fmt.Sprint(fi.ModTime().UnixNano())} {
		h.Write([]byte(p))
		h.Write([]byte{'\n'})
	}
	key := hex.EncodeToString(h.Sum(nil)[:16])
	return &resumeState{path: filepath.Join(dir, "uploads", key+".json"), log: g.log.Warn}, nil
}

// stateDir is $XDG_STATE_HOME/acquire, else ~/.local/state/acquire.
func (g *globals) stateDir() (string, error) {
	if d := strings.TrimSpace(g.getenv("XDG_STATE_HOME")); filepath.IsAbs(d) {
		return filepath.Join(d, "acquire"), nil
	}
	home := g.getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("no state folder: set XDG_STATE_HOME or HOME: %w", err)
		}
	}
	return filepath.Join(home, ".local", "state", "acquire"), nil
}

// load returns the remembered upload id, or "".
func (r *resumeState) load() string {
	raw, err := os.ReadFile(r.path)
	if err != nil {
		return ""
	}
	var rec resumeRecord
	if json.Unmarshal(raw, &rec) != nil {
		return ""
	}
	return rec.Upload
}

// save remembers id; failing to is only a lost chance to resume.
func (r *resumeState) save(id string) {
	raw, _ := json.Marshal(resumeRecord{Upload: id})
	if err := os.MkdirAll(filepath.Dir(r.path), 0o700); err != nil {
		r.log("cannot remember the upload for resuming", "err", err)
		return
	}
	tmp := r.path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		r.log("cannot remember the upload for resuming", "err", err)
		return
	}
	if err := os.Rename(tmp, r.path); err != nil {
		r.log("cannot remember the upload for resuming", "err", err)
	}
}

func (r *resumeState) clear() { _ = os.Remove(r.path) }
