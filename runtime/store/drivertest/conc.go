package drivertest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store"
)

// racers is how many goroutines contend in each race test.
const racers = 20

func (s *suite) testJSON(t *testing.T, b *store.Bucket) {
	type rec struct {
		N    int    `json:"n"`
		Name string `json:"name"`
	}
	v1, err := b.PutJSONIfAbsent(ctx(t), "json", rec{1, "one"})
	must(t, "PutJSONIfAbsent", err)
	_, err = b.PutJSONIfAbsent(ctx(t), "json", rec{9, "nine"})
	wantErr(t, "PutJSONIfAbsent again", err, store.ErrPrecondition)
	var got rec
	v, err := b.GetJSON(ctx(t), "json", &got)
	must(t, "GetJSON", err)
	if got != (rec{1, "one"}) || v != v1 {
		t.Fatalf("GetJSON = %+v %q", got, v)
	}
	v2, err := b.PutJSONIfVersion(ctx(t), "json", rec{2, "two"}, v1)
	must(t, "PutJSONIfVersion", err)
	if v, err = b.GetJSON(ctx(t), "json", &got); err != nil || got != (rec{2, "two"}) || v != v2 {
		t.Fatalf("GetJSON after PutJSONIfVersion = %+v %q %v", got, v, err)
	}
	_, err = b.PutJSONIfVersion(ctx(t), "json", rec{3, "three"}, v1)
	wantErr(t, "PutJSONIfVersion stale", err, store.ErrPrecondition)
	_, err = b.PutJSON(ctx(t), "json", rec{4, "four"})
	must(t, "PutJSON", err)
	_, err = b.PutJSON(ctx(t), "json", func() {})
	if err == nil {
		t.Fatal("PutJSON of a func succeeded")
	}
	_, err = b.Put(ctx(t), "notjson", []byte("{"))
	must(t, "Put", err)
	if _, err := b.GetJSON(ctx(t), "notjson", &got); err == nil || !strings.Contains(err.Error(), "notjson") {
		t.Fatalf("GetJSON of bad JSON: %v", err)
	}
}

func (s *suite) testUpdate(t *testing.T, b *store.Bucket) {
	calls := 0
	_, err := b.Update(ctx(t), "upd", 3, func(old []byte, exists bool) ([]byte, error) {
		calls++
		if exists || old != nil {
			t.Fatalf("Update on absent key: exists=%v old=%q", exists, old)
		}
		return []byte("created"), nil
	})
	must(t, "Update create", err)
	v, err := b.Update(ctx(t), "upd", 3, func(old []byte, exists bool) ([]byte, error) {
		if !exists || string(old) != "created" {
			t.Fatalf("Update: exists=%v old=%q", exists, old)
		}
		return []byte("updated"), nil
	})
	must(t, "Update existing", err)
	wantData(t, b, "upd", []byte("updated"), v)
	stop := errors.New("stop")
	_, err = b.Update(ctx(t), "upd", 3, func([]byte, bool) ([]byte, error) { return nil, stop })
	wantErr(t, "Update aborted by fn", err, stop)
	wantData(t, b, "upd", []byte("updated"), v)
	_, err = b.Update(ctx(t), "upd", 0, func([]byte, bool) ([]byte, error) { return nil, nil })
	wantErr(t, "Update with 0 attempts", err, store.ErrInvalidArgument)
	if calls != 1 {
		t.Fatalf("fn ran %d times without contention, want 1", calls)
	}
}

// testErrorsNameKey: errors must say which key failed but must not carry
// the object's bytes, which may be secret.
func (s *suite) testErrorsNameKey(t *testing.T, b *store.Bucket) {
	_, err := b.PutIfAbsent(ctx(t), "named/key", []byte("first"))
	must(t, "PutIfAbsent", err)
	_, err = b.PutIfAbsent(ctx(t), "named/key", []byte("secret-payload"))
	wantErr(t, "PutIfAbsent", err, store.ErrPrecondition)
	if msg := err.Error(); !strings.Contains(msg, "named/key") || strings.Contains(msg, "secret-payload") {
		t.Fatalf("error %q should name the key and not the data", msg)
	}
	_, _, err = b.Get(ctx(t), "named/missing")
	if !strings.Contains(fmt.Sprint(err), "named/missing") {
		t.Fatalf("Get error %q does not name the key", err)
	}
}

