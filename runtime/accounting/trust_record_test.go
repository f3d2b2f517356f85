package accounting_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// TestTrustRecordAdmitsAService: a service on neither the configured list
// nor the trust record is refused, naming it; once the record on the
// accounting service's store lists it, the running service lets it own
// accounts, with no restart.
func TestTrustRecordAdmitsAService(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	b, err := store.Open(ctx, "mem://trust-record-stranger-"+time.Now().Format("150405.000000000"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	stranger, err := service.New(ctx, service.Config{Kind: "stranger", URL: srv.URL + "/stranger", Bucket: b,
		Secret: "Stranger-Service-Secret-1", Clock: f.env.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = stranger
	_, err = f.acc.CreateAccount(ctx, stranger, "takings", amt("0"))
	wantClass(t, err, auth.ErrServiceNotTrusted)
	if err == nil || !strings.Contains(err.Error(), stranger.URL()) {
		t.Fatalf("the refusal must name the service: %v", err)
	}
	time.Sleep(150 * time.Millisecond) // past the stranger rate limit, whatever the load
	if _, err := service.SetTrusted(ctx, f.env.Host.Service("accounting").Bucket(), stranger.URL(), true, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.acc.CreateAccount(ctx, stranger, "takings", amt("0")); err != nil {
		t.Fatalf("trusted by the record, still refused: %v", err)
	}
}
