package filestore

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/openacquire/acquire/runtime/store/driver"
)

// File format of one object (all integers big-endian):
//
//	off  0  magic        4 bytes  "AQS1"
//	off  4  version     16 bytes  random, fresh for every write
//	off 20  modified     8 bytes  Unix nanoseconds of the write
//	off 28  data length  8 bytes
//	off 36  data CRC-32C 4 bytes
//	off 40  key length   2 bytes
//	off 42  key          (key length) bytes
//	        data         (data length) bytes
//
// The version lives inside the file, so it travels atomically with the data
// through rename: a reader that opened the file sees the version and bytes
// of one write. 128 random bits make a repeat (ABA) practically impossible,
// even across processes and restarts, with no counter to persist. The key
// is stored so that flattened ("#hash") files can be listed and so that a
// misplaced file is detected; the CRC detects torn or rotted data.
const (
	magic       = "AQS1"
	headerFixed = 42
	versionLen  = 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is the decoded fixed part of a file plus its key.
type header struct {
	version  driver.Version
	modified time.Time
	dataLen  int64
	crc      uint32
	key      string
}

// newVersion returns a fresh random version. crypto/rand never fails on
// supported systems (Go 1.24+ crashes the program rather than return).
func newVersion() []byte {
	v := make([]byte, versionLen)
	_, _ = rand.Read(v)
	return v
}

// crcOf is data's CRC-32C, for the header.
func crcOf(data []byte) uint32 { return crc32.Checksum(data, castagnoli) }

// encodeHeader returns the header for key and data (whose CRC-32C is crc),
// with room for the data after it when small, so a small object is written
// with one system call.
func encodeHeader(key string, version []byte, data []byte, crc uint32, now time.Time) []byte {
	capacity := headerFixed + len(key)
	if len(data) <= smallObjectBytes {
		capacity += len(data)
	}
	b := make([]byte, headerFixed, capacity)
	copy(b, magic)
	copy(b[4:], version)
	binary.BigEndian.PutUint64(b[20:], uint64(now.UnixNano()))
	binary.BigEndian.PutUint64(b[28:], uint64(len(data)))
	binary.BigEndian.PutUint32(b[36:], crc)
	binary.BigEndian.PutUint16(b[40:], uint16(len(key)))
	return append(b, key...)
}

// smallObjectBytes: objects up to this size are appended to the header
// buffer; larger ones are written separately to avoid copying them.
const smallObjectBytes = 64 << 10

// decodeHeader parses the header at the start of b. b may hold only the
// header (List) or the whole file (Get).
func decodeHeader(b []byte) (header, error) {
	if len(b) < headerFixed || string(b[:4]) != magic {
		return header{}, fmt.Errorf("%w: bad header", driver.ErrCorrupt)
	}
	h := header{
		version:  driver.Version(hex.EncodeToString(b[4:20])),
		modified: time.Unix(0, int64(binary.BigEndian.Uint64(b[20:]))),
		dataLen:  int64(binary.BigEndian.Uint64(b[28:])),
		crc:      binary.BigEndian.Uint32(b[36:]),
	}
	keyLen := int(binary.BigEndian.Uint16(b[40:]))
	if keyLen > driver.MaxKeyBytes || len(b) < headerFixed+keyLen || h.dataLen < 0 || h.dataLen > driver.MaxObjectBytes {
		return header{}, fmt.Errorf("%w: bad header lengths", driver.ErrCorrupt)
	}
	h.key = string(b[headerFixed : headerFixed+keyLen])
	return h, nil
}

// decodeFile parses a whole file read by Get and checks it end to end.
func decodeFile(b []byte, key string) ([]byte, driver.Version, error) {
	h, err := decodeHeader(b)
	if err != nil {
		return nil, "", err
	}
	data := b[headerFixed+len(h.key):]
	if h.key != key || int64(len(data)) != h.dataLen || crcOf(data) != h.crc {
		return nil, "", fmt.Errorf("%w: key, length or checksum mismatch", driver.ErrCorrupt)
	}
	return data, h.version, nil
}
