package fnapitest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/adapters/azure/blobstore"
	"github.com/openacquire/acquire/adapters/fn/fnfdk"
	"github.com/openacquire/acquire/adapters/functiontest"
	"github.com/openacquire/acquire/adapters/gcp/gcsstore"
	"github.com/openacquire/acquire/runtime/host"
)

// RunFunctions makes the trigger front end serve calls with Acquire's Fn
// entry point in-process: a function's Fn configuration becomes its
// environment, read by host.ConfigFromEnv as the binary reads it, and
// fnfdk.Handler answers the agent's calls, which functiontest.FnAgent
// makes from each client request. A function whose image or configuration
// changed starts afresh, as Fn starts new containers. The image itself is
// not run (the socket and the binary are tested in adapters/fn/fnfdk).
func (s *Server) RunFunctions(tb testing.TB) {
	// As the binary does: Fn's store may be on any cloud.
	s3store.Register()
	gcsstore.Register()
	blobstore.Register()
	var mu sync.Mutex
	running := map[string]*host.Lazy{}
	tb.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range running {
			l.Close()
		}
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Run = func(fn Fn, w http.ResponseWriter, r *http.Request) {
		key := instanceKey(fn)
		mu.Lock()
		l := running[key]
		if l == nil {
			cfg, err := host.ConfigFromEnv(func(k string) string { return fn.Config[k] })
			if err != nil {
				mu.Unlock()
				http.Error(w, "function misconfigured: "+err.Error(), http.StatusBadGateway)
				return
			}
			l = &host.Lazy{Config: cfg}
			running[key] = l
		}
		mu.Unlock()
		app := ""
		s.mu.Lock()
		if a := s.apps[fn.AppID]; a != nil {
			app = a.Name
		}
		s.mu.Unlock()
		functiontest.NewInProcessFnAgent(&fnfdk.Handler{H: l}, app).ServeHTTP(w, r)
	}
}

func instanceKey(fn Fn) string {
	b, _ := json.Marshal([]any{fn.ID, fn.Image, fn.Memory, fn.Config})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
