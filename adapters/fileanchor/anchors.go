package fileanchor

import (
	"context"
	"fmt"
	"slices"

	"github.com/openacquire/acquire/runtime/bench"
)

// S3Target is the share of the AWS SDK's rate the storage service and a
// PAR must reach on S3, both ways (issue 23). GCS and Azure are reported
// without one: their emulators' speed is not the clouds'.
const S3Target = 0.9

// Start starts each named anchor's server and answers the anchors; the
// caller stops them with Started.Stop (also on error, whatever started).
func Start(ctx context.Context, names []string, toolsBin string) ([]bench.FileAnchor, *Started, error) {
	st := &Started{}
	var out []bench.FileAnchor
	for _, n := range names {
		var a bench.FileAnchor
		var err error
		switch n {
		case "s3":
			a, err = startS3(ctx, st, toolsBin)
		case "gcs":
			a, err = startGCS(ctx, st, toolsBin)
		case "azure":
			a, err = startAzure(ctx, st, toolsBin)
		default:
			err = fmt.Errorf("%w %q (known: %v)", ErrUnknown, n, Names)
		}
		if err != nil {
			return nil, st, err
		}
		out = append(out, a)
	}
	return out, st, nil
}

// Known says whether name is an anchor.
func Known(name string) bool { return slices.Contains(Names, name) }
