package compute_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/compute"
)

// blockPath fails every request to a path, as an unreachable service.
type blockPath struct {
	inner http.RoundTripper
	path  string
}

func (b blockPath) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, b.path) {
		return nil, errors.New("blocked by the test")
	}
	return b.inner.RoundTrip(r)
}

// Agents must sign with their registered cluster's key, freshly; only
// admins register clusters.
func TestClusterAuth(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	other, err := compute.GenerateClusterKey(cluster)
	if err != nil {
		t.Fatal(err)
	}
	forged := &compute.AgentClient{C: f.env.Client, URL: f.cc.URL, Key: other, Agent: "x"}
	_, err = forged.Claim(ctx)
	wantClass(t, err, compute.ErrClusterAuth)
	unknown, _ := compute.GenerateClusterKey("nope")
	_, err = (&compute.AgentClient{C: f.env.Client, URL: f.cc.URL, Key: unknown, Agent: "x"}).Claim(ctx)
	wantClass(t, err, compute.ErrUnknownCluster)
	// A statement for another service does not verify here.
	st := f.key.Sign("http://elsewhere/compute", "x", compute.ClaimResource, f.env.Clock.Now())
	err = f.env.Client.Call(ctx, f.cc.URL, "claim_job", &compute.ClaimArgs{Auth: st}, nil)
	wantClass(t, err, compute.ErrClusterAuth)
	// A stale statement is refused.
	st = f.key.Sign(f.cc.URL, "x", compute.ClaimResource, f.env.Clock.Now().Add(-compute.ClusterAuthMaxAge-time.Second))
	err = f.env.Client.Call(ctx, f.cc.URL, "claim_job", &compute.ClaimArgs{Auth: st}, nil)
	wantClass(t, err, compute.ErrClusterAuth)

	_, err = f.cc.RegisterCluster(ctx, f.alice, "c2", other.PublicKey())
	wantClass(t, err, call.ErrPermission)
	_, err = f.cc.RegisterCluster(ctx, f.carol, cluster, other.PublicKey())
	wantClass(t, err, call.ErrExists)
	if cl, err := f.cc.RegisterCluster(ctx, f.carol, cluster, f.key.PublicKey()); err != nil || cl.Name != cluster {
		t.Fatalf("re-register same key: %+v %v", cl, err)
	}
	// submit_job is for the access service only.
	fa := &access.FulfilArgs{RequestUID: strings.Repeat("a", 32), Resource: "job/run", Details: "{}"}
	cr, err := f.env.Host.Accounting.Service().Credentials(ctx, f.cc.URL, access.FulfilResource(fa), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	fa.Credentials = cr
	err = f.env.Client.Call(ctx, f.cc.URL, "submit_job", fa, nil)
	wantClass(t, err, auth.ErrServiceNotTrusted)
}

// Bad specs and jobs that cannot end before the hold are refused, and the
// payment is refunded; a cluster that does not exist too.
func TestSpecsRefused(t *testing.T) {
	f := setup(t)
	for _, spec := range []compute.JobSpec{
		{Command: ""},
		{Command: "/bin/true", TimeoutS: int64(compute.MaxJobTimeout/time.Second) + 1},
		{Command: "/bin/true", TimeoutS: 6 * 3600}, // the hold is 6 h: no room to settle
		{Command: "/bin/true", Env: map[string]string{"BAD NAME": "x"}},
		{Command: "/bin/true", Input: "file:///etc"},
		{Command: "/bin/true", Cluster: "nope"},
	} {
		_, err := f.submit(t, spec)
		wantClass(t, err, access.ErrFulfilmentFailed)
	}
	f.money(t, "100", "0", "0")
}
