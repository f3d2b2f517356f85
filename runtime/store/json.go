package store

import (
	"context"
	"encoding/json"
	"fmt"
)

// GetJSON reads key and decodes its JSON into v.
func (b *Bucket) GetJSON(ctx context.Context, key string, v any) (Version, error) {
	data, ver, err := b.Get(ctx, key)
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return "", opError("get-json", key, err)
	}
	return ver, nil
}

// PutJSON encodes v as JSON and writes it unconditionally.
func (b *Bucket) PutJSON(ctx context.Context, key string, v any) (Version, error) {
	data, err := marshal(key, v)
	if err != nil {
		return "", err
	}
	return b.Put(ctx, key, data)
}

// PutJSONIfAbsent encodes v as JSON and creates key with it.
func (b *Bucket) PutJSONIfAbsent(ctx context.Context, key string, v any) (Version, error) {
	data, err := marshal(key, v)
	if err != nil {
		return "", err
	}
	return b.PutIfAbsent(ctx, key, data)
}

// PutJSONIfVersion encodes v as JSON and replaces key if its version is ver.
func (b *Bucket) PutJSONIfVersion(ctx context.Context, key string, v any, ver Version) (Version, error) {
	data, err := marshal(key, v)
	if err != nil {
		return "", err
	}
	return b.PutIfVersion(ctx, key, data, ver)
}

func marshal(key string, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, opError("put-json", key, fmt.Errorf("encode: %w", err))
	}
	return data, nil
}
