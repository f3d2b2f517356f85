package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/adapters/azure/blobstore"
	"github.com/openacquire/acquire/adapters/gcp/gcsstore"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/identity"
)

type hostFlags struct {
	storeURL, addr, publicURL, services, secretFile, admin string
	adminTokenFile                                         string
	jobLeaseS, sessionLifeS, sweepIntervalS                int
	trustedIdentities                                      []string
	settlementPeers                                        []string
}

func newHostCmd(g *globals) *cobra.Command {
	var f hostFlags
	cmd := &cobra.Command{
		Use:   "host",
		Short: "Serve Acquire services over HTTP from one process (the local platform)",
		Long: `Serve a set of Acquire services over HTTP on one port, with all state in one
store (a local folder by default). Each service lives at <public-url>/<kind>;
GET /healthz answers when the host is up. SIGINT or SIGTERM shut it down
gracefully: calls in flight finish first.

The service secret unlocks the services' private keys in the store. It is read
from ACQUIRE_SERVICE_SECRET, else from --secret-file; for a local folder store
with neither, a random secret is made once and kept (mode 0600) in the store
folder's host.secret.

--admin NAME makes NAME the first admin of the identity service (and of the
accounting, access and compute services on this host). If NAME is not
registered yet, it is created with the password in ACQUIRE_ADMIN_PASSWORD and
its authenticator URI and recovery codes are written (mode 0600) to
admin-NAME.txt in the store folder; they are never logged.

The admin API (<public-url>/_admin/v1) deploys, updates and removes services
on this host at runtime, each under its own name; the Terraform provider's
local platform uses it. Its bearer token is read from ACQUIRE_HOST_TOKEN, else
from --admin-token-file (default: admin.token in a local store folder, made
once with mode 0600). With neither (a cloud store and no file), the admin API
is off. --services none serves only what is deployed through it.`,
		Example: `  acquire host
  acquire host --store file:///var/lib/acquire --addr 127.0.0.1:9000
  ACQUIRE_ADMIN_PASSWORD=... acquire host --admin alice
  acquire host --services none     # every service comes through the admin API`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := compute.CheckLease(time.Duration(f.jobLeaseS) * time.Second); err != nil {
				return usagef("--job-lease-s: %v", err)
			}
			if f.sweepIntervalS < 1 || f.sweepIntervalS > 3600 {
				return usagef("--sweep-interval-s %d: want 1 to 3600", f.sweepIntervalS)
			}
			if err := identity.CheckSessionLife(time.Duration(f.sessionLifeS) * time.Second); err != nil {
				return usagef("--session-life-s: %v", err)
			}
			if _, err := auth.ParseTrustedIdentities(strings.Join(f.trustedIdentities, ",")); err != nil {
				return usagef("--trusted-identity: %v", err)
			}
			oversubscribe(g.getenv)
			return runHost(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.storeURL, "store", defaultStoreURL(), "store URL: file:///dir, mem://name, s3://bucket?region=…, gs://bucket, azblob://container?account=…")
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fl.StringVar(&f.publicURL, "public-url", "", "base URL clients use (default http://<addr>)")
	fl.StringVar(&f.services, "services", strings.Join(host.Kinds, ","), "comma-separated service kinds to serve, or none")
	fl.StringVar(&f.adminTokenFile, "admin-token-file", "", "file holding the admin API's token (default: admin.token in a local store folder)")
	fl.StringVar(&f.secretFile, "secret-file", "", "file holding the service secret")
	fl.StringVar(&f.admin, "admin", "", "username of the identity service's first admin")
	fl.StringArrayVar(&f.trustedIdentities, "trusted-identity", nil,
		"URL of another identity service whose users may act here (repeatable; this host's own is always trusted, no other by default)")
	fl.StringArrayVar(&f.settlementPeers, "settlement-peer", nil,
		"URL of another region's accounting service to settle cross-region transfers with (repeatable; both sides must name each other)")
	fl.IntVar(&f.jobLeaseS, "job-lease-s", int(compute.DefaultLease/time.Second),
		"seconds a compute claim or heartbeat holds a job: how soon a dead agent's job runs again")
	fl.IntVar(&f.sessionLifeS, "session-life-s", int(identity.SessionTTL/time.Second),
		"seconds an identity session lasts once approved (60 to 86400; deployed identity services take it unless their session_life_s setting says)")
	fl.IntVar(&f.sweepIntervalS, "sweep-interval-s", int(host.SweepInterval/time.Second),
		"seconds between the host's sweeps: provisional transfers past receipt-by expire, cross-region transfers in flight are finished (1 to 3600)")
	return cmd
}

func defaultStoreURL() string {
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".local", "share")
	}
	return "file://" + filepath.Join(dir, "acquire")
}

