package fileanchor

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/openacquire/acquire/adapters/azure/blobstore"
	"github.com/openacquire/acquire/adapters/servertest"
	"github.com/openacquire/acquire/runtime/bench"
)

// startAzure runs Azurite and answers azblob's UploadStream and
// DownloadStream (their defaults) on a container the storage service
// also runs on through blobstore.
func startAzure(ctx context.Context, st *Started, toolsBin string) (bench.FileAnchor, error) {
	srv, err := start(ctx, toolsBin, servertest.Azurite)
	if err != nil {
		return bench.FileAnchor{}, err
	}
	st.stops = append(st.stops, srv.stop)
	endpoint := srv.base + "/" + servertest.AzuriteAccount
	// Azurite's documented development account (not a secret), for this
	// process's blobstore only.
	if err := os.Setenv(blobstore.EnvConnectionString, "DefaultEndpointsProtocol=http;AccountName="+servertest.AzuriteAccount+
		";AccountKey="+servertest.AzuriteKey+";BlobEndpoint="+endpoint+";"); err != nil {
		return bench.FileAnchor{}, err
	}
	cred, err := azblob.NewSharedKeyCredential(servertest.AzuriteAccount, servertest.AzuriteKey)
	if err != nil {
		return bench.FileAnchor{}, err
	}
	client, err := azblob.NewClientWithSharedKeyCredential(endpoint+"/", cred, nil)
	if err != nil {
		return bench.FileAnchor{}, err
	}
	if _, err := client.CreateContainer(ctx, anchorBucket, nil); err != nil {
		return bench.FileAnchor{}, fmt.Errorf("fileanchor: create container: %w", err)
	}
	blobstore.Register()
	return bench.FileAnchor{
		Name:     "Azure (Azurite)",
		SDK:      "azblob UploadStream/DownloadStream",
		StoreURL: fmt.Sprintf("azblob://%s?account=%s&endpoint=%s&prefix=acquire", anchorBucket, servertest.AzuriteAccount, url.QueryEscape(endpoint)),
		Rounds:   2,
		Upload: func(ctx context.Context, key string, r io.Reader, _ int64) error {
			_, err := client.UploadStream(ctx, anchorBucket, "sdk/"+key, r, nil)
			return err
		},
		Download: func(ctx context.Context, key string, f *os.File) error {
			resp, err := client.DownloadStream(ctx, anchorBucket, "sdk/"+key, nil)
			if err != nil {
				return err
			}
			defer func() { _ = resp.Body.Close() }()
			_, err = io.Copy(f, resp.Body)
			return err
		},
	}, nil
}
