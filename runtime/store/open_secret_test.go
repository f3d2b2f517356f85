package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/openacquire/acquire/runtime/store"
)

func TestOpenErrorsHideSecrets(t *testing.T) {
	for _, u := range []string{
		"nosuch://user:hunter2@bucket/x?token=hunter2",
		"file://user:hunter2@host/x?key=hunter2",
		"mem://x\x7fhunter2",
	} {
		_, err := store.Open(context.Background(), u)
		if err == nil {
			t.Fatalf("%q opened", u)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error repeats a secret: %v", err)
		}
	}
}
