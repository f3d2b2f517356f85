package service

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/channel"
)

// ServeHTTP takes envelopes by POST. A GET answers the service's public
// keys in clear JSON, for people and health checks.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
	case http.MethodGet:
		s.serveKeys(w, r)
		return
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use POST with an Acquire envelope", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, call.MaxBodyBytes))
	if err != nil {
		reply, _ := call.PackReply(nil, call.WrapError(call.Errorf(call.ErrTooLarge,
			"request body over the %d byte limit", call.MaxBodyBytes)), nil, s.cfg.Clock())
		writeJSON(w, http.StatusRequestEntityTooLarge, reply)
		return
	}
	reply, class := s.Serve(r.Context(), body)
	writeJSON(w, statusOf(class), reply)
}

func (s *Service) serveKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.PublicKeys(r.Context())
	if err != nil {
		e := s.typed(err, "public_keys")
		http.Error(w, e.Error(), http.StatusServiceUnavailable)
		return
	}
	b, _ := json.Marshal(keys)
	writeJSON(w, http.StatusOK, b)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	if channel.IsFrame(body) {
		w.Header().Set("Content-Type", "application/octet-stream")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// statusOf gives proxies and logs an HTTP status; clients read the body.
func statusOf(class string) int {
	switch class {
	case "":
		return http.StatusOK
	case call.ErrInternal.Class:
		return http.StatusInternalServerError
	case call.ErrUnavailable.Class, call.ErrBusy.Class:
		return http.StatusServiceUnavailable
	case call.ErrTooLarge.Class:
		return http.StatusRequestEntityTooLarge
	case call.ErrUnpacking.Class, call.ErrBadArguments.Class, call.ErrUnknownFunction.Class:
		return http.StatusBadRequest
	case call.ErrReplay.Class, call.ErrIdempotency.Class, call.ErrInProgress.Class, call.ErrExists.Class:
		return http.StatusConflict
	case call.ErrPermission.Class:
		return http.StatusForbidden
	default:
		return http.StatusUnprocessableEntity
	}
}
