package ledger

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/openacquire/acquire/runtime/store"
)

const bankAccounts = 10

func bankSetup(t testing.TB, l *Ledger) {
	for i := range bankAccounts {
		acc := fmt.Sprintf("acc%d", i)
		mustAccount(t, l, acc, fmt.Sprint(i%3*5))
		deposit(t, l, "init-"+acc, acc, "100")
	}
}

// randomTransfers makes n random transfers (some provisional, then
// receipted, refunded or left) among the bank accounts, retrying some ids,
// and returns the acknowledged outcome of each id.
func randomTransfers(ctx context.Context, l *Ledger, prefix string, n int, seed uint64) (map[string]State, error) {
	rng := rand.New(rand.NewPCG(seed, 7))
	acked := map[string]State{}
	for i := range n {
		from, to := rng.IntN(bankAccounts), rng.IntN(bankAccounts-1)
		if to >= from {
			to++
		}
		req := TransferRequest{
			ID: fmt.Sprintf("%s-%d", prefix, i), From: fmt.Sprintf("acc%d", from), To: fmt.Sprintf("acc%d", to),
			Amount:        Amount{micros: int64(rng.IntN(30_000_000) + 1)},
			Authorisation: "auth-" + prefix,
		}
		prov := rng.IntN(4) == 0
		if prov {
			req.ReceiptBy = l.clock().Add(1 << 40)
		}
		res, err := l.Transfer(ctx, req)
		if errors.Is(err, ErrInsufficientFunds) {
			acked[req.ID] = StateRefused
			continue
		}
		if err != nil {
			return acked, err
		}
		if rng.IntN(5) == 0 { // a client retry
			again, err := l.Transfer(ctx, req)
			if err != nil || again != res {
				return acked, fmt.Errorf("retry of %s: %+v %w, first %+v", req.ID, again, err, res)
			}
		}
		if prov {
			switch rng.IntN(3) {
			case 0:
				res, err = l.Receipt(ctx, req.ID, Amount{micros: rng.Int64N(req.Amount.micros) + 1}, "")
			case 1:
				res, err = l.Refund(ctx, req.ID, "")
			}
			if err != nil {
				return acked, err
			}
		}
		acked[req.ID] = res.State
	}
	return acked, nil
}

// checkAcked asserts that every acknowledged transfer appears exactly once
// with its acknowledged outcome, and that Audit passes.
func checkAcked(t *testing.T, b *store.Bucket, acked map[string]State) {
	ctx := context.Background()
	l := newLedger(t, b)
	rep := audit(t, l)
	for id, st := range acked {
		res, err := l.Complete(ctx, id)
		if st == StateRefused {
			if !errors.Is(err, ErrInsufficientFunds) {
				t.Fatalf("%s acknowledged refused, now %+v %v", id, res, err)
			}
			continue
		}
		if err != nil || res.State != st {
			t.Fatalf("%s acknowledged %s, now %+v %v", id, st, res, err)
		}
	}
	// Every recorded transfer was acknowledged (no strays), plus the deposits.
	if rep.Transfers != len(acked)+bankAccounts {
		t.Fatalf("audit saw %d transfers, acknowledged %d + %d deposits", rep.Transfers, len(acked), bankAccounts)
	}
	t.Logf("audit: %+v", rep)
}

func TestConcurrentGoroutines(t *testing.T) {
	n := 25
	if testing.Short() {
		n = 8
	}
	eachStore(t, func(t *testing.T, b *store.Bucket) {
		ctx := context.Background()
		bankSetup(t, newLedger(t, b))
		// 20 goroutines over 4 ledgers (as if 4 instances in one process).
		ls := []*Ledger{newLedger(t, b), newLedger(t, b), newLedger(t, b), newLedger(t, b)}
		var mu sync.Mutex
		acked := map[string]State{}
		var wg sync.WaitGroup
		for g := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := randomTransfers(ctx, ls[g%len(ls)], fmt.Sprintf("g%d", g), n, uint64(g))
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				for k, v := range got {
					acked[k] = v
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		for _, l := range ls {
			_ = l.Close()
		}
		checkAcked(t, b, acked)
	})
}

// TestConcurrentProcesses runs 4 OS processes (this test binary re-executed)
// making random transfers against one folder.
func TestConcurrentProcesses(t *testing.T) {
	if os.Getenv("LEDGER_CHILD_DIR") != "" {
		t.Skip("child")
	}
	dir := t.TempDir()
	b, err := store.Open(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	bankSetup(t, newLedger(t, b))
	n := 60
	if testing.Short() {
		n = 15
	}
	var cmds []*exec.Cmd
	for p := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "LEDGER_CHILD_DIR="+dir, fmt.Sprintf("LEDGER_CHILD_ID=%d", p),
			fmt.Sprintf("LEDGER_CHILD_N=%d", n), "LEDGER_CHILD_OUT="+filepath.Join(dir, fmt.Sprintf("acked-%d.txt", p)))
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("child %d output:\n%s", p, out.String())
			}
		})
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	acked := map[string]State{}
	for p := range 4 {
		f, err := os.Open(filepath.Join(dir, fmt.Sprintf("acked-%d.txt", p)))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			id, st, _ := strings.Cut(sc.Text(), " ")
			acked[id] = State(st)
		}
		_ = f.Close()
	}
	if len(acked) != 4*5*n {
		t.Fatalf("%d acknowledged, want %d", len(acked), 4*5*n)
	}
	checkAcked(t, b, acked)
}

// TestChildProcess is the body of one process of TestConcurrentProcesses:
// 5 goroutines making random transfers; it writes "id state" per
// acknowledged transfer.
func TestChildProcess(t *testing.T) {
	dir := os.Getenv("LEDGER_CHILD_DIR")
	if dir == "" {
		t.Skip("only run as a child of TestConcurrentProcesses")
	}
	ctx := context.Background()
	b, err := store.Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	l := newLedger(t, b)
	var n int
	fmt.Sscan(os.Getenv("LEDGER_CHILD_N"), &n)
	id := os.Getenv("LEDGER_CHILD_ID")
	var mu sync.Mutex
	var lines []string
	var wg sync.WaitGroup
	for g := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var seed uint64
			fmt.Sscan(id, &seed)
			got, err := randomTransfers(ctx, l, fmt.Sprintf("p%s-g%d", id, g), n, seed*100+uint64(g))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			for k, v := range got {
				lines = append(lines, k+" "+string(v))
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	_ = l.Close()
	if err := os.WriteFile(os.Getenv("LEDGER_CHILD_OUT"), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}
