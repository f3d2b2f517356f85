// Package browsertest runs the pages in a real Chromium for tests: one
// headless browser per test binary, a fresh tab per test. Chromium is
// Debian's package, installed by `make chromium` (a dependency of `make
// test`); $ACQUIRE_CHROMIUM names another binary.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// EnvChromium names the browser binary; EnvScreenshots the folder the
// tests save their screenshots in (default: a folder under the temp dir).
const (
	EnvChromium    = "ACQUIRE_CHROMIUM"
	EnvScreenshots = "ACQUIRE_SCREENSHOTS"
	envRequired    = "ACQUIRE_ACC_REQUIRED"
	startTimeout   = 60 * time.Second
)

var (
	mu        sync.Mutex
	browser   context.Context
	stop      func()
	startErr  error
	started   bool
	shotsOnce sync.Once
	shotsDir  string
)

// ExecPath finds the browser: $ACQUIRE_CHROMIUM, else chromium on PATH.
func ExecPath() (string, error) {
	if p := os.Getenv(EnvChromium); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium is not installed: run `make chromium` (apt-get install chromium) or set " + EnvChromium)
}

// Flags are the browser's launch flags: headless, no sandbox (the tests
// run as root in containers), and nothing that reaches out to Google's
// services, which fail noisily on a closed network.
func Flags(execPath, userDataDir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(userDataDir),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1100, 1000),
	}
}

func start(execPath string) {
	dir, err := os.MkdirTemp("", "acquire-chromium-")
	if err != nil {
		startErr = err
		return
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), Flags(execPath, dir)...)
	b, cancelB := chromedp.NewContext(alloc)
	// The first run starts the browser, which lives as long as that run's
	// context: so no timeout on it, but a watchdog.
	timer := time.AfterFunc(startTimeout, cancelB)
	err = chromedp.Do(b)
	timer.Stop()
	if err != nil {
		cancelB()
		cancelAlloc()
		_ = os.RemoveAll(dir)
		startErr = fmt.Errorf("starting %s: %w", execPath, err)
		return
	}
	browser = b
	stop = func() {
		cancelB()
		cancelAlloc()
		_ = os.RemoveAll(dir)
	}
}

// Tab opens a tab in the test binary's one browser, starting it on first
// use; the tab closes when the test ends. Without a browser the test is
// skipped, unless $ACQUIRE_ACC_REQUIRED is set (as `make test` sets it):
// then it fails.
func Tab(tb testing.TB) context.Context {
	tb.Helper()
	path, err := ExecPath()
	if err != nil {
		if os.Getenv(envRequired) != "" {
			tb.Fatalf("%v (%s is set, so browser tests may not skip)", err, envRequired)
		}
		tb.Skip(err)
	}
	mu.Lock()
	if !started {
		started = true
		start(path)
	}
	b, serr := browser, startErr
	mu.Unlock()
	if serr != nil {
		tb.Fatal(serr)
	}
	ctx, cancel := chromedp.NewContext(b)
	tb.Cleanup(cancel)
	err = chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			tb.Logf("browser exception: %s at %s:%d", msg, d.URL, d.LineNumber+1)
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, strings.Trim(string(a.Value), `"`))
			}
			tb.Logf("browser console.%s: %s", ev.Type, strings.Join(parts, " "))
		}
	})
	if err != nil {
		tb.Fatalf("opening a tab: %v", err)
	}
	return ctx
}

// Close stops the browser; TestMain calls it after the tests.
func Close() {
	mu.Lock()
	defer mu.Unlock()
	if stop != nil {
		stop()
		stop = nil
	}
}

// Main runs the tests, then stops the browser.
func Main(m *testing.M) int {
	code := m.Run()
	Close()
	return code
}

// Screenshot saves the tab's whole page as name.png in the screenshots
// folder and returns its path.
func Screenshot(tb testing.TB, ctx context.Context, name string) string {
	tb.Helper()
	shotsOnce.Do(func() {
		shotsDir = os.Getenv(EnvScreenshots)
		if shotsDir == "" {
			shotsDir = filepath.Join(os.TempDir(), "acquire-screenshots")
		}
		_ = os.MkdirAll(shotsDir, 0o750)
	})
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(shotsDir, name+".png")
	if err := os.WriteFile(p, png, 0o600); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("screenshot %s", p)
	return p
}
