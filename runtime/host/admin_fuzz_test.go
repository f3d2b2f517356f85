package host

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openacquire/acquire/runtime/call"
)

// FuzzAdminSpec: an admin API body for a deployment is decoded and checked
// as PUT /_admin/v1/services/{name} does. Whatever the bytes, the answer is a
// checked spec or a typed error, the admin's password never appears in that
// error, and an accepted spec's settings are already in the form they are
// kept in (checking them again changes nothing).
func FuzzAdminSpec(f *testing.F) {
	f.Add("identity", []byte(`{"kind":"identity","admin":{"username":"root","password":"Sup3r-s3cret-pass"}}`))
	f.Add("accounting", []byte(`{"kind":"accounting","registry_url":"http://127.0.0.1:8080/registry","settings":{"access_url":"HTTP://Host:80/access/"}}`))
	f.Add("compute", []byte(`{"kind":"compute","settings":{"job_lease_s":"30","accounting_url":"http://h/a","access_url":"http://h/b"}}`))
	f.Add("x", []byte(`{"kind":"storage","store_url":"file:///tmp/x","unknown":1}`))
	f.Add("registry", []byte(`{"kind":"registry","registry_url":"http://h/r"}`))
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		r := httptest.NewRequest("PUT", "/_admin/v1/services/x", strings.NewReader(string(body)))
		var spec Spec
		err := readAdminJSON(httptest.NewRecorder(), r, &spec)
		if err == nil {
			err = spec.check(name)
		}
		if err != nil {
			var ce *call.Error
			if !errors.As(err, &ce) || (ce.Class != ErrSpec.Class && ce.Class != call.ErrTooLarge.Class) {
				t.Fatalf("untyped or unexpected error %v", err)
			}
			if p := passwordOf(&spec); p != "" && strings.Contains(err.Error(), p) && !echoedElsewhere(name, &spec, p) {
				t.Fatalf("the error repeats the admin's password: %v", err)
			}
			return
		}
		for k, v := range spec.Settings {
			again, err := CheckSetting(spec.Kind, k, v)
			if err != nil || again != v {
				t.Fatalf("setting %s=%q is not kept canonical: %q, %v", k, v, again, err)
			}
		}
	})
}

func passwordOf(s *Spec) string {
	if s.Admin == nil || len(s.Admin.Password) < 4 {
		return ""
	}
	return s.Admin.Password
}

// echoedElsewhere: the password's text also stands in a field an error may
// name (the fuzzer can spell the name like the password).
func echoedElsewhere(name string, s *Spec, p string) bool {
	fields := []string{name, s.Kind, s.StoreURL, s.RegistryURL, s.Admin.Username, s.Admin.PasswordVersion, s.Admin.IdentityURL, s.Admin.UserUID}
	for k, v := range s.Settings {
		fields = append(fields, k, v)
	}
	for _, f := range fields {
		if strings.Contains(f, p) {
			return true
		}
	}
	return false
}
