package deploy_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
)

// fakeAWS plays the Lambda (REST-JSON), IAM (query/XML) and Secrets
// Manager (JSON 1.1) control planes just far enough for the deployer, in
// their wire shapes, and records every call.
type fakeAWS struct {
	mu      sync.Mutex
	calls   []call
	fns     map[string]map[string]any // name -> FunctionConfiguration
	urls    map[string]string
	perms   map[string]bool // name/statement id
	roles   map[string]string
	policy  map[string]string // role -> inline policy document
	secrets map[string]*fakeSecret
	// tags are every object's tags by ARN (functions, secrets, log
	// groups) or role name.
	tags map[string]map[string]string

	// Knobs for failure paths.
	pendingPolls  int  // GetFunction answers InProgress this many times after an update
	stuck         bool // updates never finish
	roleNotReadyN int  // CreateFunction refuses the role this many times
}

type fakeSecret struct {
	arn, value string
	deleted    bool
}

// call is one recorded API call: its operation and its decoded input.
type call struct {
	Op   string
	Body map[string]any // JSON bodies
	Form url.Values     // IAM query bodies
	Raw  string
}

const account = "123456789012"

func newFake(t *testing.T) (*fakeAWS, string) {
	f := &fakeAWS{fns: map[string]map[string]any{}, urls: map[string]string{}, perms: map[string]bool{},
		roles: map[string]string{}, policy: map[string]string{}, secrets: map[string]*fakeSecret{},
		tags: map[string]map[string]string{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	f.mu.Lock()
	defer f.mu.Unlock()
	switch target := r.Header.Get("X-Amz-Target"); {
	case strings.HasPrefix(target, "secretsmanager."):
		f.secretsAPI(w, strings.TrimPrefix(target, "secretsmanager."), raw)
	case strings.HasPrefix(target, "Logs_20140328."):
		f.logsAPI(w, strings.TrimPrefix(target, "Logs_20140328."), raw)
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		form, _ := url.ParseQuery(string(raw))
		f.iamAPI(w, form, raw)
	default:
		f.lambdaAPI(w, r, raw)
	}
}

func (f *fakeAWS) record(op string, raw []byte, form url.Values) {
	c := call{Op: op, Form: form, Raw: string(raw)}
	if form == nil && len(raw) > 0 {
		_ = json.Unmarshal(raw, &c.Body)
	}
	f.calls = append(f.calls, c)
}

// Calls returns the recorded calls (a copy).
func (f *fakeAWS) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func (f *fakeAWS) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func lambdaErr(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("X-Amzn-ErrorType", typ)
	writeJSON(w, status, map[string]string{"Type": "User", "message": msg})
}

func (f *fakeAWS) lambdaAPI(w http.ResponseWriter, r *http.Request, raw []byte) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/") // 2015-03-31/functions/NAME/...
	if len(parts) == 3 && parts[1] == "tags" {
		arn, _ := url.PathUnescape(parts[2])
		f.lambdaTags(w, r, arn, raw)
		return
	}
	if len(parts) < 2 || parts[1] != "functions" {
		lambdaErr(w, http.StatusBadRequest, "InvalidRequestContentException", "unknown path "+r.URL.Path)
		return
	}
	name, sub := "", ""
	if len(parts) > 2 {
		name, _ = url.PathUnescape(parts[2])
	}
	if len(parts) > 3 {
		sub = parts[3]
	}
	op := map[string]string{
		"POST ": "CreateFunction", "GET ": "GetFunction", "DELETE ": "DeleteFunction",
		"PUT code": "UpdateFunctionCode", "PUT configuration": "UpdateFunctionConfiguration",
		"POST url": "CreateFunctionUrlConfig", "GET url": "GetFunctionUrlConfig", "DELETE url": "DeleteFunctionUrlConfig",
		"POST policy": "AddPermission", "PUT concurrency": "PutFunctionConcurrency",
	}[r.Method+" "+sub]
	f.record(op, raw, nil)
	c := f.calls[len(f.calls)-1]
	fn := f.fns[name]
	if op != "CreateFunction" && fn == nil {
		lambdaErr(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	switch op {
	case "CreateFunction":
		f.createFunction(w, c.Body)
	case "GetFunction":
		f.getFunction(w, fn)
	case "DeleteFunction":
		delete(f.fns, name)
		delete(f.urls, name)
		w.WriteHeader(http.StatusNoContent)
	case "UpdateFunctionCode":
		zip, _ := base64.StdEncoding.DecodeString(c.Body["ZipFile"].(string))
		fn["CodeSha256"], fn["Architectures"] = sha(zip), c.Body["Architectures"]
		f.startUpdate(fn)
		writeJSON(w, http.StatusOK, fn)
	case "PutFunctionConcurrency":
		writeJSON(w, http.StatusOK, map[string]any{"ReservedConcurrentExecutions": c.Body["ReservedConcurrentExecutions"]})
	case "UpdateFunctionConfiguration":
		for _, k := range []string{"Runtime", "Handler", "Role", "MemorySize", "Timeout", "Environment"} {
			fn[k] = c.Body[k]
		}
		f.startUpdate(fn)
		writeJSON(w, http.StatusOK, fn)
	default:
		f.lambdaURLAPI(w, op, name, c.Body)
	}
}

func (f *fakeAWS) lambdaURLAPI(w http.ResponseWriter, op, name string, body map[string]any) {
	u, ok := f.urls[name]
	switch {
	case op == "CreateFunctionUrlConfig" && ok:
		lambdaErr(w, http.StatusConflict, "ResourceConflictException", "URL exists")
	case op == "CreateFunctionUrlConfig":
		f.urls[name] = "https://" + name + "-abc123.lambda-url.us-east-1.on.aws/"
		writeJSON(w, http.StatusCreated, map[string]any{"FunctionUrl": f.urls[name], "AuthType": body["AuthType"], "FunctionArn": fnARN(name)})
	case !ok && op != "AddPermission":
		lambdaErr(w, http.StatusNotFound, "ResourceNotFoundException", "no URL")
	case op == "GetFunctionUrlConfig":
		writeJSON(w, http.StatusOK, map[string]any{"FunctionUrl": u, "AuthType": "NONE", "FunctionArn": fnARN(name)})
	case op == "DeleteFunctionUrlConfig":
		delete(f.urls, name)
		w.WriteHeader(http.StatusNoContent)
	case op == "AddPermission":
		key := name + "/" + body["StatementId"].(string)
		if f.perms[key] {
			lambdaErr(w, http.StatusConflict, "ResourceConflictException", "statement exists")
			return
		}
		f.perms[key] = true
		writeJSON(w, http.StatusCreated, map[string]any{"Statement": "{}"})
	default:
		lambdaErr(w, http.StatusBadRequest, "InvalidRequestContentException", "unknown operation")
	}
}

func (f *fakeAWS) createFunction(w http.ResponseWriter, body map[string]any) {
	name := body["FunctionName"].(string)
	if _, ok := f.fns[name]; ok {
		lambdaErr(w, http.StatusConflict, "ResourceConflictException", "Function already exist: "+name)
		return
	}
	if f.roleNotReadyN > 0 {
		f.roleNotReadyN--
		lambdaErr(w, http.StatusBadRequest, "InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.")
		return
	}
	zip, _ := base64.StdEncoding.DecodeString(body["Code"].(map[string]any)["ZipFile"].(string))
	fn := map[string]any{"FunctionName": name, "FunctionArn": fnARN(name), "CodeSha256": sha(zip),
		"State": "Pending", "LastUpdateStatus": "Successful"}
	for _, k := range []string{"Runtime", "Handler", "Role", "MemorySize", "Timeout", "Environment", "Architectures"} {
		fn[k] = body[k]
	}
	f.fns[name] = fn
	f.tags[fnARN(name)] = map[string]string{}
	if t, ok := body["Tags"].(map[string]any); ok {
		for k, v := range t {
			f.tags[fnARN(name)][k] = v.(string)
		}
	}
	writeJSON(w, http.StatusCreated, fn)
}

func (f *fakeAWS) startUpdate(fn map[string]any) {
	fn["LastUpdateStatus"] = "InProgress"
	fn["pending"] = f.pendingPolls
}

// getFunction answers GetFunction, moving Pending/InProgress states on
// after the configured number of polls.
func (f *fakeAWS) getFunction(w http.ResponseWriter, fn map[string]any) {
	if n, _ := fn["pending"].(int); n > 0 {
		fn["pending"] = n - 1
	} else if !f.stuck {
		fn["State"], fn["LastUpdateStatus"] = "Active", "Successful"
	}
	cfg := map[string]any{}
	for k, v := range fn {
		if k != "pending" {
			cfg[k] = v
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"Configuration": cfg, "Code": map[string]any{"RepositoryType": "S3"},
		"Tags": f.tags[fn["FunctionArn"].(string)]})
}

func fnARN(name string) string { return "arn:aws:lambda:us-east-1:" + account + ":function:" + name }

func secretsErr(w http.ResponseWriter, typ string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"__type": typ, "Message": typ})
}

func (f *fakeAWS) secretsAPI(w http.ResponseWriter, op string, raw []byte) {
	f.record("secretsmanager."+op, raw, nil)
	body := f.calls[len(f.calls)-1].Body
	id, _ := body["SecretId"].(string)
	if op == "CreateSecret" {
		id, _ = body["Name"].(string)
	}
	s := f.secret(id)
	switch {
	case op == "CreateSecret" && s != nil:
		secretsErr(w, "ResourceExistsException")
	case op == "CreateSecret":
		s = &fakeSecret{arn: "arn:aws:secretsmanager:us-east-1:" + account + ":secret:" + id + "-AbCdEf", value: body["SecretString"].(string)}
		f.secrets[id] = s
		f.tags[s.arn] = map[string]string{}
		for _, t := range asList(body["Tags"]) {
			f.tags[s.arn][t["Key"].(string)] = t["Value"].(string)
		}
		writeJSON(w, http.StatusOK, map[string]any{"ARN": s.arn, "Name": id, "VersionId": "v1"})
	case s == nil:
		secretsErr(w, "ResourceNotFoundException")
	case op == "DescribeSecret":
		var tags []map[string]string
		for _, k := range sortedKeys(f.tags[s.arn]) {
			tags = append(tags, map[string]string{"Key": k, "Value": f.tags[s.arn][k]})
		}
		out := map[string]any{"ARN": s.arn, "Name": id, "Tags": tags}
		if s.deleted {
			out["DeletedDate"] = 1.7e9
		}
		writeJSON(w, http.StatusOK, out)
	case op == "TagResource":
		for _, t := range asList(body["Tags"]) {
			f.tags[s.arn][t["Key"].(string)] = t["Value"].(string)
		}
		writeJSON(w, http.StatusOK, map[string]any{})
	case op == "UntagResource":
		for _, k := range body["TagKeys"].([]any) {
			delete(f.tags[s.arn], k.(string))
		}
		writeJSON(w, http.StatusOK, map[string]any{})
	case op == "RestoreSecret":
		s.deleted = false
		writeJSON(w, http.StatusOK, map[string]any{"ARN": s.arn})
	case s.deleted:
		secretsErr(w, "InvalidRequestException")
	case op == "GetSecretValue":
		writeJSON(w, http.StatusOK, map[string]any{"ARN": s.arn, "SecretString": s.value})
	case op == "PutSecretValue":
		s.value = body["SecretString"].(string)
		writeJSON(w, http.StatusOK, map[string]any{"ARN": s.arn, "VersionId": "v2"})
	case op == "DeleteSecret":
		s.deleted = true
		if body["ForceDeleteWithoutRecovery"] == true {
			for k, v := range f.secrets {
				if v == s {
					delete(f.secrets, k)
				}
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"ARN": s.arn, "DeletionDate": 1.7e9})
	default:
		secretsErr(w, "InvalidRequestException")
	}
}

// secret finds a secret by name or ARN.
func (f *fakeAWS) secret(id string) *fakeSecret {
	if s, ok := f.secrets[id]; ok {
		return s
	}
	for _, s := range f.secrets {
		if s.arn == id {
			return s
		}
	}
	return nil
}

const iamNS = `xmlns="https://iam.amazonaws.com/doc/2010-05-08/"`

func iamOK(w http.ResponseWriter, op, result string) {
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<%sResponse %s><%sResult>%s</%sResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></%sResponse>`,
		op, iamNS, op, result, op, op)
}

func iamErr(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse %s><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>r1</RequestId></ErrorResponse>`, iamNS, code, code)
}

