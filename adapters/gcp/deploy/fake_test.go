package deploy_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	logging "google.golang.org/api/logging/v2"
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
	labels      map[string]map[string]string // secret name -> labels
	logBuckets  map[string]*logging.LogBucket
	sinks       map[string]*logging.LogSink
	exclusions  map[string]*logging.LogExclusion
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
		labels:      map[string]map[string]string{},
		logBuckets:  map[string]*logging.LogBucket{},
		sinks:       map[string]*logging.LogSink{},
		exclusions:  map[string]*logging.LogExclusion{},
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
	case strings.HasPrefix(r.URL.Path, "/logging/v2/"):
		status, out = f.cloudLogging(r, strings.TrimPrefix(r.URL.Path, "/logging/v2/"), body)
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
		var sec secretmanager.Secret
		_ = json.Unmarshal(body, &sec)
		if sec.Replication == nil {
			return apiError(http.StatusBadRequest, "replication is required")
		}
		f.secrets[name] = true
		f.labels[name] = sec.Labels
		return http.StatusOK, &secretmanager.Secret{Name: name, Labels: sec.Labels}
	}
	secret, version, _ := strings.Cut(resource, "/versions/")
	if !f.secrets[secret] {
		return apiError(http.StatusNotFound, "secret not found")
	}
	switch {
	case r.Method == http.MethodGet && method == "" && version == "":
		return http.StatusOK, &secretmanager.Secret{Name: secret, Labels: f.labels[secret]}
	case r.Method == http.MethodPatch && method == "" && version == "":
		if r.URL.Query().Get("updateMask") != "labels" {
			return apiError(http.StatusBadRequest, "only labels are modelled")
		}
		var sec secretmanager.Secret
		_ = json.Unmarshal(body, &sec)
		f.labels[secret] = sec.Labels
		return http.StatusOK, &secretmanager.Secret{Name: secret, Labels: sec.Labels}
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
		delete(f.labels, secret)
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
// (GET and PUT b/{bucket}/iam) and keeps bucket labels, neither of which
// fake-gcs-server models, and forwards every other call to it: the
// deployer's storage client goes through it unchanged.
type bucketIAM struct {
	next     http.Handler
	mu       sync.Mutex
	policies map[string]json.RawMessage
	puts     []string                     // the buckets whose policy was set, in order
	labels   map[string]map[string]string // bucket -> labels, as the JSON API keeps them
}

func (b *bucketIAM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/storage/v1/b/")
	bucket, isIAM := strings.CutSuffix(rest, "/iam")
	if !isIAM {
		b.withLabels(w, r, rest, ok)
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

// withLabels keeps the labels of a bucket create (POST b) and patch
// (PATCH b/{bucket}: a null value removes a label) and adds them to the
// bucket's JSON on the way back.
func (b *bucketIAM) withLabels(w http.ResponseWriter, r *http.Request, bucket string, named bool) {
	isCreate := r.Method == http.MethodPost && strings.TrimSuffix(r.URL.Path, "/") == "/storage/v1/b"
	isBucket := named && bucket != "" && !strings.Contains(bucket, "/")
	if !isCreate && !isBucket {
		b.next.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var in struct {
		Name   string             `json:"name"`
		Labels map[string]*string `json:"labels"`
	}
	_ = json.Unmarshal(body, &in)
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	rec := httptest.NewRecorder()
	b.next.ServeHTTP(rec, r)
	b.mu.Lock()
	defer b.mu.Unlock()
	if isCreate {
		bucket = in.Name
	}
	if rec.Code == http.StatusOK && (isCreate || r.Method == http.MethodPatch) {
		if b.labels[bucket] == nil || isCreate {
			b.labels[bucket] = map[string]string{}
		}
		for k, v := range in.Labels {
			if v == nil {
				delete(b.labels[bucket], k)
			} else {
				b.labels[bucket][k] = *v
			}
		}
	}
	if r.Method == http.MethodDelete && rec.Code < 300 {
		delete(b.labels, bucket)
	}
	out := rec.Body.Bytes()
	var m map[string]any
	if rec.Code == http.StatusOK && json.Unmarshal(out, &m) == nil && len(b.labels[bucket]) > 0 {
		m["labels"] = b.labels[bucket]
		out, _ = json.Marshal(m)
	}
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(out)
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

// cloudLogging plays Cloud Logging v2's log buckets, sinks and exclusions,
// refusing what the API refuses: a retention outside 1-3650 days, a sink
// without a destination or filter, a patch without an update mask.
func (f *fakeCloud) cloudLogging(r *http.Request, path string, body []byte) (int, any) {
	resource, method, _ := strings.Cut(path, ":")
	q := r.URL.Query()
	switch {
	case strings.HasSuffix(resource, "/buckets") && r.Method == http.MethodPost:
		name := resource + "/" + q.Get("bucketId")
		if f.logBuckets[name] != nil {
			return apiError(http.StatusConflict, "bucket exists")
		}
		var b logging.LogBucket
		_ = json.Unmarshal(body, &b)
		if b.RetentionDays < 1 || b.RetentionDays > 3650 {
			return apiError(http.StatusBadRequest, "retention")
		}
		b.Name, b.LifecycleState = name, "ACTIVE"
		f.logBuckets[name] = &b
		return http.StatusOK, &b
	case strings.Contains(resource, "/buckets/"):
		b := f.logBuckets[resource]
		if b == nil {
			return apiError(http.StatusNotFound, "no bucket")
		}
		switch {
		case method == "undelete":
			b.LifecycleState = "ACTIVE"
			return http.StatusOK, map[string]any{}
		case r.Method == http.MethodGet:
			return http.StatusOK, b
		case r.Method == http.MethodPatch && q.Get("updateMask") == "retentionDays":
			var next logging.LogBucket
			_ = json.Unmarshal(body, &next)
			if b.LifecycleState != "ACTIVE" || next.RetentionDays < 1 || next.RetentionDays > 3650 {
				return apiError(http.StatusBadRequest, "retention")
			}
			b.RetentionDays = next.RetentionDays
			return http.StatusOK, b
		case r.Method == http.MethodDelete && b.LifecycleState != "ACTIVE":
			return apiError(http.StatusBadRequest, "FAILED_PRECONDITION: bucket is not active")
		case r.Method == http.MethodDelete:
			b.LifecycleState = "DELETE_REQUESTED" // gone after 7 days
			return http.StatusOK, map[string]any{}
		}
	case strings.HasSuffix(resource, "/sinks") && r.Method == http.MethodPost:
		var k logging.LogSink
		_ = json.Unmarshal(body, &k)
		if k.Destination == "" || k.Filter == "" || k.Name == "" {
			return apiError(http.StatusBadRequest, "sink needs a name, destination and filter")
		}
		if f.sinks[resource+"/"+k.Name] != nil {
			return apiError(http.StatusConflict, "sink exists")
		}
		f.sinks[resource+"/"+k.Name] = &k
		return http.StatusOK, &k
	case strings.Contains(resource, "/sinks/"):
		return f.logObject(r, resource, body, q.Get("updateMask"), f.sinks[resource] != nil,
			func() any { return f.sinks[resource] }, func(b []byte) { var k logging.LogSink; _ = json.Unmarshal(b, &k); f.sinks[resource] = &k },
			func() { delete(f.sinks, resource) })
	case strings.HasSuffix(resource, "/exclusions") && r.Method == http.MethodPost:
		var x logging.LogExclusion
		_ = json.Unmarshal(body, &x)
		if x.Filter == "" || x.Name == "" {
			return apiError(http.StatusBadRequest, "exclusion needs a name and filter")
		}
		if f.exclusions[resource+"/"+x.Name] != nil {
			return apiError(http.StatusConflict, "exclusion exists")
		}
		f.exclusions[resource+"/"+x.Name] = &x
		return http.StatusOK, &x
	case strings.Contains(resource, "/exclusions/"):
		return f.logObject(r, resource, body, q.Get("updateMask"), f.exclusions[resource] != nil,
			func() any { return f.exclusions[resource] }, func(b []byte) { var x logging.LogExclusion; _ = json.Unmarshal(b, &x); f.exclusions[resource] = &x },
			func() { delete(f.exclusions, resource) })
	}
	return apiError(http.StatusNotImplemented, "not modelled: "+r.Method+" "+path)
}

func (f *fakeCloud) logObject(r *http.Request, resource string, body []byte, mask string, exists bool, get func() any, put func([]byte), del func()) (int, any) {
	if !exists {
		return apiError(http.StatusNotFound, "not found: "+resource)
	}
	switch r.Method {
	case http.MethodGet:
		return http.StatusOK, get()
	case http.MethodPut, http.MethodPatch:
		if mask == "" {
			return apiError(http.StatusBadRequest, "update mask required")
		}
		put(body)
		return http.StatusOK, get()
	case http.MethodDelete:
		del()
		return http.StatusOK, map[string]any{}
	}
	return apiError(http.StatusMethodNotAllowed, r.Method)
}

// secretLabels returns a secret's labels by resource name.
func (f *fakeCloud) secretLabels(name string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.labels[name]
}

// logState returns the log bucket, sink and exclusion of a service.
func (f *fakeCloud) logState(bucket, sink, exclusion string) (*logging.LogBucket, *logging.LogSink, *logging.LogExclusion) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logBuckets[bucket], f.sinks[sink], f.exclusions[exclusion]
}
