package call

import "testing"

func TestServiceID(t *testing.T) {
	for in, want := range map[string]string{
		"https://h.example/storage":         "https://h.example/storage",
		"HTTPS://H.Example:443/storage/":    "https://h.example/storage",
		"http://h.example:80/storage?job=1": "http://h.example/storage",
		"http://h.example:8080/storage#x":   "http://h.example:8080/storage",
		"http://user:pw@h.example/storage":  "http://h.example/storage",
		"http://h.example/a/../storage//":   "http://h.example/storage",
		"http://127.0.0.1:9000/":            "http://127.0.0.1:9000",
		"http://[::1]:80/storage":           "http://[::1]/storage",
		"not a url":                         "not a url",
	} {
		if got := ServiceID(in); got != want {
			t.Errorf("ServiceID(%q) = %q, want %q", in, got, want)
		}
	}
}