func roleXML(name, arn string, tags map[string]string) string {
	var t strings.Builder
	for _, k := range sortedKeys(tags) {
		fmt.Fprintf(&t, `<member><Key>%s</Key><Value>%s</Value></member>`, k, tags[k])
	}
	return fmt.Sprintf(`<Role><Path>/</Path><RoleName>%s</RoleName><RoleId>AROA1</RoleId><Arn>%s</Arn><CreateDate>2025-01-01T00:00:00Z</CreateDate><Tags>%s</Tags></Role>`,
		name, arn, t.String())
}

func (f *fakeAWS) iamAPI(w http.ResponseWriter, form url.Values, raw []byte) {
	op, role := form.Get("Action"), form.Get("RoleName")
	f.record("iam."+op, raw, form)
	arn, ok := f.roles[role]
	switch {
	case op == "CreateRole" && ok:
		iamErr(w, http.StatusConflict, "EntityAlreadyExists")
	case op == "CreateRole":
		f.roles[role] = "arn:aws:iam::" + account + ":role/" + role
		f.tags["role/"+role] = formTags(form, "Tags.member.")
		iamOK(w, op, roleXML(role, f.roles[role], f.tags["role/"+role]))
	case !ok:
		iamErr(w, http.StatusNotFound, "NoSuchEntity")
	case op == "GetRole":
		iamOK(w, op, roleXML(role, arn, f.tags["role/"+role]))
	case op == "TagRole":
		maps.Copy(f.tags["role/"+role], formTags(form, "Tags.member."))
		iamOK(w, op, "")
	case op == "UntagRole":
		for i := 1; form.Get(fmt.Sprintf("TagKeys.member.%d", i)) != ""; i++ {
			delete(f.tags["role/"+role], form.Get(fmt.Sprintf("TagKeys.member.%d", i)))
		}
		iamOK(w, op, "")
	case op == "PutRolePolicy":
		f.policy[role] = form.Get("PolicyDocument")
		iamOK(w, op, "")
	case op == "DeleteRolePolicy":
		delete(f.policy, role)
		iamOK(w, op, "")
	case op == "DeleteRole" && f.policy[role] != "":
		iamErr(w, http.StatusConflict, "DeleteConflict")
	case op == "DeleteRole":
		delete(f.roles, role)
		iamOK(w, op, "")
	default:
		iamErr(w, http.StatusBadRequest, "InvalidAction")
	}
}

