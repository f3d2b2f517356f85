//go:build !linux

package storage

import "io"

// writeback is a Linux early-writeback hint (see writeback_linux.go).
type writeback struct{}

func newWriteback(io.Writer) *writeback { return nil }

func (*writeback) wrote(int64) {}
