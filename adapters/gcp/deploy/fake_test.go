package deploy_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	run "google.golang.org/api/run/v2"
	secretmanager "google.golang.org/api/secretmanager/v1"
)

// request is one call the fake control plane received.
type request struct {
	Method, Path, Body string
}

// fakeCloud plays Cloud Run v2 and Secret Manager v1 at the REST boundary:
// it keeps services, secrets, versions and IAM policies in memory, answers
// with the APIs' JSON shapes, and records every request. Operations are
// answered not done, and done on the first poll, so callers must poll.
type fakeCloud struct {
	mu          sync.Mutex
	reqs        []request
	services    map[string]*run.GoogleCloudRunV2Service
	secrets     map[string]bool
	versions    map[string][]string // secret name -> base64 payloads, version N at N-1
	runPolicies map[string]*run.GoogleIamV1Policy
	smPolicies  map[string]*secretmanager.Policy
	opSeq       int
	neverDone   bool // operations never complete (timeout test)
}

func newFakeCloud() *fakeCloud {
	return &fakeCloud{
		services:    map[string]*run.GoogleCloudRunV2Service{},
		secrets:     map[string]bool{},
		versions:    map[string][]string{},
		runPolicies: map[string]*run.GoogleIamV1Policy{},
		smPolicies:  map[string]*secretmanager.Policy{},
	}
}

func (f *fakeCloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, request{Method: r.Method, Path: r.URL.Path, Body: string(body)})
	var status int
	var out any
	switch {
	case strings.HasPrefix(r.URL.Path, "/v2/"):
		status, out = f.cloudRun(r, strings.TrimPrefix(r.URL.Path, "/v2/"), body)
	case strings.HasPrefix(r.URL.Path, "/v1/"):
		status, out = f.secretManager(r, strings.TrimPrefix(r.URL.Path, "/v1/"), body)
	default:
		status, out = apiError(http.StatusNotFound, "no such API")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}

func apiError(code int, msg string) (int, any) {
	return code, map[string]any{"error": map[string]any{"code": code, "message": msg}}
}

func (f *fakeCloud) operation(parent string) *run.GoogleLongrunningOperation {
	f.opSeq++
	return &run.GoogleLongrunningOperation{Name: fmt.Sprintf("%s/operations/op-%d", parent, f.opSeq)}
}

func (f *fakeCloud) cloudRun(r *http.Request, path string, body []byte) (int, any) {
	resource, method, _ := strings.Cut(path, ":")
	switch {
	case method == "getIamPolicy":
		if f.runPolicies[resource] == nil {
			return http.StatusOK, &run.GoogleIamV1Policy{Etag: "BwE="}
		}
		return http.StatusOK, f.runPolicies[resource]
	case method == "setIamPolicy":
		var req run.GoogleIamV1SetIamPolicyRequest
		_ = json.Unmarshal(body, &req)
		f.runPolicies[resource] = req.Policy
		return http.StatusOK, req.Policy
	case strings.Contains(resource, "/operations/"):
		return http.StatusOK, &run.GoogleLongrunningOperation{Name: resource, Done: !f.neverDone}
	case strings.HasSuffix(resource, "/services") && r.Method == http.MethodPost:
		return f.createService(strings.TrimSuffix(resource, "/services"), r.URL.Query().Get("serviceId"), body)
	}
	return f.serviceCall(r.Method, resource, body)
}

func (f *fakeCloud) createService(parent, id string, body []byte) (int, any) {
	name := parent + "/services/" + id
	if f.services[name] != nil {
		return apiError(http.StatusConflict, "already exists")
	}
	var svc run.GoogleCloudRunV2Service
	_ = json.Unmarshal(body, &svc)
	svc.Name, svc.Uri = name, "https://"+id+"-abc123-ew.a.run.app"
	f.services[name] = &svc
	return http.StatusOK, f.operation(parent)
}

func (f *fakeCloud) serviceCall(method, name string, body []byte) (int, any) {
	svc := f.services[name]
	if svc == nil {
		return apiError(http.StatusNotFound, "service not found")
	}
	parent := name[:strings.Index(name, "/services/")]
	switch method {
	case http.MethodGet:
		return http.StatusOK, svc
	case http.MethodPatch:
		var next run.GoogleCloudRunV2Service
		_ = json.Unmarshal(body, &next)
		next.Name, next.Uri = svc.Name, svc.Uri
		f.services[name] = &next
		return http.StatusOK, f.operation(parent)
	case http.MethodDelete:
		delete(f.services, name)
		delete(f.runPolicies, name)
		return http.StatusOK, f.operation(parent)
	}
	return apiError(http.StatusMethodNotAllowed, method)
}