// formTags reads an IAM query's tag list (prefix.N.Key, prefix.N.Value).
func formTags(form url.Values, prefix string) map[string]string {
	out := map[string]string{}
	for i := 1; form.Get(fmt.Sprintf("%s%d.Key", prefix, i)) != ""; i++ {
		out[form.Get(fmt.Sprintf("%s%d.Key", prefix, i))] = form.Get(fmt.Sprintf("%s%d.Value", prefix, i))
	}
	return out
}

func asList(v any) []map[string]any {
	var out []map[string]any
	l, _ := v.([]any)
	for _, x := range l {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// lambdaTags plays Lambda's TagResource and UntagResource on a function ARN.
func (f *fakeAWS) lambdaTags(w http.ResponseWriter, r *http.Request, arn string, raw []byte) {
	op := map[string]string{http.MethodPost: "TagResource", http.MethodDelete: "UntagResource", http.MethodGet: "ListTags"}[r.Method]
	f.record(op, raw, nil)
	tags, ok := f.tags[arn]
	if !ok {
		lambdaErr(w, http.StatusNotFound, "ResourceNotFoundException", "no such function "+arn)
		return
	}
	switch op {
	case "TagResource":
		for k, v := range f.calls[len(f.calls)-1].Body["Tags"].(map[string]any) {
			tags[k] = v.(string)
		}
	case "UntagResource":
		for _, k := range r.URL.Query()["tagKeys"] {
			delete(tags, k)
		}
	}
	if op == "ListTags" {
		writeJSON(w, http.StatusOK, map[string]any{"Tags": tags})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// logsAPI plays CloudWatch Logs' log groups and their tags (by ARN).
func (f *fakeAWS) logsAPI(w http.ResponseWriter, op string, raw []byte) {
	f.record(op, raw, nil)
	body := f.calls[len(f.calls)-1].Body
	arnOf := func(group string) string { return "arn:aws:logs:us-east-1:" + account + ":log-group:" + group }
	switch op {
	case "CreateLogGroup":
		arn := arnOf(body["logGroupName"].(string))
		if _, ok := f.tags[arn]; ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"__type": "ResourceAlreadyExistsException", "message": "exists"})
			return
		}
		f.tags[arn] = map[string]string{}
		if t, ok := body["tags"].(map[string]any); ok {
			for k, v := range t {
				f.tags[arn][k] = v.(string)
			}
		}
	case "ListTagsForResource", "TagResource", "UntagResource":
		tags, ok := f.tags[body["resourceArn"].(string)]
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"__type": "ResourceNotFoundException", "message": "no group"})
			return
		}
		if op == "ListTagsForResource" {
			writeJSON(w, http.StatusOK, map[string]any{"tags": tags})
			return
		}
		if t, ok := body["tags"].(map[string]any); ok {
			for k, v := range t {
				tags[k] = v.(string)
			}
		}
		if l, ok := body["tagKeys"].([]any); ok {
			for _, k := range l {
				delete(tags, k.(string))
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// tagsOf returns an object's tags (by ARN, or "role/<name>").
func (f *fakeAWS) tagsOf(id string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.tags[id])
}