// race runs fn on racers goroutines released together and returns the
// errors, one per goroutine.
func race(fn func(i int) error) []error {
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner checks exactly one nil error and ErrPrecondition for the rest,
// and returns the winner's index.
func oneWinner(t *testing.T, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("two winners: %d and %d", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrPrecondition):
			t.Fatalf("racer %d: %v, want ErrPrecondition", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no winner")
	}
	return winner
}

func (s *suite) testRacePutIfAbsent(t *testing.T, b *store.Bucket) {
	c := ctx(t)
	errs := race(func(i int) error {
		_, err := b.PutIfAbsent(c, "race/pia", []byte(strconv.Itoa(i)))
		return err
	})
	w := oneWinner(t, errs)
	wantData(t, b, "race/pia", []byte(strconv.Itoa(w)), "")
}

func (s *suite) testRacePutIfVersion(t *testing.T, b *store.Bucket) {
	c := ctx(t)
	v0, err := b.Put(c, "race/piv", []byte("start"))
	must(t, "Put", err)
	errs := race(func(i int) error {
		_, err := b.PutIfVersion(c, "race/piv", []byte(strconv.Itoa(i)), v0)
		return err
	})
	w := oneWinner(t, errs)
	wantData(t, b, "race/piv", []byte(strconv.Itoa(w)), "")
}

// testRaceUpdate: concurrent read-modify-write through Update must lose no
// increment.
func (s *suite) testRaceUpdate(t *testing.T, b *store.Bucket) {
	perRacer := 10
	if testing.Short() {
		perRacer = 3
	}
	c := ctx(t)
	errs := race(func(int) error {
		for range perRacer {
			if _, err := b.Update(c, "race/counter", store.MaxUpdateAttempts, Increment); err != nil {
				return err
			}
		}
		return nil
	})
	for i, err := range errs {
		must(t, fmt.Sprintf("racer %d", i), err)
	}
	wantData(t, b, "race/counter", []byte(strconv.Itoa(racers*perRacer)), "")
}

// Increment is an Update function over a decimal counter; it is exported
// for drivers' own multi-process tests.
func Increment(old []byte, exists bool) ([]byte, error) {
	n := 0
	if exists {
		var err error
		if n, err = strconv.Atoi(string(old)); err != nil {
			return nil, err
		}
	}
	return []byte(strconv.Itoa(n + 1)), nil
}

// testSignedURL: a driver that cannot sign says so by ErrUnsupported and the
// test is skipped by name; one that can must serve the bytes over HTTP.
func (s *suite) testSignedURL(t *testing.T, b *store.Bucket) {
	data := []byte("signed content")
	_, err := b.Put(ctx(t), "signed/k", data)
	must(t, "Put", err)
	u, err := b.SignedURL(ctx(t), "signed/k", "GET", time.Minute)
	if errors.Is(err, store.ErrUnsupported) {
		t.Skipf("driver %s does not sign URLs (ErrUnsupported): signed URLs not tested", s.driverName)
	}
	must(t, "SignedURL", err)
	_, err = b.SignedURL(ctx(t), "signed/k", "DELETE", time.Minute)
	wantErr(t, "SignedURL DELETE", err, store.ErrInvalidArgument)
	got := httpGet(t, u)
	if !bytes.Equal(got, data) {
		t.Fatalf("GET signed URL: %q, want %q", got, data)
	}
}

func httpGet(t *testing.T, u string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, u, nil)
	must(t, "request", err)
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	must(t, "GET signed URL", err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	must(t, "read body", err)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET signed URL: status %d: %.200s", resp.StatusCode, body)
	}
	return body
}

func (s *suite) testClosed(t *testing.T, b *store.Bucket) {
	must(t, "Close", b.Close())
	_, _, err := b.Get(ctx(t), "k")
	wantErr(t, "Get after Close", err, store.ErrClosed)
	_, err = b.Put(ctx(t), "k", nil)
	wantErr(t, "Put after Close", err, store.ErrClosed)
	_, err = b.List(ctx(t), "", "", 1)
	wantErr(t, "List after Close", err, store.ErrClosed)
}
