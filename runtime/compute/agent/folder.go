package agent

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Job folders: WorkDir/acquire-job-<random>, each beside a lock file of the
// same name plus ".lock" that its agent holds (flock) for as long as the
// folder exists. The lock is taken before the folder is made and dropped
// after it is removed, so a folder whose lock a sweep can take belongs to
// an agent that died without cleaning up (SIGKILL, a crash): its inputs,
// outputs and logs would otherwise stay on disk for good.
const (
	folderPrefix = "acquire-job-"
	lockSuffix   = ".lock"
	// maxSweep bounds the folders one sweep removes.
	maxSweep = 1000
)

// newJobFolder makes a job's folder and answers its release, which
// removes it (and then its lock).
func newJobFolder(workDir string) (string, func(), error) {
	var err error
	for range folderAttempts {
		var lf *os.File
		lf, err = os.CreateTemp(workDir, folderPrefix+"*"+lockSuffix)
		if err != nil {
			return "", nil, err
		}
		var unlock func()
		unlock, err = holdLock(lf)
		if err == nil && !stillNamed(lf) {
			unlock()
			err = errors.New("agent: a sweep removed a new job folder's lock")
		}
		if err != nil {
			// A sweep took the new lock first: take another name.
			_ = lf.Close()
			continue
		}
		dir := strings.TrimSuffix(lf.Name(), lockSuffix)
		release := func() {
			_ = os.RemoveAll(dir)
			_ = os.Remove(lf.Name())
			unlock()
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			release()
			return "", nil, err
		}
		return dir, release, nil
	}
	return "", nil, err
}

// folderAttempts bounds the names newJobFolder tries.
const folderAttempts = 3

// sweepFolders removes the job folders in workDir whose agents died
// without removing them (their locks are free), with their lock files,
// and answers how many it removed. Where locks are not supported it
// removes nothing.
func sweepFolders(workDir string) (int, error) {
	entries, err := os.ReadDir(workDir)
	if err != nil {
		return 0, err
	}
	removed := 0
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if removed == maxSweep || len(errs) == maxSweep {
			break
		}
		if e.IsDir() || !strings.HasPrefix(name, folderPrefix) || !strings.HasSuffix(name, lockSuffix) {
			continue
		}
		gone, err := removeIfAbandoned(filepath.Join(workDir, name))
		if err != nil {
			errs = append(errs, err)
		}
		if gone {
			removed++
		}
	}
	return removed, errors.Join(errs...)
}

// removeIfAbandoned removes the folder of lock file path, and then the
// lock file, if nobody holds the lock.
func removeIfAbandoned(path string) (bool, error) {
	lf, err := os.OpenFile(path, os.O_RDWR, 0) //nolint:gosec // a name listed in the work folder
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // removed meanwhile by its agent or another sweep
	} else if err != nil {
		return false, err
	}
	defer func() { _ = lf.Close() }()
	unlock, ok := tryLock(lf)
	if !ok {
		return false, nil
	}
	defer unlock()
	if err := os.RemoveAll(strings.TrimSuffix(path, lockSuffix)); err != nil {
		return false, err
	}
	_ = os.Remove(path)
	return true, nil
}

// stillNamed: f is still the file at its name (a sweep that took its lock
// first may have removed it, and a lock on a removed file guards nothing).
func stillNamed(f *os.File) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(f.Name())
	return err == nil && os.SameFile(a, b)
}
