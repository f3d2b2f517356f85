package fnapitest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

var readOnly = []string{"id", "created_at", "updated_at"}

func listOf[T any](items []T) map[string]any {
	if items == nil {
		items = []T{}
	}
	return map[string]any{"items": items}
}

func (s *Server) appsRoute(method, id string, q url.Values, raw []byte) (int, any, *apiError) {
	switch {
	case method == http.MethodGet && id == "":
		var out []App
		for _, a := range s.apps {
			if n := q.Get("name"); n == "" || n == a.Name {
				out = append(out, *a)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return http.StatusOK, listOf(out), nil
	case method == http.MethodPost && id == "":
		var a App
		if err := decode(raw, &a, readOnly...); err != nil {
			return 0, nil, err
		}
		if err := checkName("app", a.Name, appNameRE); err != nil {
			return 0, nil, err
		}
		for _, other := range s.apps {
			if other.Name == a.Name {
				return 0, nil, errf(http.StatusConflict, "App already exists")
			}
		}
		a.ID = s.id("app")
		s.apps[a.ID] = &a
		return http.StatusOK, a, nil
	}
	a, ok := s.apps[id]
	if !ok {
		return 0, nil, errf(http.StatusNotFound, "App not found")
	}
	switch method {
	case http.MethodGet:
		return http.StatusOK, *a, nil
	case http.MethodPut:
		var up App
		if err := decode(raw, &up, readOnly...); err != nil {
			return 0, nil, err
		}
		if up.Name != "" && up.Name != a.Name {
			return 0, nil, errf(http.StatusConflict, "App name is immutable")
		}
		a.Config = merge(a.Config, up.Config)
		return http.StatusOK, *a, nil
	case http.MethodDelete:
		delete(s.apps, id)
		for fid, f := range s.fns {
			if f.AppID == id {
				delete(s.fns, fid)
			}
		}
		for tid, t := range s.triggers {
			if t.AppID == id {
				delete(s.triggers, tid)
			}
		}
		return http.StatusNoContent, nil, nil
	}
	return 0, nil, errf(http.StatusMethodNotAllowed, "Method not allowed")
}

// merge is Fn's configuration update: given keys are set, an empty value
// removes its key.
func merge(have, up map[string]string) map[string]string {
	if have == nil {
		have = map[string]string{}
	}
	for k, v := range up {
		if v == "" {
			delete(have, k)
		} else {
			have[k] = v
		}
	}
	if len(have) == 0 {
		return nil
	}
	return have
}

func checkName(what, name string, re interface{ MatchString(string) bool }) *apiError {
	switch {
	case name == "":
		return errf(http.StatusBadRequest, "Missing %s name", what)
	case len(name) > MaxNameLength:
		return errf(http.StatusBadRequest, "%s name must be %d characters or less", what, MaxNameLength)
	case !re.MatchString(name):
		return errf(http.StatusBadRequest, "Invalid %s name", what)
	}
	return nil
}

type pathSafe struct{}

func (pathSafe) MatchString(s string) bool { return url.PathEscape(s) == s }

func (s *Server) fnsRoute(method, id string, q url.Values, raw []byte) (int, any, *apiError) {
	switch {
	case method == http.MethodGet && id == "":
		if q.Get("app_id") == "" {
			return 0, nil, errf(http.StatusBadRequest, "Missing App ID")
		}
		var out []Fn
		for _, f := range s.fns {
			if f.AppID == q.Get("app_id") && (q.Get("name") == "" || q.Get("name") == f.Name) {
				out = append(out, *f)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return http.StatusOK, listOf(out), nil
	case method == http.MethodPost && id == "":
		var f Fn
		if err := decode(raw, &f, readOnly...); err != nil {
			return 0, nil, err
		}
		if f.Memory == 0 {
			f.Memory = DefaultMemory
		}
		if f.Timeout == 0 {
			f.Timeout = DefaultTimeout
		}
		if f.IdleTimeout == 0 {
			f.IdleTimeout = DefaultTimeout
		}
		if err := s.checkFn(&f); err != nil {
			return 0, nil, err
		}
		for _, other := range s.fns {
			if other.AppID == f.AppID && other.Name == f.Name {
				return 0, nil, errf(http.StatusConflict, "Fn with this name already exists")
			}
		}
		f.ID = s.id("fn")
		s.fns[f.ID] = &f
		return http.StatusOK, f, nil
	}
	f, ok := s.fns[id]
	if !ok {
		return 0, nil, errf(http.StatusNotFound, "Fn not found")
	}
	switch method {
	case http.MethodGet:
		return http.StatusOK, *f, nil
	case http.MethodPut:
		var up Fn
		if err := decode(raw, &up, readOnly...); err != nil {
			return 0, nil, err
		}
		if up.Name != "" && up.Name != f.Name || up.AppID != "" && up.AppID != f.AppID {
			return 0, nil, errf(http.StatusConflict, "Fn name and app are immutable")
		}
		next := *f
		if up.Image != "" {
			next.Image = up.Image
		}
		if up.Memory != 0 {
			next.Memory = up.Memory
		}
		if up.Timeout != 0 {
			next.Timeout = up.Timeout
		}
		if up.IdleTimeout != 0 {
			next.IdleTimeout = up.IdleTimeout
		}
		next.Config = merge(clone(f.Config), up.Config)
		next.Annotations = mergeAnnotations(f.Annotations, up.Annotations)
		if err := s.checkFn(&next); err != nil {
			return 0, nil, err
		}
		*f = next
		return http.StatusOK, *f, nil
	case http.MethodDelete:
		delete(s.fns, id)
		for tid, t := range s.triggers {
			if t.FnID == id {
				delete(s.triggers, tid)
			}
		}
		return http.StatusNoContent, nil, nil
	}
	return 0, nil, errf(http.StatusMethodNotAllowed, "Method not allowed")
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (s *Server) checkFn(f *Fn) *apiError {
	if err := checkName("fn", f.Name, pathSafe{}); err != nil {
		return err
	}
	switch {
	case f.AppID == "":
		return errf(http.StatusBadRequest, "Missing App ID")
	case s.apps[f.AppID] == nil:
		return errf(http.StatusNotFound, "App not found")
	case f.Image == "":
		return errf(http.StatusBadRequest, "Missing image")
	case f.Timeout <= 0 || f.Timeout > MaxTimeoutS:
		return errf(http.StatusBadRequest, "timeout must be between 1 and %d", MaxTimeoutS)
	case f.IdleTimeout <= 0 || f.IdleTimeout > MaxIdleS:
		return errf(http.StatusBadRequest, "idle_timeout must be between 1 and %d", MaxIdleS)
	case f.Memory < 1 || f.Memory > MaxMemoryMB:
		return errf(http.StatusBadRequest, "memory must be between 1 and %d", MaxMemoryMB)
	}
	return checkAnnotations(f.Annotations)
}

// Fn's annotation rules (models/annotations.go): keys of printable ASCII
// without spaces, at most 128 bytes; values any JSON but "" and null, at
// most 512 bytes compacted; at most 100 keys.
var annotationKeyRE = regexp.MustCompile(`^[!-~]+$`)

func checkAnnotations(m map[string]any) *apiError {
	if len(m) > 100 {
		return errf(http.StatusBadRequest, "too many annotation keys")
	}
	for k, v := range m {
		b, _ := json.Marshal(v)
		switch {
		case !annotationKeyRE.MatchString(k) || len(k) > 128:
			return errf(http.StatusBadRequest, "Invalid annotation key %q", k)
		case v == nil || v == "":
			return errf(http.StatusBadRequest, "Invalid annotation value for %q", k)
		case len(b) > 512:
			return errf(http.StatusBadRequest, "annotation value of %q too long", k)
		}
	}
	return nil
}

// mergeAnnotations is Fn's annotation update (Annotations.MergeChange):
// given keys are set, a key sent as "" or null is removed.
func mergeAnnotations(have, up map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range have {
		out[k] = v
	}
	for k, v := range up {
		if v == nil || v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (s *Server) triggersRoute(method, id string, q url.Values, raw []byte) (int, any, *apiError) {
	switch {
	case method == http.MethodGet && id == "":
		if q.Get("app_id") == "" {
			return 0, nil, errf(http.StatusBadRequest, "Missing App ID")
		}
		var out []Trigger
		for _, t := range s.triggers {
			if t.AppID == q.Get("app_id") && (q.Get("fn_id") == "" || q.Get("fn_id") == t.FnID) &&
				(q.Get("name") == "" || q.Get("name") == t.Name) {
				out = append(out, *t)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return http.StatusOK, listOf(out), nil
	case method == http.MethodPost && id == "":
		var t Trigger
		if err := decode(raw, &t, readOnly...); err != nil {
			return 0, nil, err
		}
		if err := s.checkTrigger(&t); err != nil {
			return 0, nil, err
		}
		t.ID = s.id("trigger")
		t.Annotations = s.withEndpoint(t)
		s.triggers[t.ID] = &t
		return http.StatusOK, t, nil
	}
	t, ok := s.triggers[id]
	if !ok {
		return 0, nil, errf(http.StatusNotFound, "Trigger not found")
	}
	switch method {
	case http.MethodGet:
		return http.StatusOK, *t, nil
	case http.MethodDelete:
		delete(s.triggers, id)
		return http.StatusNoContent, nil, nil
	}
	return 0, nil, errf(http.StatusMethodNotAllowed, "Method not allowed")
}

func (s *Server) checkTrigger(t *Trigger) *apiError {
	switch {
	case t.AppID == "":
		return errf(http.StatusBadRequest, "Missing App ID")
	case t.FnID == "":
		return errf(http.StatusBadRequest, "Missing Fn ID")
	case s.apps[t.AppID] == nil:
		return errf(http.StatusNotFound, "App not found")
	case s.fns[t.FnID] == nil || s.fns[t.FnID].AppID != t.AppID:
		return errf(http.StatusBadRequest, "Fn not found in this app")
	case t.Type != "http":
		return errf(http.StatusBadRequest, "Trigger type unknown")
	case t.Source == "":
		return errf(http.StatusBadRequest, "Missing trigger source")
	case !strings.HasPrefix(t.Source, "/"):
		return errf(http.StatusBadRequest, "Missing trigger source prefix '/'")
	}
	if err := checkName("trigger", t.Name, triggerNameRE); err != nil {
		return err
	}
	for _, other := range s.triggers {
		if other.AppID == t.AppID && other.Type == t.Type && other.Source == t.Source {
			return errf(http.StatusConflict, "Trigger with the same type and source exists")
		}
		if other.FnID == t.FnID && other.Name == t.Name {
			return errf(http.StatusConflict, "Trigger already exists")
		}
	}
	return nil
}

// withEndpoint adds the annotation Fn's server answers with each HTTP
// trigger: where it is reached.
func (s *Server) withEndpoint(t Trigger) map[string]any {
	out := map[string]any{}
	for k, v := range t.Annotations {
		out[k] = v
	}
	out["fnproject.io/trigger/httpEndpoint"] = s.URL + "/t/" + s.apps[t.AppID].Name + t.Source
	return out
}

// invoke is the trigger front end: /t/<app>/<source>, exact match.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/t/")
	appName, source, _ := strings.Cut(rest, "/")
	source = "/" + source
	s.mu.Lock()
	var fn *Fn
	for _, t := range s.triggers {
		if a := s.apps[t.AppID]; a != nil && a.Name == appName && t.Source == source {
			if f := s.fns[t.FnID]; f != nil {
				c := *f
				c.Config = clone(f.Config)
				fn = &c
			}
		}
	}
	run := s.Run
	s.mu.Unlock()
	if fn == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Trigger not found"})
		return
	}
	if run == nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"message": "no function runs here"})
		return
	}
	run(*fn, w, r)
}
