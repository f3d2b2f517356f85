package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store/memstore"
)

// fakeDriver wraps the memory driver and injects faults per method.
type fakeDriver struct {
	*memstore.Driver
	getErrs   []error // returned by successive Gets before delegating
	gets      int
	putErr    error
	puts      int
	page      *Page // returned by List when set
	listSizes []int
}

func (f *fakeDriver) Get(ctx context.Context, key string) ([]byte, Version, error) {
	f.gets++
	if len(f.getErrs) > 0 {
		err := f.getErrs[0]
		f.getErrs = f.getErrs[1:]
		return nil, "", err
	}
	return f.Driver.Get(ctx, key)
}

func (f *fakeDriver) Put(ctx context.Context, key string, data []byte) (Version, error) {
	f.puts++
	if f.putErr != nil {
		return "", f.putErr
	}
	return f.Driver.Put(ctx, key, data)
}

func (f *fakeDriver) List(ctx context.Context, prefix, token string, size int) (Page, error) {
	f.listSizes = append(f.listSizes, size)
	if f.page != nil {
		return *f.page, nil
	}
	return f.Driver.List(ctx, prefix, token, size)
}

func newFake() (*fakeDriver, *Bucket) {
	f := &fakeDriver{Driver: memstore.New()}
	return f, NewBucket(f)
}

func TestReadsRetryTransient(t *testing.T) {
	f, b := newFake()
	ctx := context.Background()
	if _, err := b.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	f.getErrs = []error{ErrTransient, ErrTransient}
	if got, _, err := b.Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Fatalf("Get after 2 transient errors: %q %v", got, err)
	}
	f.gets, f.getErrs = 0, []error{ErrTransient, ErrTransient, ErrTransient, ErrTransient}
	if _, _, err := b.Get(ctx, "k"); !errors.Is(err, ErrTransient) || f.gets != ReadAttempts {
		t.Fatalf("Get: %v after %d attempts, want ErrTransient after %d", err, f.gets, ReadAttempts)
	}
}

func TestWritesNotRetried(t *testing.T) {
	f, b := newFake()
	f.putErr = ErrTransient
	if _, err := b.Put(context.Background(), "k", []byte("v")); !errors.Is(err, ErrTransient) || f.puts != 1 {
		t.Fatalf("Put: %v after %d attempts, want 1", err, f.puts)
	}
}

func TestDriverBugsCaught(t *testing.T) {
	f, b := newFake()
	ctx := context.Background()
	f.page = &Page{Items: []ObjectInfo{{Key: "b", Version: "1"}, {Key: "a", Version: "1"}}}
	if _, err := b.List(ctx, "", "", 10); err == nil {
		t.Fatal("unsorted page accepted")
	}
	f.page = &Page{Items: []ObjectInfo{{Key: "other", Version: "1"}}}
	if _, err := b.List(ctx, "p/", "", 10); err == nil {
		t.Fatal("page outside prefix accepted")
	}
	f.page = &Page{Items: nil, Next: "same"}
	if _, err := b.ListAll(ctx, "", 10); err == nil || !strings.Contains(err.Error(), "progress") {
		t.Fatalf("ListAll with a stuck token: %v", err)
	}
}

func TestEmptyVersionCaught(t *testing.T) {
	f, _ := newFake()
	b := NewBucket(emptyVersionDriver{f})
	if _, err := b.Put(context.Background(), "k", nil); err == nil {
		t.Fatal("empty version accepted")
	}
}

type emptyVersionDriver struct{ *fakeDriver }

func (emptyVersionDriver) Put(context.Context, string, []byte) (Version, error) { return "", nil }

func TestListClampsPageSize(t *testing.T) {
	f, b := newFake()
	for _, size := range []int{-5, 0, 1, MaxPageSize, MaxPageSize + 1} {
		if _, err := b.List(context.Background(), "", "", size); err != nil {
			t.Fatal(err)
		}
	}
	want := []int{1, 1, 1, MaxPageSize, MaxPageSize}
	for i, got := range f.listSizes {
		if got != want[i] {
			t.Fatalf("page sizes %v, want %v", f.listSizes, want)
		}
	}
}

func TestUpdateGivesUp(t *testing.T) {
	_, b := newFake()
	ctx := context.Background()
	if _, err := b.Put(ctx, "k", []byte("0")); err != nil {
		t.Fatal(err)
	}
	// fn changes the key behind Update's back, so every CAS loses.
	calls := 0
	_, err := b.Update(ctx, "k", 3, func([]byte, bool) ([]byte, error) {
		calls++
		if _, err := b.Put(ctx, "k", []byte("interloper")); err != nil {
			return nil, err
		}
		return []byte("mine"), nil
	})
	if !errors.Is(err, ErrPrecondition) || calls != 3 {
		t.Fatalf("Update: %v after %d calls, want ErrPrecondition after 3", err, calls)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.Update(cctx, "k", 3, func([]byte, bool) ([]byte, error) { return nil, nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Update with cancelled context: %v", err)
	}
}

func TestArgumentsChecked(t *testing.T) {
	_, b := newFake()
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["PutIfVersion empty version"] = b.PutIfVersion(ctx, "k", nil, "")
	checks["DeleteIfVersion long version"] = b.DeleteIfVersion(ctx, "k", Version(strings.Repeat("v", MaxVersionBytes+1)))
	_, checks["SignedURL method"] = b.SignedURL(ctx, "k", "POST", time.Minute)
	_, checks["SignedURL expiry"] = b.SignedURL(ctx, "k", "GET", 8*24*time.Hour)
	_, checks["SignedURL zero expiry"] = b.SignedURL(ctx, "k", "GET", 0)
	_, checks["ListAll limit"] = b.ListAll(ctx, "", -1)
	_, checks["List token"] = b.List(ctx, "", strings.Repeat("t", MaxPageTokenBytes+1), 1)
	_, checks["Update attempts"] = b.Update(ctx, "k", MaxUpdateAttempts+1, nil)
	for what, err := range checks {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", what, err)
		}
	}
	if _, err := b.List(ctx, "", "!!not base64", 1); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("List bad token: %v", err)
	}
}
