package host

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/store"
)

// AdminPath is where the admin API is served.
const AdminPath = "/_admin/v1"

const deploymentsPrefix = "host/deployments/"

// deployed is one running deployment.
type deployed struct {
	rec   *record
	inner *Host // nil when it could not be opened (rec kept, err says why)
	err   error
	// use is held shared by each request (and sweep) on inner, and
	// exclusively by retire: an instance replaced by an update or removed
	// is closed only after the calls in flight on it have finished.
	use     sync.RWMutex
	retired bool // guarded by use
}

// retire closes d's instance once no request uses it. Nil-safe.
func (d *deployed) retire() {
	if d == nil || d.inner == nil {
		return
	}
	d.use.Lock()
	defer d.use.Unlock()
	if !d.retired {
		d.retired = true
		d.inner.Close()
	}
}

// enter holds d for one request; false when it was retired meanwhile.
func (d *deployed) enter() bool {
	d.use.RLock()
	if d.retired {
		d.use.RUnlock()
		return false
	}
	return true
}

// deployments are the services deployed through the admin API.
type deployments struct {
	state *store.Bucket // the records; a sub-store "host" of the host's store
	ops   sync.Mutex    // one admin operation at a time: they are rare and slow
	mu    sync.RWMutex  // guards live, read by every request
	live  map[string]*deployed
}

// startAdmin opens the admin API when a token is configured, and brings
// back the services deployed before a restart.
func (h *Host) startAdmin(ctx context.Context) error {
	if h.cfg.AdminToken == "" {
		return nil
	}
	su, err := SubStoreURL(h.cfg.StoreURL, "host")
	if err != nil {
		return err
	}
	b, err := store.Open(ctx, su)
	if err != nil {
		return err
	}
	h.buckets = append(h.buckets, b)
	h.deploys = &deployments{state: b, live: map[string]*deployed{}}
	if err := h.restore(ctx); err != nil {
		return err
	}
	token := sha256.Sum256([]byte(h.cfg.AdminToken))
	admin := http.NewServeMux()
	admin.HandleFunc("GET "+AdminPath+"/services", h.adminList)
	admin.HandleFunc("GET "+AdminPath+"/services/{name}", h.adminGet)
	admin.HandleFunc("PUT "+AdminPath+"/services/{name}", h.adminPut)
	admin.HandleFunc("DELETE "+AdminPath+"/services/{name}", h.adminDelete)
	admin.HandleFunc("POST "+AdminPath+"/services/{name}/trusted", h.adminTrust)
	admin.HandleFunc("DELETE "+AdminPath+"/services/{name}/trusted", h.adminUntrust)
	admin.HandleFunc("GET "+AdminPath+"/services/{name}/peers", h.adminPeers)
	admin.HandleFunc("POST "+AdminPath+"/services/{name}/peers", h.adminAddPeer)
	admin.HandleFunc("DELETE "+AdminPath+"/services/{name}/peers/{region}", h.adminRemovePeer)
	h.mux.Handle(AdminPath+"/", bearer(token, admin))
	h.mux.HandleFunc("/", h.serveDeployed)
	return nil
}