// registerCloudStores lets store URLs name the clouds' stores: s3://, gs://
// and azblob:// (credentials from each cloud's own chain).
func registerCloudStores() {
	s3store.Register()
	gcsstore.Register()
	blobstore.Register()
}

func runHost(ctx context.Context, out io.Writer, f hostFlags) error {
	registerCloudStores()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	secret, err := hostSecret(f)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	if f.publicURL == "" {
		f.publicURL = "http://" + ln.Addr().String()
	}
	token, tokenFrom, err := adminToken(f)
	if err != nil {
		_ = ln.Close()
		return err
	}
	trusted, _ := auth.ParseTrustedIdentities(strings.Join(f.trustedIdentities, ",")) // checked in RunE
	h, err := host.New(ctx, host.Config{Kinds: strings.Split(f.services, ","), NoServices: f.services == "none", StoreURL: f.storeURL,
		PublicURL: f.publicURL, Secret: secret, Logger: slog.Default(), AdminToken: token, JobLease: time.Duration(f.jobLeaseS) * time.Second,
		SweepInterval: time.Duration(f.sweepIntervalS) * time.Second,
		SessionLife:   time.Duration(f.sessionLifeS) * time.Second, TrustedIdentities: trusted, SettlementPeers: f.settlementPeers})
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer h.Close()
	served := make(chan error, 1)
	go func() { served <- h.Serve(ctx, ln) }()
	if err := startup(ctx, out, h, f, tokenFrom); err != nil {
		stop()
		<-served //nolint:errcheck // the startup error is the one to report
		return err
	}
	err = <-served
	fmt.Fprintln(out, "acquire host stopped")
	return err
}

// startup registers the services, sets up the first admin and prints
// where everything is.
func startup(ctx context.Context, out io.Writer, h *host.Host, f hostFlags, tokenFrom string) error {
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := h.Register(rctx); err != nil {
		return err
	}
	if f.admin != "" {
		if err := setupAdmin(rctx, out, h, f); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "acquire host listening on %s (store %s)\n", f.publicURL, f.storeURL)
	for _, kind := range host.Kinds {
		if svc := h.Service(kind); svc != nil {
			info, _ := svc.Info(ctx)
			uid := ""
			if info != nil {
				uid = info.UID
			}
			fmt.Fprintf(out, "  %-10s %s  uid=%s\n", kind, svc.URL(), uid)
		}
	}
	for _, st := range h.Deployments(ctx) {
		fmt.Fprintf(out, "  %-10s %s  kind=%s uid=%s\n", st.Name, st.URL, st.Kind, st.UID)
	}
	if tokenFrom != "" {
		fmt.Fprintf(out, "  admin API  %s%s  (token from %s)\n", strings.TrimRight(f.publicURL, "/"), host.AdminPath, tokenFrom)
	}
	fmt.Fprintf(out, "  health     %s/healthz\nready; Ctrl-C stops\n", strings.TrimRight(f.publicURL, "/"))
	return nil
}

