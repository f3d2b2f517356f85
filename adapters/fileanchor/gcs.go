package fileanchor

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/url"
	"os"
	"sync"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/openacquire/acquire/adapters/gcp/gcsstore"
	"github.com/openacquire/acquire/adapters/servertest"
	"github.com/openacquire/acquire/runtime/bench"
	"github.com/openacquire/acquire/runtime/store"
)

// gcsScheme opens a gcsstore driver on fake-gcs-server that signs chunk
// URLs with a key made for this process: gs:// URLs take no key (real
// deployments sign through IAM), and the host opens its store by URL.
const (
	gcsScheme = "anchor-gcs"
	gcsSigner = "acquire-anchor@example-project.iam.gserviceaccount.com"
)

var (
	gcsOnce sync.Once
	gcsKey  []byte
	gcsErr  error
)

func registerGCS() error {
	gcsOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			gcsErr = err
			return
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			gcsErr = err
			return
		}
		gcsKey = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		store.RegisterScheme(gcsScheme, func(ctx context.Context, u *url.URL) (store.Driver, error) {
			q := u.Query()
			return gcsstore.New(ctx, gcsstore.Config{Bucket: u.Host, Endpoint: q.Get("endpoint"), Prefix: q.Get("prefix"),
				Anonymous: true, Signer: gcsSigner, PrivateKey: gcsKey})
		})
	})
	return gcsErr
}

// startGCS runs fake-gcs-server (filesystem backend, on disk as the
// others are) and answers the Go client's own Writer and Reader (their
// defaults) on a bucket the storage service also runs on.
func startGCS(ctx context.Context, st *Started, toolsBin string) (bench.FileAnchor, error) {
	if err := registerGCS(); err != nil {
		return bench.FileAnchor{}, err
	}
	srv, err := start(ctx, toolsBin, servertest.FakeGCS("filesystem"))
	if err != nil {
		return bench.FileAnchor{}, err
	}
	st.stops = append(st.stops, srv.stop)
	endpoint := srv.base + "/storage/v1/"
	client, err := storage.NewClient(ctx, option.WithEndpoint(endpoint), option.WithoutAuthentication())
	if err != nil {
		return bench.FileAnchor{}, err
	}
	st.stops = append(st.stops, func() { _ = client.Close() })
	b := client.Bucket(anchorBucket)
	if err := b.Create(ctx, "anchor-project", nil); err != nil {
		return bench.FileAnchor{}, fmt.Errorf("fileanchor: create bucket: %w", err)
	}
	return bench.FileAnchor{
		Name:     "GCS (fake-gcs-server)",
		SDK:      "cloud.google.com/go/storage Writer/Reader",
		StoreURL: fmt.Sprintf("%s://%s?prefix=acquire&endpoint=%s", gcsScheme, anchorBucket, url.QueryEscape(endpoint)),
		Rounds:   2,
		Upload: func(ctx context.Context, key string, r io.Reader, _ int64) error {
			w := b.Object("sdk/" + key).NewWriter(ctx)
			if _, err := io.Copy(w, r); err != nil {
				_ = w.Close()
				return err
			}
			return w.Close()
		},
		Download: func(ctx context.Context, key string, f *os.File) error {
			r, err := b.Object("sdk/" + key).NewReader(ctx)
			if err != nil {
				return err
			}
			defer func() { _ = r.Close() }()
			_, err = io.Copy(f, r)
			return err
		},
	}, nil
}
