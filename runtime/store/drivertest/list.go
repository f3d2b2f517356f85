package drivertest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store"
)

// putAll writes every key (its own name as data) in a shuffled order, so a
// driver that merely returns insertion order fails the ordering checks.
func putAll(t *testing.T, b *store.Bucket, keys []string) {
	t.Helper()
	shuffled := slices.Clone(keys)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, k := range shuffled {
		_, err := b.Put(ctx(t), k, []byte(k))
		must(t, "Put "+k, err)
	}
}

// listKeys follows every page with pageSize and checks each page's bound.
func listKeys(t *testing.T, b *store.Bucket, prefix string, pageSize int) []string {
	t.Helper()
	var keys []string
	token := ""
	for pages := 0; ; pages++ {
		if pages > 2000 {
			t.Fatalf("List %q: pagination does not end", prefix)
		}
		page, err := b.List(ctx(t), prefix, token, pageSize)
		must(t, "List "+prefix, err)
		if len(page.Items) > pageSize {
			t.Fatalf("List %q: %d items in a page of %d", prefix, len(page.Items), pageSize)
		}
		for _, it := range page.Items {
			keys = append(keys, it.Key)
		}
		if page.Next == "" {
			return keys
		}
		token = page.Next
	}
}

func wantKeys(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func sorted(keys []string) []string {
	out := slices.Clone(keys)
	slices.Sort(out) // Go compares strings byte-wise: the order List must use
	return out
}

func (s *suite) testListPaging(t *testing.T, b *store.Bucket) {
	var keys []string
	for i := range 25 {
		keys = append(keys, key("page", i))
	}
	putAll(t, b, keys)
	for _, size := range []int{1, 2, 7, 1000} {
		wantKeys(t, fmt.Sprintf("pages of %d", size), listKeys(t, b, "page/", size), keys)
	}
	wantKeys(t, "empty prefix", listKeys(t, b, "", 7), keys)
	all, err := b.ListAll(ctx(t), "", 25)
	must(t, "ListAll", err)
	if len(all) != 25 {
		t.Fatalf("ListAll: %d items, want 25", len(all))
	}
	_, err = b.ListAll(ctx(t), "", 24)
	wantErr(t, "ListAll over limit", err, store.ErrTooMany)
}

func (s *suite) testListPrefix(t *testing.T, b *store.Bucket) {
	keys := []string{"dir/a", "dir/b", "dir/sub/c", "dir2/a", "di", "dj/x", "other"}
	putAll(t, b, keys)
	cases := map[string][]string{
		"dir/":     {"dir/a", "dir/b", "dir/sub/c"},
		"dir":      {"dir/a", "dir/b", "dir/sub/c", "dir2/a"},
		"di":       {"di", "dir/a", "dir/b", "dir/sub/c", "dir2/a"},
		"dir/sub/": {"dir/sub/c"},
		"dir/s":    {"dir/sub/c"},
		"nothing/": nil,
		"dir/zz":   nil,
		"":         sorted(keys),
	}
	for prefix, want := range cases {
		for _, size := range []int{1, 1000} {
			wantKeys(t, "prefix "+prefix, listKeys(t, b, prefix, size), want)
		}
	}
	page, err := b.List(ctx(t), "nothing/", "", 10)
	must(t, "List nothing", err)
	if len(page.Items) != 0 || page.Next != "" {
		t.Fatalf("List of an unmatched prefix: %+v", page)
	}
}

// testListFileAndDir: "a" and "a/b" coexist (a local folder cannot have a
// file and a directory of one name, so a driver must encode around it).
func (s *suite) testListFileAndDir(t *testing.T, b *store.Bucket) {
	putAll(t, b, []string{"a", "a/b", "a/b/c"})
	wantData(t, b, "a", []byte("a"), "")
	wantData(t, b, "a/b", []byte("a/b"), "")
	wantKeys(t, "list a", listKeys(t, b, "a", 1), []string{"a", "a/b", "a/b/c"})
	must(t, "Delete a/b", b.Delete(ctx(t), "a/b"))
	wantKeys(t, "after delete", listKeys(t, b, "", 2), []string{"a", "a/b/c"})
	must(t, "Delete a", b.Delete(ctx(t), "a"))
	wantData(t, b, "a/b/c", []byte("a/b/c"), "")
}

// testListTrickyOrder uses bytes that sort around '/' (0x2f): '-' and '.'
// sort before it, '0' and letters after; upper case before lower; non-ASCII
// after everything. A driver that walks directories naively gets this wrong.
func (s *suite) testListTrickyOrder(t *testing.T, b *store.Bucket) {
	long := strings.Repeat("L", 300)
	keys := []string{
		"t/a", "t/a/b", "t/a-c", "t/a.b", "t/a0", "t/ab", "t/A", "t/a b", "t/a~",
		"t/é", "t/€/x", "t/a/b/c", "t/a/-", "t/a/0", "t/%41", "t/_",
		"t/" + long, "t/" + long + "/x", "t/" + long + "-y", "t/" + long + "/x/y",
		"t/" + long[:150] + "/z",
	}
	putAll(t, b, keys)
	want := sorted(keys)
	for _, size := range []int{1, 3, 1000} {
		wantKeys(t, "tricky order", listKeys(t, b, "t/", size), want)
	}
	for _, prefix := range []string{"t/a", "t/a/", "t/a.", "t/" + long, "t/" + long[:10], "t/€"} {
		var sub []string
		for _, k := range want {
			if strings.HasPrefix(k, prefix) {
				sub = append(sub, k)
			}
		}
		wantKeys(t, "tricky prefix "+prefix[:min(len(prefix), 20)], listKeys(t, b, prefix, 2), sub)
	}
	for _, k := range keys {
		wantData(t, b, k, []byte(k), "")
	}
}

func (s *suite) testListInfo(t *testing.T, b *store.Bucket) {
	start := time.Now().Add(-time.Hour) // generous: server clocks may differ
	v, err := b.Put(ctx(t), "info/k", []byte("12345"))
	must(t, "Put", err)
	page, err := b.List(ctx(t), "info/", "", 10)
	must(t, "List", err)
	if len(page.Items) != 1 {
		t.Fatalf("List: %d items, want 1", len(page.Items))
	}
	it := page.Items[0]
	if it.Key != "info/k" || it.Size != 5 || it.Version != v || it.Modified.Before(start) {
		t.Fatalf("List info %+v, want key info/k, size 5, version %q, recent time", it, v)
	}
}
