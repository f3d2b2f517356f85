package channel

import (
	"testing"
	"time"
)

// FuzzAccept feeds arbitrary bytes to a service's fast-path door: the frame
// parser, the ticket opener, the AEAD and the window. Nothing but a frame
// sealed under a real channel may be accepted, and nothing may panic.
// The client's reply parser gets the same bytes.
func FuzzAccept(f *testing.F) {
	srv, err := NewServer("https://svc.example/accounting")
	if err != nil {
		f.Fatal(err)
	}
	half, _ := NewHalf()
	spub, tk, b, err := srv.Open(half.PublicKey().Bytes(), binding(), t0)
	if err != nil {
		f.Fatal(err)
	}
	c, err := Establish(half, spub, tk, b)
	if err != nil {
		f.Fatal(err)
	}
	for range 3 {
		fr, _, _ := c.Seal("balance", []byte(`{}`), "", t0)
		f.Add(fr)
	}
	f.Add([]byte("AQF1\x01\x00\x01x\x00\x00\x00\x00\x00\x00\x00\x01"))
	f.Add([]byte("AQF1\x03{\"class\":\"X\"}"))
	f.Add([]byte("AQF1\x02\x00\x00\x00\x00\x00\x00\x00\x01"))
	f.Add([]byte(`{"data":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := srv.Accept(body, t0, time.Minute)
		if err == nil && (got.SessionUID != "s1" || got.Inner.Function != "balance") {
			t.Fatalf("accepted a frame not made by the channel: %+v", got)
		}
		_, _, _ = c.Open(body, 1)
		_, _ = ParseRequest(body)
		_, _ = decodeTicket(body)
	})
}
