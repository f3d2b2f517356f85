package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// FileAnchor is what a user would use instead of Acquire to move a file
// to a cloud store: that cloud's own SDK uploader and downloader, writing
// and reading the same bytes straight to the same bucket the storage
// service runs on (issue 23). The SDKs live in adapters (runtime imports
// none), which build these; the anchors step measures them beside the
// service and a PAR in the same rounds.
type FileAnchor struct {
	Name     string  // the store and server, e.g. "S3 (versitygw)"
	SDK      string  // what the anchor is, e.g. "AWS SDK v2 transfer manager"
	StoreURL string  // the store a host runs the storage service on, in the same bucket
	Target   float64 // required share of the SDK's rate through the service and a PAR, both ways (0: none)
	Rounds   int     // rounds of the six transfers (0: anchorRounds)
	// Upload writes size bytes from r to key with the SDK's uploader.
	Upload func(ctx context.Context, key string, r io.Reader, size int64) error
	// Download reads key into f (a new file) with the SDK's downloader;
	// the step fsyncs f, as it does for the service's downloads.
	Download func(ctx context.Context, key string, f *os.File) error
}

// anchorRounds: each round moves the file six times.
const anchorRounds = 4

// The six transfers of a round, in the order of even rounds (odd rounds
// reverse each direction's order, so no path always goes first).
var (
	anchorUploads   = []string{"upload via SDK", "upload via service", "upload via PAR"}
	anchorDownloads = []string{"download via SDK", "download via service", "download via PAR"}
)

// benchAnchors measures each configured anchor on its own host.
func benchAnchors(ctx context.Context, _ *hostEnv, cfg Config, rep *Report, progress func(string)) error {
	if len(cfg.Anchors) == 0 {
		rep.Figures = append(rep.Figures, Figure{Name: "file anchors: not run (acquire bench --anchors s3,gcs,azure)"})
		return nil
	}
	size := cfg.FileBytes
	if size <= 0 {
		size = DefaultFileBytes
	}
	dir, err := os.MkdirTemp("", "acquire-anchors-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	src := filepath.Join(dir, "source.bin")
	progress(fmt.Sprintf("anchors: writing a %d MiB source file", size>>20))
	if err := randomFile(src, size); err != nil {
		return err
	}
	for _, a := range cfg.Anchors {
		figs, err := runAnchor(ctx, a, src, dir, size, progress)
		if err != nil {
			return fmt.Errorf("bench: %s: %w", a.Name, err)
		}
		rep.Figures = append(rep.Figures, figs...)
	}
	return nil
}

func runAnchor(ctx context.Context, a FileAnchor, src, dir string, size int64, progress func(string)) ([]Figure, error) {
	env, err := startHost(ctx, a.StoreURL)
	if err != nil {
		return nil, err
	}
	defer env.close()
	fe, err := newFileEnv(ctx, env)
	if err != nil {
		return nil, err
	}
	rounds := a.Rounds
	if rounds <= 0 {
		rounds = anchorRounds
	}
	took := map[string][]time.Duration{}
	for round := range rounds {
		progress(fmt.Sprintf("anchors: %s, round %d of %d", a.Name, round+1, rounds))
		for _, kind := range anchorOrder(round) {
			dst := filepath.Join(dir, "copy.bin")
			if err := removeOld(dst); err != nil {
				return nil, err
			}
			start := time.Now()
			if err := anchorRun(ctx, fe, a, kind, src, dst, size); err != nil {
				return nil, fmt.Errorf("%s: %w", kind, err)
			}
			took[kind] = append(took[kind], time.Since(start))
		}
		if err := fe.purge(ctx); err != nil {
			return nil, err
		}
	}
	return anchorFigures(a, size, took), nil
}

func anchorOrder(round int) []string {
	up, down := slices.Clone(anchorUploads), slices.Clone(anchorDownloads)
	if round%2 == 1 {
		slices.Reverse(up)
		slices.Reverse(down)
	}
	return append(up, down...)
}

// anchorRun moves the file once: uploads read src, downloads write dst
// (new, fsynced) from what the round's uploads stored.
func anchorRun(ctx context.Context, fe *fileEnv, a FileAnchor, kind, src, dst string, size int64) error {
	switch kind {
	case "upload via SDK":
		return uploadFile(src, size, func(r io.Reader) error { return a.Upload(ctx, "anchor.bin", r, size) })
	case "download via SDK":
		return downloadFile(dst, func(w io.Writer) error { return a.Download(ctx, "anchor.bin", w.(*os.File)) })
	}
	// The service's and the PAR's paths, as the files step moves them.
	if _, err := fe.run(ctx, kind, src, dst, size); err != nil {
		return err
	}
	return nil
}

// anchorFigures: the SDK's rates, then the service's and the PAR's beside
// them.
func anchorFigures(a FileAnchor, size int64, took map[string][]time.Duration) []Figure {
	var out []Figure
	for _, pair := range [][]string{anchorUploads, anchorDownloads} {
		sdk := fileFigure(fmt.Sprintf("%s: %s (%s), MB/s", a.Name, pair[0], a.SDK), size, took[pair[0]], noCPU(took[pair[0]]), 0, 0)
		out = append(out, sdk)
		for _, k := range pair[1:] {
			f := fileFigure(fmt.Sprintf("%s: %s, MB/s", a.Name, k), size, took[k], noCPU(took[k]), sdk.PerSecond, a.Target)
			f.BoundName = "the " + a.SDK + " moving the same file to the same bucket, in the same rounds"
			out = append(out, f)
		}
	}
	return out
}

// noCPU stands for CPU times the anchors do not measure (the SDK's
// servers run in other processes).
func noCPU(ds []time.Duration) []time.Duration { return make([]time.Duration, len(ds)) }
