package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress is a transfer's progress report: done bytes of total.
type progress interface {
	Set(done int64)
	Finish()
}

// noProgress reports nothing: output is not a terminal, or is JSON.
type noProgress struct{}

func (noProgress) Set(int64) {}
func (noProgress) Finish()   {}

// barProgress draws a bar on stderr.
type barProgress struct{ bar *progressbar.ProgressBar }

func (b barProgress) Set(done int64) { _ = b.bar.Set64(done) }
func (b barProgress) Finish()        { _ = b.bar.Finish() }

// progressBar shows a bar for a transfer of total bytes on stderr, only
// when stderr is a terminal and the output is text: a bar in a pipe or a
// log file is noise, and JSON output must stay one object.
func (g *globals) progressBar(label string, total int64) progress {
	if g.output != outputText || !isTerminal(g.stderr) {
		return noProgress{}
	}
	return barProgress{progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(g.stderr),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionThrottle(100*time.Millisecond), // at most ten redraws a second
		progressbar.OptionOnCompletion(func() { _, _ = io.WriteString(g.stderr, "\n") }),
		progressbar.OptionClearOnFinish(),
	)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
