package channel

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

const skew = 2 * time.Minute

func binding() Binding {
	return Binding{IdentityURL: "https://id.example", UserUID: "u1", SessionUID: "s1", Expires: t0.Add(24 * time.Hour)}
}

// pair opens a channel between a new client and srv, as fastpath_open does.
func pair(t *testing.T, srv *Server) *Client {
	t.Helper()
	half, err := NewHalf()
	if err != nil {
		t.Fatal(err)
	}
	spub, tk, b, err := srv.Open(half.PublicKey().Bytes(), binding(), t0)
	if err != nil {
		t.Fatal(err)
	}
	cb := binding()
	cb.ID, cb.Expires, cb.Audience = b.ID, b.Expires, "https://svc.example/accounting"
	c, err := Establish(half, spub, tk, cb)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func server(t *testing.T, url string) *Server {
	t.Helper()
	s, err := NewServer(url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seal(t *testing.T, c *Client, fn string, at time.Time) ([]byte, uint64) {
	t.Helper()
	f, seq, err := c.Seal(fn, json.RawMessage(`{"account":"a"}`), "", at)
	if err != nil {
		t.Fatal(err)
	}
	return f, seq
}

func wantClass(t *testing.T, err error, class *call.Error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("got %v, want %s", err, class.Class)
	}
}

func TestRoundTrip(t *testing.T) {
	srv := server(t, "https://svc.example/accounting")
	c := pair(t, srv)
	f, seq := seal(t, c, "balance", t0)
	got, err := srv.Accept(f, t0, skew)
	if err != nil {
		t.Fatal(err)
	}
	if got.Inner.Function != "balance" || string(got.Inner.Payload) != `{"account":"a"}` || got.UserUID != "u1" ||
		got.SessionUID != "s1" || got.Audience != "https://svc.example/accounting" || got.ID != c.ID {
		t.Fatalf("accepted %+v", got)
	}
	reply, err := got.Reply([]byte(`{"status":0}`))
	if err != nil {
		t.Fatal(err)
	}
	plain, refusal, err := c.Open(reply, seq)
	if err != nil || refusal != nil || string(plain) != `{"status":0}` {
		t.Fatalf("reply: %q %v %v", plain, refusal, err)
	}
	// The reply of one call does not pass for another's.
	if _, _, err := c.Open(reply, seq+1); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("reply moved to another call: %v", err)
	}
	// A request reflected back to the client is not a reply.
	if _, _, err := c.Open(f, seq); err == nil {
		t.Fatal("a request frame opened as a reply")
	}
}

func TestReplayIsRefused(t *testing.T) {
	srv := server(t, "https://svc.example/accounting")
	c := pair(t, srv)
	f, _ := seal(t, c, "transfer", t0)
	if _, err := srv.Accept(f, t0, skew); err != nil {
		t.Fatal(err)
	}
	_, err := srv.Accept(f, t0, skew)
	wantClass(t, err, call.ErrReplay)
}

func TestReorderedBeyondTheWindowIsRefused(t *testing.T) {
	srv := server(t, "https://svc.example/accounting")
	c := pair(t, srv)
	old, _ := seal(t, c, "balance", t0)
	var within []byte
	for i := range Window {
		f, _ := seal(t, c, "balance", t0)
		if i == Window-2 {
			within = f // sent late, but Window-1 behind: still inside
			continue
		}
		if _, err := srv.Accept(f, t0, skew); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.Accept(within, t0, skew); err != nil {
		t.Fatalf("a call reordered within the window was refused: %v", err)
	}
	_, err := srv.Accept(old, t0, skew)
	wantClass(t, err, ErrBehind)
	_, err = srv.Accept(within, t0, skew)
	wantClass(t, err, call.ErrReplay)
}

func TestWindowRing(t *testing.T) {
	var w window
	for _, seq := range []uint64{5, 3, Window + 4, 2*Window + 100, 2*Window + 99, 2*Window + 150} {
		if err := w.mark(seq); err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
	}
	// Window+4 is still inside, and seen; 2*Window+101 is inside and unseen (its ring bit was cleared on the way up).
	if err := w.mark(2*Window + 99); !errors.Is(err, call.ErrReplay) {
		t.Fatalf("a replay inside the window: %v", err)
	}
	if err := w.mark(2*Window + 101); err != nil {
		t.Fatalf("an unseen number inside the window: %v", err)
	}
	if err := w.mark(Window + 4); !errors.Is(err, ErrBehind) {
		t.Fatalf("a number behind the window: %v", err)
	}
}

func TestTamperedIsRefusedAndBurnsNoSequenceNumber(t *testing.T) {
	srv := server(t, "https://svc.example/accounting")
	c := pair(t, srv)
	f, _ := seal(t, c, "transfer", t0)
	for i := range f {
		bad := append([]byte(nil), f...)
		bad[i] ^= 0x01
		if _, err := srv.Accept(bad, t0, skew); err == nil {
			t.Fatalf("a frame with byte %d changed was accepted", i)
		}
	}
	// Every change was refused before the window moved: the genuine frame still goes through.
	if _, err := srv.Accept(f, t0, skew); err != nil {
		t.Fatalf("the genuine frame after forgeries: %v", err)
	}
	// A body change (past the header) is an integrity error, not anything milder.
	bad := append([]byte(nil), f...)
	bad[len(bad)-1] ^= 0x80
	_, err := srv.Accept(bad, t0, skew)
	wantClass(t, err, ErrIntegrity)
}

func TestAnotherServicesChannelIsRefused(t *testing.T) {
	a := server(t, "https://svc.example/accounting")
	b := server(t, "https://svc.example/storage")
	c := pair(t, a)
	f, _ := seal(t, c, "balance", t0)
	_, err := b.Accept(f, t0, skew)
	wantClass(t, err, ErrUnknown)
	// And a restart of the same service (a new instance key) does not know it either.
	_, err = server(t, "https://svc.example/accounting").Accept(f, t0, skew)
	wantClass(t, err, ErrUnknown)
}

func TestAudienceInsideTheTicketIsChecked(t *testing.T) {
	// Two services that (wrongly) shared an instance key still refuse each other's channels.
	a := server(t, "https://svc.example/accounting")
	b := &Server{audience: "https://svc.example/storage", tickets: a.tickets, windows: a.windows}
	f, _ := seal(t, pair(t, a), "balance", t0)
	_, err := b.Accept(f, t0, skew)
	wantClass(t, err, ErrAudience)
}

func TestExpiredChannelIsRefused(t *testing.T) {
	srv := server(t, "https://svc.example/accounting")
	c := pair(t, srv)
	if c.Expires != t0.Add(Life) {
		t.Fatalf("channel expires %s, want the open time plus Life", c.Expires)
	}
	late := c.Expires.Add(time.Second)
	f, _ := seal(t, c, "balance", late)
	_, err := srv.Accept(f, late, skew)
	wantClass(t, err, ErrExpired)
	if !c.Expired(c.Expires.Add(-30 * time.Second)) {
		t.Fatal("the client would send a call half a minute before its channel expires")
	}
}

func TestSessionExpiryEndsTheChannelFirst(t *testing.T) {
	srv := server(t, "https://svc.example/accounting")
	half, _ := NewHalf()
	b := binding()
	b.Expires = t0.Add(10 * time.Minute)
	_, _, got, err := srv.Open(half.PublicKey().Bytes(), b, t0)
	if err != nil || !got.Expires.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("expires %s, %v", got.Expires, err)
	}
}

func TestStaleRequestTimeIsRefused(t *testing.T) {
	srv := server(t, "https://svc.example/accounting")
	c := pair(t, srv)
	f, _ := seal(t, c, "balance", t0.Add(-3*time.Minute))
	_, err := srv.Accept(f, t0, skew)
	wantClass(t, err, call.ErrClock)
}

func TestKeysCommitToTheBinding(t *testing.T) {
	srv := server(t, "https://svc.example/accounting")
	half, _ := NewHalf()
	spub, tk, b, err := srv.Open(half.PublicKey().Bytes(), binding(), t0)
	if err != nil {
		t.Fatal(err)
	}
	cb := binding()
	cb.ID, cb.Expires, cb.Audience, cb.SessionUID = b.ID, b.Expires, b.Audience, "s2" // the client thinks another session
	c, err := Establish(half, spub, tk, cb)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := seal(t, c, "balance", t0)
	_, err = srv.Accept(f, t0, skew)
	wantClass(t, err, ErrIntegrity)
}

func TestBadHalvesAreRefused(t *testing.T) {
	srv := server(t, "https://svc.example/accounting")
	for _, pub := range [][]byte{nil, make([]byte, 31), make([]byte, 32)} { // the last is the all-zero, low-order point
		if _, _, _, err := srv.Open(pub, binding(), t0); !errors.Is(err, call.ErrBadArguments) {
			t.Fatalf("half %x: %v", pub, err)
		}
	}
}

func TestWindowBound(t *testing.T) {
	srv := server(t, "https://svc.example/accounting")
	c := pair(t, srv)
	for i := 0; len(srv.windows) < MaxChannels; i++ {
		srv.windows[ID{byte(i), byte(i >> 8), byte(i >> 16), 1}] = &window{}
	}
	pair(t, srv) // over the bound: the table starts again
	if len(srv.windows) != 1 {
		t.Fatalf("%d windows after the bound", len(srv.windows))
	}
	f, _ := seal(t, c, "balance", t0)
	_, err := srv.Accept(f, t0, skew)
	wantClass(t, err, ErrUnknown)
}

func TestRefusalFrame(t *testing.T) {
	srv := server(t, "https://svc.example/accounting")
	c := pair(t, srv)
	_, refusal, err := c.Open(Refusal(call.Errorf(ErrUnknown, "gone")), 1)
	if err != nil || refusal == nil || !errors.Is(refusal, ErrUnknown) {
		t.Fatalf("refusal %v %v", refusal, err)
	}
}
