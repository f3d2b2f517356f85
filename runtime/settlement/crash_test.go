package settlement

import (
	"fmt"
	"testing"

	"github.com/openacquire/acquire/runtime/store/faultstore"
)

// record runs fn with r's named writes recorded and returns them.
func (r *region) record(fn func()) []string {
	r.mu.Lock()
	r.recording, r.writes = true, nil
	r.mu.Unlock()
	fn()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recording = false
	return r.writes
}

// arm makes the occurrence-th next write at point get fault f.
func (r *region) arm(t *testing.T, point string, occurrence int, f faultstore.Fault) {
	t.Helper()
	for range occurrence {
		if err := r.fs.Force(point, faultstore.None); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.fs.Force(point, f); err != nil {
		t.Fatal(err)
	}
}

// Every write either side makes for one transfer, in turn: refused, landed
// with its answer lost, and the writing process killed just before and
// just after it. The payer retries (a restarted instance when the sender
// died; the receiver's death is an unreachable peer to it); each run must
// end committed exactly once, with both audits agreeing.
func TestCrashAtEveryStep(t *testing.T) {
	a, b, _ := pair(t, faultstore.Options{})
	alice, bob := a.user("alice", "100"), b.user("bob", "0")
	var aw, bw []string
	aw = a.record(func() {
		bw = b.record(func() {
			if st, err := a.send(Out{ID: "xt-clean", From: alice, Peer: b.url, To: bob, Amount: amt("10")}, 1); err != nil || st.State != Committed {
				t.Fatalf("clean run: %+v %v", st, err)
			}
		})
	})
	if len(aw) < 8 || len(bw) < 4 {
		t.Fatalf("recorded writes: sender %q receiver %q", aw, bw)
	}
	t.Logf("sender writes %d %q; receiver writes %d %q", len(aw), aw, len(bw), bw)
	faults := []faultstore.Fault{faultstore.FailBefore, faultstore.FailAfter, faultstore.CrashBefore, faultstore.CrashAfter}
	runs := 0
	for side, writes := range map[string][]string{"sender": aw, "receiver": bw} {
		seen := map[string]int{}
		for _, point := range writes {
			occ := seen[point]
			seen[point]++
			for _, f := range faults {
				name := fmt.Sprintf("%s/%s#%d/%s", side, point, occ, f)
				t.Run(name, func(t *testing.T) {
					a, b, clk := pair(t, faultstore.Options{})
					alice, bob := a.user("alice", "100"), b.user("bob", "0")
					target := a
					if side == "receiver" {
						target = b
					}
					target.arm(t, point, occ, f)
					st, err := a.send(Out{ID: "xt-1", From: alice, Peer: b.url, To: bob, Amount: amt("10")}, 6)
					if err != nil || st.State != Committed {
						t.Fatalf("after retries: %+v %v", st, err)
					}
					settle(t, clk, a, b)
					wantBalance(t, a, alice, "90")
					wantBalance(t, b, bob, "10")
					if d := b.decision(t, a, "xt-1"); d != Credited {
						t.Fatalf("receiver decided %q", d)
					}
					if pa, _ := agree(t, a, b); pa.Owed != amt("10") {
						t.Fatalf("position %+v", pa)
					}
				})
				runs++
			}
		}
	}
	t.Logf("%d faulted runs", runs)
}
