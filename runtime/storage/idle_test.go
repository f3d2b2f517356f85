package storage_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/storage"
)

// peer is a raw connection to the host that sends a chunk request and
// then does nothing: no body, one byte of it, or no reading of the reply.
type peer struct{ net.Conn }

func dialChunk(t *testing.T, method, rawURL string, body []byte) peer {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// A small receive buffer, so a reader that does not read blocks the
	// sender soon.
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\n", method, u.RequestURI(), u.Host)
	if method == "PUT" {
		req += fmt.Sprintf("Content-Length: %d\r\n%s: 00000000\r\n", storage.MinChunkBytes, storage.CRC32CHeader)
	}
	if _, err := c.Write(append([]byte(req+"\r\n"), body...)); err != nil {
		t.Fatal(err)
	}
	return peer{c}
}

// idlePeers has mallory open 16 PUTs that send no body, 16 that send one
// byte, and 16 GETs of an 8 MiB chunk that never read, and answers the
// GET URL of her big chunk.
func idlePeers(t *testing.T, f *fixture) (puts0, puts1, gets []peer) {
	t.Helper()
	mallory := f.users["mallory"]
	mustDrive(t, f, "mallory", "m", storage.DriveOptions{})
	big := int64(8 << 20)
	if _, err := f.c.Upload(ctx(), mallory, "m", "big", bytes.NewReader(data(int(big), 3)), big, storage.UploadOptions{ChunkBytes: big}); err != nil {
		t.Fatal(err)
	}
	dl, err := f.c.OpenFile(ctx(), mallory, "m", "big", 0, 0)
	if err != nil || len(dl.Chunks) != 1 {
		t.Fatalf("open: %+v %v", dl, err)
	}
	var urls []string
	for i := 0; len(urls) < 16 && i < 16; i++ {
		size := int64(storage.InlineMaxBytes + chunk) // chunked, not inline
		c, cancel := context.WithCancel(ctx())
		_, _ = f.c.Upload(c, mallory, "m", fmt.Sprint("u", i), bytes.NewReader(data(int(size), 4)), size,
			storage.UploadOptions{ChunkBytes: chunk, OnBegin: func(u storage.Upload) {
				for _, x := range u.URLs {
					urls = append(urls, x.URL)
				}
				cancel()
			}})
		cancel()
	}
	if len(urls) < 16 {
		t.Fatalf("%d PUT URLs", len(urls))
	}
	for _, u := range urls[:16] {
		puts0 = append(puts0, dialChunk(t, "PUT", u, nil))
		puts1 = append(puts1, dialChunk(t, "PUT", u, []byte{1}))
		gets = append(gets, dialChunk(t, "GET", dl.Chunks[0].URL, nil))
	}
	time.Sleep(300 * time.Millisecond) // the handler has them all by now
	return puts0, puts1, gets
}

// TestIdlePeersHoldNoSlots is issue 25's repro: another user's chunk
// PUTs that stall (sending no body, or one byte of it) and GETs whose
// reader never reads must not delay alice's download. They used to hold
// all 16 of the data handler's slots until the server's timeouts (30 s
// and 60 s; none in this test's server).
func TestIdlePeersHoldNoSlots(t *testing.T) {
	f := start(t, "file://"+t.TempDir(), "alice", "mallory")
	mustDrive(t, f, "alice", "a", storage.DriveOptions{})
	want := data(storage.InlineMaxBytes+3*chunk, 5)
	upload(t, f, "alice", "a", "f", want)
	idlePeers(t, f)

	c, cancel := context.WithTimeout(ctx(), 5*time.Second)
	defer cancel()
	start := time.Now()
	var got bytes.Buffer
	_, err := f.c.Download(c, f.users["alice"], "a", "f", &got, storage.DownloadOptions{})
	took := time.Since(start)
	if err != nil || took > time.Second {
		t.Fatalf("alice's download beside 48 idle transfers of mallory's took %v: %v", took.Round(time.Millisecond), err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("alice's download differs")
	}
	t.Logf("alice's download of %d bytes in %d chunks took %v", len(want), (len(want)+chunk-1)/chunk, took.Round(time.Millisecond))
}

// TestIdlePeersAreCut: a PUT whose body does not start, or stops, is
// answered with an error after the pause allowed, and a GET whose reader
// does not keep up is cut at its deadline, freeing their slots.
func TestIdlePeersAreCut(t *testing.T) {
	f := start(t, "file://"+t.TempDir(), "alice", "mallory")
	f.env.Host.Storage.SetPacing(300*time.Millisecond, 200*time.Millisecond, 64<<20)
	puts0, puts1, _ := idlePeers(t, f)
	status := func(p peer) string {
		_ = p.SetReadDeadline(time.Now().Add(3 * time.Second))
		line := make([]byte, 12)
		if _, err := io.ReadFull(p, line); err != nil {
			return err.Error()
		}
		return string(line)
	}
	for i := range puts0 {
		if s := status(puts0[i]); s != "HTTP/1.1 408" {
			t.Fatalf("a PUT without a body: %q, want a 408", s)
		}
		if s := status(puts1[i]); s != "HTTP/1.1 400" {
			t.Fatalf("a PUT that stalled: %q, want a 400", s)
		}
	}
	// Every GET was cut 0.33 s after it got a slot, four at a time: by
	// now mallory's slots are all free, and her own download is quick.
	time.Sleep(time.Second)
	want := data(storage.InlineMaxBytes+chunk, 6)
	upload(t, f, "mallory", "m", "small", want)
	start := time.Now()
	c, cancel := context.WithTimeout(ctx(), 5*time.Second)
	defer cancel()
	var got bytes.Buffer
	if _, err := f.c.Download(c, f.users["mallory"], "m", "small", &got, storage.DownloadOptions{}); err != nil || time.Since(start) > time.Second {
		t.Fatalf("mallory's download after her idle GETs were cut took %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("mallory's download differs")
	}
}
