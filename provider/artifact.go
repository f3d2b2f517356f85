package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// MaxArtifactBytes bounds an artifact downloaded from a URL (a Cloud Run
// image tarball is tens of MB; Lambda takes at most 50 MB zipped).
const MaxArtifactBytes = 512 << 20

// resolveArtifact makes a platform block's artifact a local file the
// deployer can read, at apply (never at plan): a path is checked against
// its checksum when one is given; a URL is downloaded into a temporary
// file, bounded, and must match its checksum. done removes what it made.
func resolveArtifact(ctx context.Context, client *http.Client, artifact, sum string) (file string, done func(), err error) {
	done = func() {}
	if !strings.HasPrefix(artifact, "https://") {
		if sum == "" {
			return artifact, done, nil
		}
		got, err := fileSHA256(artifact)
		if err != nil {
			return "", done, fmt.Errorf("artifact: %w", err)
		}
		if got != sum {
			return "", done, fmt.Errorf("artifact: %s changed since the plan: its SHA-256 is %s, not artifact_sha256", artifact, got)
		}
		return artifact, done, nil
	}
	if sum == "" {
		return "", done, fmt.Errorf("artifact_sha256: required for an artifact URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, artifact, nil)
	if err != nil {
		return "", done, fmt.Errorf("artifact: %w", err)
	}
	resp, err := client.Do(req) //nolint:gosec // G704: the configured artifact URL, https only, checksum-checked
	if err != nil {
		return "", done, fmt.Errorf("artifact: downloading: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return "", done, fmt.Errorf("artifact: downloading: HTTP %d", resp.StatusCode)
	}
	f, err := os.CreateTemp("", "acquire-artifact-*-"+lastSegment(artifact))
	if err != nil {
		return "", done, err
	}
	done = func() { _ = os.Remove(f.Name()) }
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(resp.Body, MaxArtifactBytes+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		err = fmt.Errorf("artifact: downloading: %w", err)
	case n > MaxArtifactBytes:
		err = fmt.Errorf("artifact: over %d bytes", MaxArtifactBytes)
	case hex.EncodeToString(h.Sum(nil)) != sum:
		err = fmt.Errorf("artifact: what %s serves does not match artifact_sha256", artifact)
	}
	if err != nil {
		done()
		return "", func() {}, err
	}
	return f.Name(), done, nil
}

// lastSegment is a URL's file name (make dist's names carry the platform
// and arch, which the deployers check).
func lastSegment(u string) string {
	u, _, _ = strings.Cut(u, "?")
	i := strings.LastIndex(u, "/")
	s := u[i+1:]
	if s == "" || strings.ContainsAny(s, `\*`) {
		return "artifact"
	}
	return s
}
