package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/storage"
)

const envStorageURL = "ACQUIRE_STORAGE_URL"

// Storage refusals exit like the ledger's (7: the service said no), PAR
// problems like a failed login (3: the link does not authorise), a name
// that cannot be a name like bad usage (2), and a missing or finished
// thing like not found (5).
func init() {
	for _, c := range []string{"QuotaExceededError", "LimitExceededError", "FileTooLargeError"} {
		exitCodes[c] = exitRefused
	}
	for _, c := range []string{"PARExpiredError", "PARRevokedError", "PARInvalidError"} {
		exitCodes[c] = exitAuth
	}
	for _, c := range []string{"FileDeletedError", "UploadExpiredError", "UploadStateError", "UploadIncompleteError", "DriveNotEmptyError"} {
		exitCodes[c] = exitNotFound
	}
	exitCodes["InvalidNameError"] = exitUsage
}

const storageHelp = `

The storage service is --storage, else $` + envStorageURL + `, else the identity
service's URL with its last path segment replaced by "storage". Calls are
signed with the saved session (see 'acquire user login'); PAR links ('acquire
par get|put') need no login.

Besides the exit codes listed in 'acquire --help', these commands exit 7 when
the service refuses: AccessDeniedError (the drive's ACL),
QuotaExceededError (the drive's size limit), LimitExceededError,
FileTooLargeError; 3 on PARExpiredError, PARRevokedError, PARInvalidError; 5 on
FileDeletedError, a finished or expired upload and DriveNotEmptyError (a drive
to delete that holds files or sub-drives); 2 on InvalidNameError (a
name that climbs out of its drive, e.g. "../x").`

// storageFlags are the flags every storage command shares.
type storageFlags struct {
	storageURL string
	username   string
}

func (sf *storageFlags) add(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&sf.storageURL, "storage", "", "storage service URL (default $"+envStorageURL+", else derived from the identity URL)")
	pf.StringVarP(&sf.username, "username", "u", "", "use this user's saved session (default: the last one logged in)")
}

// storageSession is the typed client and the saved session.
type storageSession struct {
	c *storage.Client
	s *identity.Session
}

func (g *globals) storage(sf *storageFlags) (*storageSession, error) {
	id, s, err := g.session(sf.username)
	if err != nil {
		return nil, err
	}
	u, err := g.storageURL(sf, id.URL)
	if err != nil {
		return nil, err
	}
	c, err := g.callClient()
	if err != nil {
		return nil, err
	}
	return &storageSession{c: &storage.Client{C: c, URL: u}, s: s}, nil
}

func (g *globals) storageURL(sf *storageFlags, identityURL string) (string, error) {
	u := strings.TrimSpace(sf.storageURL)
	if u == "" {
		u = strings.TrimSpace(g.getenv(envStorageURL))
	}
	if u == "" {
		var err error
		if u, err = siblingURL(identityURL, storage.Kind); err != nil {
			return "", err
		}
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return "", usagef("storage service URL %q must start with http:// or https://", u)
	}
	return u, nil
}

// storageCall runs one control call under --timeout with the saved session.
func storageCall[T any](g *globals, cmd *cobra.Command, sf *storageFlags, fn func(context.Context, *storageSession) (T, error)) (T, error) {
	var zero T
	st, err := g.storage(sf)
	if err != nil {
		return zero, err
	}
	ctx, cancel := g.callContext(cmd)
	defer cancel()
	out, err := fn(ctx, st)
	if err != nil {
		return zero, g.closedRemotely(st.s, err)
	}
	return out, nil
}

// transferContext is a transfer's context: not bounded by --timeout (a
// large file takes as long as it takes; each call and chunk has its own
// limit), only by Ctrl-C.
func transferContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
