//go:build !linux

package filestore

// markTopDir is a Linux (ext4) placement hint; elsewhere there is none.
func markTopDir(string) {}
