package agent

import (
	"fmt"
	"os"
)

// logFile keeps at most max bytes of a stream and notes what it dropped,
// so a chatty job cannot fill the agent's disk.
type logFile struct {
	f       *os.File
	max     int64
	n       int64
	dropped int64
}

func newLog(path string, max int64) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	return &logFile{f: f, max: max}, nil
}

// Write never fails for the writer: a full log drops the rest.
func (l *logFile) Write(p []byte) (int, error) {
	keep := min(int64(len(p)), l.max-l.n)
	if keep > 0 {
		if _, err := l.f.Write(p[:keep]); err != nil {
			return 0, err
		}
		l.n += keep
	}
	l.dropped += int64(len(p)) - max(keep, 0)
	return len(p), nil
}

// Close notes what was dropped and closes the file.
func (l *logFile) Close() error {
	if l.f == nil {
		return nil
	}
	if l.dropped > 0 {
		_, _ = fmt.Fprintf(l.f, "\n[acquire: %d more bytes dropped; logs keep at most %d]\n", l.dropped, l.max)
	}
	err := l.f.Close()
	l.f = nil
	return err
}