// bearer admits requests carrying the admin token. The comparison is of
// hashes in constant time; the token is never logged or echoed.
func bearer(want [32]byte, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			writeAdminError(w, call.Errorf(ErrAdminToken, "a valid admin token is required (Authorization: Bearer …)"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// restore opens every recorded deployment. One that fails to open stays
// listed with its error and answers 503, so a store that is down at start
// does not stop the others; deploying it again retries.
func (h *Host) restore(ctx context.Context) error {
	items, err := h.deploys.state.ListAll(ctx, deploymentsPrefix, MaxDeployments)
	if err != nil {
		return err
	}
	for _, it := range items {
		var rec record
		if _, err := h.deploys.state.GetJSON(ctx, it.Key, &rec); err != nil {
			return err
		}
		if h.services[rec.Name] != nil {
			// This host now runs a fixed service under that path, which
			// wins: keep the record listed, unserved, until it is removed.
			err := fmt.Errorf("the fixed %s service of this host serves /%s", rec.Name, rec.Name)
			h.cfg.Logger.Error("deployed service not opened", "deployment", rec.Name, "err", err)
			h.deploys.live[rec.Name] = &deployed{rec: &rec, err: err}
			continue
		}
		inner, err := h.instance(ctx, &rec)
		if err != nil {
			h.cfg.Logger.Error("deployed service did not open", "deployment", rec.Name, "err", err)
		}
		h.deploys.live[rec.Name] = &deployed{rec: &rec, inner: inner, err: err}
	}
	return nil
}

// enterAttempts bounds how often a request looks a deployment up again
// after finding the instance it looked up retired (updated meanwhile).
const enterAttempts = 3

// serveDeployed routes /<name>[/...] to a deployed service.
func (h *Host) serveDeployed(w http.ResponseWriter, r *http.Request) {
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	for range enterAttempts {
		d := h.lookup(name)
		if d == nil {
			http.NotFound(w, r)
			return
		}
		if d.inner == nil {
			http.Error(w, "service unavailable: it could not open its store", http.StatusServiceUnavailable)
			return
		}
		if !d.enter() {
			continue // replaced while we looked: the new instance serves
		}
		defer d.use.RUnlock()
		h.forward(w, r, d, rest)
		return
	}
	http.Error(w, "service busy: it is being redeployed; retry", http.StatusServiceUnavailable)
}

// forward serves r on d's instance, at its kind's path.
func (h *Host) forward(w http.ResponseWriter, r *http.Request, d *deployed, rest string) {
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + d.rec.Spec.Kind
	if rest != "" {
		r2.URL.Path += "/" + rest
	}
	r2.URL.RawPath = ""
	d.inner.Handler().ServeHTTP(w, r2)
}

func (h *Host) lookup(name string) *deployed {
	if h.deploys == nil {
		return nil
	}
	h.deploys.mu.RLock()
	defer h.deploys.mu.RUnlock()
	return h.deploys.live[name]
}

func (h *Host) deployedURLs() map[string]string {
	out := map[string]string{}
	if h.deploys == nil {
		return out
	}
	h.deploys.mu.RLock()
	defer h.deploys.mu.RUnlock()
	for name := range h.deploys.live {
		out[name] = h.deployedURL(name)
	}
	return out
}

func (h *Host) sweepDeployed(ctx context.Context) {
	if h.deploys == nil {
		return
	}
	h.deploys.mu.RLock()
	all := make([]*deployed, 0, len(h.deploys.live))
	for _, d := range h.deploys.live {
		if d.inner != nil {
			all = append(all, d)
		}
	}
	h.deploys.mu.RUnlock()
	for _, d := range all {
		if d.enter() {
			d.inner.Sweep(ctx)
			d.use.RUnlock()
		}
	}
}

func (h *Host) closeDeployed() {
	if h.deploys == nil {
		return
	}
	h.deploys.mu.Lock()
	all := h.deploys.live
	h.deploys.live = map[string]*deployed{}
	h.deploys.mu.Unlock()
	for _, d := range all {
		d.retire()
	}
}

// swap installs a deployment (nil removes it) and retires what it
// replaced: new calls go to the new instance at once; the old one closes
// when the calls in flight on it have finished.
func (h *Host) swap(name string, d *deployed) {
	h.install(name, d).retire()
}

// install serves d under name (nil: nothing) and answers what it replaced.
func (h *Host) install(name string, d *deployed) *deployed {
	h.deploys.mu.Lock()
	defer h.deploys.mu.Unlock()
	old := h.deploys.live[name]
	if d == nil {
		delete(h.deploys.live, name)
	} else {
		h.deploys.live[name] = d
	}
	return old
}

// Deploy creates or updates the deployment name. Kind and store cannot
// change in place (ErrReplace). The answer carries the first admin's
// authenticator URI once, when it created the admin.
func (h *Host) Deploy(ctx context.Context, name string, spec Spec) (*Status, error) {
	if h.deploys == nil {
		return nil, errors.New("host: the admin API is not enabled")
	}
	if err := spec.check(name); err != nil {
		return nil, err
	}
	if h.services[name] != nil || name == "healthz" {
		return nil, call.Errorf(ErrSpec, "name %q is taken by a service this host runs at start", name)
	}
	h.deploys.ops.Lock()
	defer h.deploys.ops.Unlock()
	prev, ver, err := h.readRecord(ctx, name)
	if err != nil {
		return nil, err
	}
	rec, err := h.nextRecord(name, spec, prev)
	if err != nil {
		return nil, err
	}
	inner, err := h.instance(ctx, rec)
	if err != nil {
		return nil, call.Errorf(ErrSpec, "%s could not open: %s", name, errMessage(err))
	}
	// The new instance serves before it registers: the registry's
	// challenge calls it. On failure the previous one serves again.
	cur := &deployed{rec: rec, inner: inner}
	old := h.install(name, cur)
	created, err := h.finishDeploy(ctx, inner, rec, prev)
	if err == nil {
		// The record is written last: a crash before it leaves the
		// service's store set up and unlisted, and a retry finishes it.
		err = h.writeRecord(ctx, rec, ver)
	}
	if err != nil {
		h.install(name, old)
		cur.retire()
		return nil, err
	}
	old.retire()
	st := h.status(ctx, h.lookup(name))
	st.AdminCreated = created
	return st, nil
}

func (h *Host) finishDeploy(ctx context.Context, inner *Host, rec, prev *record) (*AdminCreated, error) {
	if prev == nil || prev.Spec.RegistryURL != rec.Spec.RegistryURL {
		if err := h.register(ctx, inner, rec); err != nil {
			return nil, err
		}
	}
	created, err := setupAdmin(ctx, inner, rec, prev)
	if rec.Spec.Admin != nil {
		rec.Spec.Admin.Password = "" // never kept
	}
	return created, err
}

// nextRecord is the record a deploy would write: new, or prev with the new
// spec (trust kept: it is managed by its own calls).
func (h *Host) nextRecord(name string, spec Spec, prev *record) (*record, error) {
	now := h.cfg.clock().UTC()
	def, err := SubStoreURL(h.cfg.StoreURL, "svc-"+name)
	if err != nil {
		return nil, err
	}
	if spec.StoreURL == "" {
		spec.StoreURL = def
	}
	if prev != nil {
		if prev.Spec.Kind != spec.Kind || prev.Spec.StoreURL != spec.StoreURL {
			return nil, call.Errorf(ErrReplace, "%s is a %s service on %s; kind and store change only by deleting it and deploying again",
				name, prev.Spec.Kind, prev.Spec.StoreURL)
		}
		return &record{Name: name, StoreDefault: prev.StoreDefault, Spec: spec, Trusted: prev.Trusted, Created: prev.Created, Updated: now}, nil
	}
	if err := h.checkNewStore(name, spec.StoreURL); err != nil {
		return nil, err
	}
	return &record{Name: name, StoreDefault: spec.StoreURL == def, Spec: spec, Created: now, Updated: now}, nil
}

// checkNewStore refuses a store that overlaps the host's own records or
// another deployment's store: deleting one's data must never touch another's.
func (h *Host) checkNewStore(name, su string) error {
	hostState, _ := SubStoreURL(h.cfg.StoreURL, "host")
	if overlaps(su, hostState) || storeScope(su) == storeScope(h.cfg.StoreURL) {
		return call.Errorf(ErrSpec, "store_url %s overlaps the host's own store", su)
	}
	h.deploys.mu.RLock()
	defer h.deploys.mu.RUnlock()
	if len(h.deploys.live) >= MaxDeployments {
		return call.Errorf(ErrSpec, "this host runs %d deployments, the most it takes", MaxDeployments)
	}
	for other, d := range h.deploys.live {
		if other != name && overlaps(su, d.rec.Spec.StoreURL) {
			return call.Errorf(ErrSpec, "store_url %s overlaps the store of deployment %q", su, other)
		}
	}
	return nil
}

func (h *Host) readRecord(ctx context.Context, name string) (*record, store.Version, error) {
	var rec record
	v, err := h.deploys.state.GetJSON(ctx, deploymentsPrefix+name, &rec)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	return &rec, v, nil
}

func (h *Host) writeRecord(ctx context.Context, rec *record, ver store.Version) error {
	var err error
	if ver == "" {
		_, err = h.deploys.state.PutJSONIfAbsent(ctx, deploymentsPrefix+rec.Name, rec)
	} else {
		_, err = h.deploys.state.PutJSONIfVersion(ctx, deploymentsPrefix+rec.Name, rec, ver)
	}
	if errors.Is(err, store.ErrPrecondition) {
		return call.Errorf(call.ErrBusy, "deployment %s changed meanwhile (another host on this store?); retry", rec.Name)
	}
	return err
}

// Undeploy removes a deployment: its record first, then the running
// service. Its data stays unless deleteData, so money and identities are
// never destroyed by accident; with deleteData every object of its store
// is deleted.
func (h *Host) Undeploy(ctx context.Context, name string, deleteData bool) error {
	if h.deploys == nil {
		return errors.New("host: the admin API is not enabled")
	}
	if !namePattern.MatchString(name) {
		return call.Errorf(ErrNoDeployment, "no deployment %q on this host", name)
	}
	h.deploys.ops.Lock()
	defer h.deploys.ops.Unlock()
	rec, ver, err := h.readRecord(ctx, name)
	if err != nil {
		return err
	}
	if rec == nil {
		return call.Errorf(ErrNoDeployment, "no deployment %q on this host", name)
	}
	if err := h.deploys.state.DeleteIfVersion(ctx, deploymentsPrefix+name, ver); err != nil {
		return err
	}
	h.swap(name, nil)
	if deleteData {
		return deleteAll(ctx, rec.Spec.StoreURL)
	}
	return nil
}

// deleteAll deletes every object of a store, page by page.
func deleteAll(ctx context.Context, storeURL string) error {
	b, err := store.Open(ctx, storeURL)
	if err != nil {
		return err
	}
	defer func() { _ = b.Close() }()
	for {
		page, err := b.List(ctx, "", "", store.MaxPageSize)
		if err != nil {
			return err
		}
		for _, it := range page.Items {
			if err := b.Delete(ctx, it.Key); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
	}
}

// SetTrust adds (or with trusted false removes) a service URL the
// deployment trusts to act in its own name, and reopens the deployment
// with it.
func (h *Host) SetTrust(ctx context.Context, name, serviceURL string, trusted bool) (*Status, error) {
	if h.deploys == nil {
		return nil, errors.New("host: the admin API is not enabled")
	}
	if !namePattern.MatchString(name) {
		return nil, call.Errorf(ErrNoDeployment, "no deployment %q on this host", name)
	}
	u, err := registry.CanonicalURL(serviceURL)
	if err != nil {
		return nil, call.Errorf(ErrSpec, "trusted url: %s", errMessage(err))
	}
	h.deploys.ops.Lock()
	defer h.deploys.ops.Unlock()
	prev, ver, err := h.readRecord(ctx, name)
	if err != nil {
		return nil, err
	}
	if prev == nil {
		return nil, call.Errorf(ErrNoDeployment, "no deployment %q on this host", name)
	}
	rec := *prev
	rec.Trusted = slices.DeleteFunc(slices.Clone(prev.Trusted), func(s string) bool { return s == u })
	if trusted {
		if len(rec.Trusted) >= MaxTrusted {
			return nil, call.Errorf(ErrSpec, "%s trusts %d services, the most it takes", name, MaxTrusted)
		}
		rec.Trusted = append(rec.Trusted, u)
		slices.Sort(rec.Trusted)
	}
	rec.Updated = h.cfg.clock().UTC()
	inner, err := h.instance(ctx, &rec)
	if err != nil {
		return nil, err
	}
	if err := h.writeRecord(ctx, &rec, ver); err != nil {
		inner.Close()
		return nil, err
	}
	h.swap(name, &deployed{rec: &rec, inner: inner})
	return h.status(ctx, h.lookup(name)), nil
}

// Deployment answers the status of one deployment.
func (h *Host) Deployment(ctx context.Context, name string) (*Status, error) {
	d := h.lookup(name)
	if d == nil {
		return nil, call.Errorf(ErrNoDeployment, "no deployment %q on this host", name)
	}
	return h.status(ctx, d), nil
}

// Deployments lists every deployment, by name.
func (h *Host) Deployments(ctx context.Context) []*Status {
	if h.deploys == nil {
		return nil
	}
	h.deploys.mu.RLock()
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range h.deploys.live {
			if !yield(n) {
				return
			}
		}
	})
	h.deploys.mu.RUnlock()
	out := make([]*Status, 0, len(names))
	for _, n := range names {
		if d := h.lookup(n); d != nil {
			out = append(out, h.status(ctx, d))
		}
	}
	return out
}

func (h *Host) status(ctx context.Context, d *deployed) *Status {
	s := d.rec.Spec
	st := &Status{Name: d.rec.Name, Kind: s.Kind, URL: h.deployedURL(d.rec.Name), StoreURL: s.StoreURL, StoreDefault: d.rec.StoreDefault, RegistryURL: s.RegistryURL,
		Settings: s.Settings, Trusted: d.rec.Trusted, Created: d.rec.Created, Updated: d.rec.Updated}
	if a := s.Admin; a != nil {
		st.Admin = &AdminStatus{Username: a.Username, PasswordVersion: a.PasswordVersion, IdentityURL: a.IdentityURL, UserUID: a.UserUID}
	}
	if d.inner == nil {
		st.Error = errMessage(d.err)
		return st
	}
	if !d.enter() {
		st.Error = "being redeployed"
		return st
	}
	defer d.use.RUnlock()
	svc := d.inner.Service(s.Kind)
	if keys, err := svc.PublicKeys(ctx); err == nil && len(keys.Generations) > 0 {
		newest := keys.Generations[len(keys.Generations)-1]
		st.UID, st.KeyFingerprint, st.CertFingerprint = keys.UID, newest.KeyFingerprint, newest.CertFingerprint
	} else if err != nil {
		st.Error = errMessage(err)
	}
	return st
}

func (h *Host) adminList(w http.ResponseWriter, r *http.Request) {
	writeAdminJSON(w, http.StatusOK, map[string]any{"services": h.Deployments(r.Context())})
}

func (h *Host) adminGet(w http.ResponseWriter, r *http.Request) {
	st, err := h.Deployment(r.Context(), r.PathValue("name"))
	if err != nil {
		writeAdminError(w, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, st)
}

func (h *Host) adminPut(w http.ResponseWriter, r *http.Request) {
	var spec Spec
	if err := readAdminJSON(w, r, &spec); err != nil {
		writeAdminError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), DeployTimeout)
	defer cancel()
	st, err := h.Deploy(ctx, r.PathValue("name"), spec)
	if err != nil {
		writeAdminError(w, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, st)
}

func (h *Host) adminDelete(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), DeployTimeout)
	defer cancel()
	if err := h.Undeploy(ctx, r.PathValue("name"), r.URL.Query().Get("delete_data") == "true"); err != nil {
		writeAdminError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// trustArgs names the trusted service.
type trustArgs struct {
	URL string `json:"url"`
}

func (h *Host) adminTrust(w http.ResponseWriter, r *http.Request) { h.adminSetTrust(w, r, true) }

func (h *Host) adminUntrust(w http.ResponseWriter, r *http.Request) { h.adminSetTrust(w, r, false) }

func (h *Host) adminSetTrust(w http.ResponseWriter, r *http.Request, trusted bool) {
	var a trustArgs
	if err := readAdminJSON(w, r, &a); err != nil {
		writeAdminError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), DeployTimeout)
	defer cancel()
	st, err := h.SetTrust(ctx, r.PathValue("name"), a.URL, trusted)
	if err != nil {
		writeAdminError(w, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, st)
}

func readAdminJSON(w http.ResponseWriter, r *http.Request, into any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxAdminBodyBytes))
	if err != nil {
		return call.Errorf(call.ErrTooLarge, "request body over %d bytes", MaxAdminBodyBytes)
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return call.Errorf(ErrSpec, "request body: %s", err)
	}
	return nil
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeAdminError answers a typed error; an untyped one is answered as
// internal with its message, which never holds a secret (none is put in
// an error on this path).
func writeAdminError(w http.ResponseWriter, err error) {
	var ce *call.Error
	if !errors.As(err, &ce) {
		ce = call.Errorf(call.ErrInternal, "%s", err)
	}
	status := http.StatusUnprocessableEntity
	switch ce.Class {
	case ErrSpec.Class, call.ErrBadArguments.Class, call.ErrTooLarge.Class:
		status = http.StatusBadRequest
	case ErrAdminToken.Class:
		status = http.StatusUnauthorized
	case ErrNoDeployment.Class:
		status = http.StatusNotFound
	case ErrReplace.Class, call.ErrBusy.Class, call.ErrExists.Class:
		status = http.StatusConflict
	case call.ErrInternal.Class:
		status = http.StatusInternalServerError
	}
	writeAdminJSON(w, status, ce)
}
