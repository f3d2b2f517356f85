// Package fnfdk is the Fn entry point: Acquire's own implementation of the
// contract between the Fn agent and a function's container (what Fn's
// function development kits implement), written from Fn's documentation
// and the agent's behaviour, since Fn's Go modules are not used here.
//
// The contract, as this package meets it:
//
//   - The agent names a unix socket in FN_LISTENER ("unix:/tmp/iofs/lsnr.sock")
//     and FN_FORMAT is "http-stream" (or unset). The function listens on a
//     socket of its own, private name in the same folder, makes it
//     world-writable (the agent connects as another user) and then
//     symlinks it to the named path: the agent waits for that name, so it
//     never connects to a socket that is not yet accepting.
//   - Each call is an HTTP POST to /call over that socket, carrying
//     Fn-Call-Id and Fn-Deadline (RFC 3339). A call from an HTTP trigger
//     also carries Fn-Intent: httprequest, Fn-Http-Method,
//     Fn-Http-Request-Url and the client's headers as Fn-Http-H-<name>
//     (Content-Type passes as itself).
//   - The function answers 200 with the client's answer encapsulated:
//     Fn-Http-Status and Fn-Http-H-<name> (Content-Type as itself), plus
//     Fn-Fdk-Version and Fn-Fdk-Runtime. 502 says the call failed and the
//     container may go on; 504 says the deadline passed. Any other status
//     makes the agent discard the container.
//   - FN_LOGFRAME_NAME and FN_LOGFRAME_HDR ask for a line
//     "<name>=<value of that header>" on stdout and stderr before each
//     call, so the agent can split the logs by call.
package fnfdk

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
)

// The environment the Fn agent gives a function.
const (
	EnvListener     = "FN_LISTENER"
	EnvFormat       = "FN_FORMAT"
	EnvLogFrameName = "FN_LOGFRAME_NAME"
	EnvLogFrameHdr  = "FN_LOGFRAME_HDR"
	// FormatHTTPStream is the only format Fn's agent still speaks.
	FormatHTTPStream = "http-stream"
)

// ErrListener is returned for a missing or malformed FN_LISTENER.
var ErrListener = errors.New("fnfdk: " + EnvListener + " must be unix:<absolute socket path> (the Fn agent sets it)")

// ErrFormat is returned when FN_FORMAT names a format other than http-stream.
var ErrFormat = errors.New("fnfdk: only the " + FormatHTTPStream + " format is served")

// maxSocketPath is the longest path a unix socket may have on Linux
// (sun_path holds 108 bytes including the terminating NUL).
const maxSocketPath = 107

// SocketPath reads the socket's path from FN_LISTENER and checks FN_FORMAT.
func SocketPath(listener, format string) (string, error) {
	if format != "" && format != FormatHTTPStream {
		return "", fmt.Errorf("%w (got %q)", ErrFormat, format)
	}
	u, err := url.Parse(listener)
	if err != nil || u.Scheme != "unix" || u.Host != "" || !filepath.IsAbs(u.Path) || filepath.Clean(u.Path) != u.Path {
		return "", ErrListener
	}
	if len(privateName(u.Path)) > maxSocketPath {
		return "", fmt.Errorf("%w: the path is longer than a unix socket allows", ErrListener)
	}
	return u.Path, nil
}

// privateName is where the socket is made before it is linked into place:
// the same folder (the link is relative), a name the agent never waits for.
func privateName(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".private")
}

// Listen makes the socket at its private name, lets any user connect, and
// links it into place at path. A socket or link left at either name by an
// earlier process of this container is replaced. The returned listener
// removes both names when closed.
func Listen(path string) (net.Listener, error) {
	private := privateName(path)
	for _, p := range []string{private, path} {
		if err := removeStale(p); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("unix", private)
	if err != nil {
		return nil, fmt.Errorf("fnfdk: listen: %w", err)
	}
	// The agent runs as another user than the function: it must be able
	// to connect. Only the agent's mount of this folder reaches it.
	if err := os.Chmod(private, 0o666); err != nil { //nolint:gosec // G302: the agent connects as another user
		_ = ln.Close()
		return nil, fmt.Errorf("fnfdk: socket permissions: %w", err)
	}
	if err := os.Symlink(filepath.Base(private), path); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("fnfdk: link the socket into place: %w", err)
	}
	return &linkedListener{Listener: ln, link: path}, nil
}

// removeStale removes a leftover socket or symlink, and refuses to remove
// anything else (a regular file or folder at the name is a misconfiguration,
// not ours to delete).
func removeStale(p string) error {
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fnfdk: %w", err)
	}
	if fi.Mode()&(os.ModeSocket|os.ModeSymlink) == 0 {
		return fmt.Errorf("fnfdk: %s exists and is not a socket or link", p)
	}
	return os.Remove(p)
}

type linkedListener struct {
	net.Listener
	link string
}

func (l *linkedListener) Close() error {
	err := l.Listener.Close() // removes the private socket file
	if rerr := os.Remove(l.link); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}
