package storage_test

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/storage"
)

// BenchmarkTransfer moves a 256 MiB file through the service on local
// files (host-served chunk URLs, default chunk size) and through a PAR,
// beside a plain read+write+fsync copy of the same file on the same disk,
// and prints each as a share of the copy. Run with -benchtime=1x.
func BenchmarkTransfer(b *testing.B) {
	const size = 256 << 20
	dir := b.TempDir()
	src := filepath.Join(dir, "src.bin")
	writeFile(b, src, size)
	f := start(b, "file://"+filepath.Join(dir, "store"), "alice")
	alice := f.users["alice"]
	f.c.HTTP = nil // the shared transfer client, as the CLI has
	if _, err := f.c.CreateDrive(ctx(), alice, "bench", storage.DriveOptions{}); err != nil {
		b.Fatal(err)
	}
	np, err := f.c.CreatePAR(ctx(), alice, "bench", "", storage.PARReadWrite, f.env.Clock.Now().Add(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	p, err := storage.OpenPAR(f.env.Client, np.Link)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		copyT := timed(b, "plain copy", func() { plainCopy(b, src, filepath.Join(dir, "copy.bin")) })
		up := timed(b, "upload", func() {
			in := open(b, src)
			defer func() { _ = in.Close() }()
			if _, err := f.c.Upload(ctx(), alice, "bench", "f", in, size, storage.UploadOptions{}); err != nil {
				b.Fatal(err)
			}
		})
		down := timed(b, "download", func() {
			out, done := fileSink(b, filepath.Join(dir, "down.bin"))
			defer done()
			if _, err := f.c.Download(ctx(), alice, "bench", "f", out, storage.DownloadOptions{}); err != nil {
				b.Fatal(err)
			}
		})
		parUp := timed(b, "PAR upload", func() {
			in := open(b, src)
			defer func() { _ = in.Close() }()
			if _, err := p.Upload(ctx(), "g", in, size, storage.UploadOptions{}); err != nil {
				b.Fatal(err)
			}
		})
		parDown := timed(b, "PAR download", func() {
			out, done := fileSink(b, filepath.Join(dir, "pardown.bin"))
			defer done()
			if _, err := p.Download(ctx(), "g", out, storage.DownloadOptions{}); err != nil {
				b.Fatal(err)
			}
		})
		mbps := func(d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
		b.Logf("plain copy %.0f MB/s; upload %.0f MB/s (%.0f%%), download %.0f MB/s (%.0f%%); PAR upload %.0f MB/s (%.0f%%), PAR download %.0f MB/s (%.0f%%)",
			mbps(copyT), mbps(up), 100*copyT.Seconds()/up.Seconds(), mbps(down), 100*copyT.Seconds()/down.Seconds(),
			mbps(parUp), 100*copyT.Seconds()/parUp.Seconds(), mbps(parDown), 100*copyT.Seconds()/parDown.Seconds())
	}
}

// timed runs fn and answers its wall time; it logs the process's CPU time
// (user + system, client and host together) beside it, a figure that other
// load on the machine does not inflate as it does the wall time.
func timed(b *testing.B, what string, fn func()) time.Duration {
	c0 := cpuTime()
	t := time.Now()
	fn()
	wall := time.Since(t)
	b.Logf("%-13s wall %4d ms, CPU %4d ms", what, wall.Milliseconds(), (cpuTime() - c0).Milliseconds())
	return wall
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func writeFile(b *testing.B, path string, size int64) {
	out, done := fileSink(b, path)
	defer done()
	if _, err := io.Copy(out, stream(3, size)); err != nil {
		b.Fatal(err)
	}
}

func open(b *testing.B, path string) *os.File {
	in, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// fileSink creates path; done fsyncs and closes it.
func fileSink(b *testing.B, path string) (*os.File, func()) {
	out, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	return out, func() {
		if err := out.Sync(); err != nil {
			b.Fatal(err)
		}
		_ = out.Close()
	}
}

func plainCopy(b *testing.B, from, to string) {
	in := open(b, from)
	defer func() { _ = in.Close() }()
	out, done := fileSink(b, to)
	defer done()
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
}