func setupAdmin(ctx context.Context, out io.Writer, h *host.Host, f hostFlags) error {
	if h.Identity == nil {
		return errors.New("--admin needs the identity service")
	}
	if err := h.Identity.MakeAdmin(ctx, f.admin); errors.Is(err, identity.ErrUnknownUser) {
		if err := createAdmin(ctx, out, h, f); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	return grantOtherServices(ctx, h, f.admin)
}

// createAdmin registers the first admin from ACQUIRE_ADMIN_PASSWORD.
func createAdmin(ctx context.Context, out io.Writer, h *host.Host, f hostFlags) error {
	pw := os.Getenv("ACQUIRE_ADMIN_PASSWORD")
	if pw == "" {
		return fmt.Errorf("user %q does not exist yet: set ACQUIRE_ADMIN_PASSWORD to create it", f.admin)
	}
	res, err := h.Identity.CreateUser(ctx, f.admin, pw)
	if err != nil {
		return err
	}
	if err := h.Identity.MakeAdmin(ctx, f.admin); err != nil {
		return err
	}
	path, err := writeAdminFile(f.storeURL, res)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "created admin %q; its authenticator URI and recovery codes are in %s\n", f.admin, path)
	return nil
}

// grantOtherServices makes the identity admin an admin of this host's
// other services too.
func grantOtherServices(ctx context.Context, h *host.Host, username string) error {
	if h.Accounting == nil && h.Access == nil && h.Compute == nil {
		return nil
	}
	uid, err := h.Identity.UserUID(ctx, username)
	if err != nil {
		return err
	}
	if h.Accounting != nil {
		if err := h.Accounting.AddAdmin(ctx, h.ServiceURL(identity.Kind), uid); err != nil {
			return err
		}
	}
	if h.Access != nil {
		if err := h.Access.AddAdmin(ctx, h.ServiceURL(identity.Kind), uid); err != nil {
			return err
		}
	}
	if h.Compute != nil {
		return h.Compute.AddAdmin(ctx, h.ServiceURL(identity.Kind), uid)
	}
	return nil
}

func writeAdminFile(storeURL string, res *identity.RegisterResult) (string, error) {
	dir := localStoreDir(storeURL)
	if dir == "" {
		dir = "."
	}
	path := filepath.Join(dir, "admin-"+res.Username+".txt")
	body := fmt.Sprintf("user: %s\nuser_uid: %s\notpauth: %s\nrecovery codes:\n  %s\n", res.Username, res.UserUID,
		res.ProvisioningURI, strings.Join(res.RecoveryCodes, "\n  "))
	// The username passed the identity service's pattern ([a-z0-9._-]) when
	// the user was created, so it cannot leave the folder.
	return path, os.WriteFile(path, []byte(body), 0o600) //nolint:gosec // see above
}

// hostSecret finds the service secret without ever printing it.
func hostSecret(f hostFlags) (string, error) {
	if s := os.Getenv("ACQUIRE_SERVICE_SECRET"); s != "" {
		return s, nil
	}
	if f.secretFile != "" {
		b, err := os.ReadFile(f.secretFile)
		return strings.TrimSpace(string(b)), err
	}
	dir := localStoreDir(f.storeURL)
	if dir == "" {
		if strings.HasPrefix(f.storeURL, "mem://") {
			return "in-memory-" + randomHex(16), nil
		}
		return "", errors.New("set ACQUIRE_SERVICE_SECRET or --secret-file for a non-local store")
	}
	return localSecret(filepath.Join(dir, "host.secret"))
}

// adminToken finds the admin API's token and says where it came from
// (never what it is): ACQUIRE_HOST_TOKEN, --admin-token-file, or
// admin.token in a local store folder, made on first use. No token turns
// the admin API off.
func adminToken(f hostFlags) (token, from string, err error) {
	if s := os.Getenv("ACQUIRE_HOST_TOKEN"); s != "" {
		return s, "ACQUIRE_HOST_TOKEN", nil
	}
	path := f.adminTokenFile
	if path == "" {
		dir := localStoreDir(f.storeURL)
		if dir == "" {
			return "", "", nil
		}
		path = filepath.Join(dir, "admin.token")
	}
	s, err := localSecret(path)
	return s, path, err
}

func localSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	s := randomHex(20) // 40 characters: inside the PKCS#8 passphrase rule (6-50)
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return localSecret(path) // another host made it first
	}
	if err != nil {
		return "", err
	}
	if _, err := fh.WriteString(s + "\n"); err != nil {
		_ = fh.Close()
		return "", err
	}
	return s, fh.Close()
}

func localStoreDir(storeURL string) string {
	if p, ok := strings.CutPrefix(storeURL, "file://"); ok {
		return p
	}
	return ""
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