func (f *fakeCloud) secretManager(r *http.Request, path string, body []byte) (int, any) {
	resource, method, _ := strings.Cut(path, ":")
	if strings.HasSuffix(resource, "/secrets") && r.Method == http.MethodPost {
		name := resource + "/" + r.URL.Query().Get("secretId")
		if f.secrets[name] {
			return apiError(http.StatusConflict, "secret already exists")
		}
		f.secrets[name] = true
		return http.StatusOK, &secretmanager.Secret{Name: name}
	}
	secret, version, _ := strings.Cut(resource, "/versions/")
	if !f.secrets[secret] {
		return apiError(http.StatusNotFound, "secret not found")
	}
	switch {
	case method == "addVersion":
		var req secretmanager.AddSecretVersionRequest
		_ = json.Unmarshal(body, &req)
		f.versions[secret] = append(f.versions[secret], req.Payload.Data)
		return http.StatusOK, &secretmanager.SecretVersion{Name: fmt.Sprintf("%s/versions/%d", secret, len(f.versions[secret])), State: "ENABLED"}
	case method == "access" && version == "latest":
		vs := f.versions[secret]
		if len(vs) == 0 {
			return apiError(http.StatusNotFound, "no versions")
		}
		return http.StatusOK, &secretmanager.AccessSecretVersionResponse{
			Name: fmt.Sprintf("%s/versions/%d", secret, len(vs)), Payload: &secretmanager.SecretPayload{Data: vs[len(vs)-1]},
		}
	case method == "getIamPolicy":
		if f.smPolicies[secret] == nil {
			return http.StatusOK, &secretmanager.Policy{Etag: "BwE="}
		}
		return http.StatusOK, f.smPolicies[secret]
	case method == "setIamPolicy":
		var req secretmanager.SetIamPolicyRequest
		_ = json.Unmarshal(body, &req)
		f.smPolicies[secret] = req.Policy
		return http.StatusOK, req.Policy
	case r.Method == http.MethodDelete && method == "" && version == "":
		delete(f.secrets, secret)
		delete(f.versions, secret)
		delete(f.smPolicies, secret)
		return http.StatusOK, map[string]any{}
	}
	return apiError(http.StatusNotImplemented, "not modelled: "+r.Method+" "+path)
}

// requests returns a copy of what was received so far.
func (f *fakeCloud) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

// service returns a stored service by resource name, or nil.
func (f *fakeCloud) service(name string) *run.GoogleCloudRunV2Service {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.services[name]
}

// bucketIAM plays the Cloud Storage JSON API's bucket IAM calls
// (GET and PUT b/{bucket}/iam), which fake-gcs-server does not model, and
// forwards every other call to it: the deployer's storage client goes
// through it unchanged.
type bucketIAM struct {
	next     http.Handler
	mu       sync.Mutex
	policies map[string]json.RawMessage
	puts     []string // the buckets whose policy was set, in order
}

func (b *bucketIAM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/storage/v1/b/")
	bucket, isIAM := strings.CutSuffix(rest, "/iam")
	if !ok || !isIAM {
		b.next.ServeHTTP(w, r)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.Method {
	case http.MethodGet:
		if p, ok := b.policies[bucket]; ok {
			_, _ = w.Write(p)
			return
		}
		_, _ = w.Write([]byte(`{"kind":"storage#policy","resourceId":"projects/_/buckets/` + bucket + `","version":1,"etag":"CAE=","bindings":[]}`))
	case http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		b.policies[bucket] = body
		b.puts = append(b.puts, bucket)
		_, _ = w.Write(body)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// bindings are the role -> members of a bucket's policy as last set.
func (b *bucketIAM) bindings(bucket string) map[string][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var pol struct {
		Bindings []struct {
			Role    string   `json:"role"`
			Members []string `json:"members"`
		} `json:"bindings"`
	}
	_ = json.Unmarshal(b.policies[bucket], &pol)
	out := map[string][]string{}
	for _, x := range pol.Bindings {
		out[x.Role] = append(out[x.Role], x.Members...)
	}
	return out
}
