package s3store

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/openacquire/acquire/runtime/store/driver"
)

// Stored object format. Every write wraps the caller's bytes in one gzip
// member (RFC 1952) that is stored with "Content-Encoding: gzip", whose
// header carries a fresh random nonce and whose deflate stream (RFC 1951)
// holds only stored, uncompressed blocks:
//
//	off  0  gzip header    10 bytes  1f 8b 08 04 00000000 00 ff (FEXTRA set)
//	off 10  XLEN            2 bytes  21, little-endian
//	off 12  subfield id     2 bytes  "AQ"
//	off 14  subfield len    2 bytes  17, little-endian
//	off 16  format          1 byte   1
//	off 17  nonce          16 bytes  random, fresh for every write
//	off 33  stored blocks            each: 1 byte BFINAL/BTYPE=00, LEN and
//	                                 NLEN (2 bytes each, little-endian), then
//	                                 LEN data bytes; every block but the last
//	                                 holds exactly maxBlockBytes
//	        CRC-32 (IEEE)   4 bytes  of the data, little-endian
//	        ISIZE           4 bytes  data length mod 2^32, little-endian
//
// Why: S3's ETag of a single-part upload is the MD5 of the stored bytes, so
// writing identical bytes twice would hand out the same version twice (ABA).
// The nonce makes the stored bytes, and so the ETag, unique per write, and
// the ETag alone is then a sound version for If-Match. Gzip is the framing
// because it is a standard HTTP content coding: a client fetching a signed
// GET URL (browsers, Go's net/http, curl --compressed) decodes it back to the
// caller's exact bytes. Stored blocks cost a copy and 5 bytes per 64 KiB,
// no compression work, and the layout is canonical, so the data size follows
// from the stored size alone and List can report it without reading objects.
const (
	headerBytes   = 33
	trailerBytes  = 8
	blockHeader   = 5
	maxBlockBytes = 65535
	nonceBytes    = 16
	formatVersion = 1
	// fullBlockBytes is what one full block occupies when stored.
	fullBlockBytes = blockHeader + maxBlockBytes
)

// headerFixed is the constant part of the header (everything but the nonce).
var headerFixed = [headerBytes - nonceBytes]byte{
	0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0x00, 0xff, // ID1 ID2 CM FLG MTIME XFL OS
	21, 0, // XLEN
	'A', 'Q', 17, 0, // subfield id and length
	formatVersion,
}

// blocks is how many stored blocks hold n data bytes (an empty object still
// has one, final, empty block).
func blocks(n int) int {
	if n == 0 {
		return 1
	}
	return (n + maxBlockBytes - 1) / maxBlockBytes
}

// storedSize is the size of the stored object for n data bytes.
func storedSize(n int) int {
	return headerBytes + blocks(n)*blockHeader + n + trailerBytes
}

// maxStoredBytes bounds what Get reads.
var maxStoredBytes = storedSize(driver.MaxObjectBytes)

// dataSize inverts storedSize. ok is false when no data size gives stored:
// the object was not written by this driver (e.g. through a signed PUT URL).
func dataSize(stored int64) (n int64, ok bool) {
	m := stored - headerBytes - trailerBytes
	if m < blockHeader {
		return 0, false
	}
	k := (m + fullBlockBytes - 1) / fullBlockBytes
	n = m - k*blockHeader
	want := max((n+maxBlockBytes-1)/maxBlockBytes, 1) // blocks(n) in int64
	if n < 0 || want != k {
		return 0, false
	}
	return n, true
}

// encode frames data with a fresh nonce; the result never aliases data.
func encode(data []byte) []byte {
	out := make([]byte, 0, storedSize(len(data)))
	out = append(out, headerFixed[:]...)
	var nonce [nonceBytes]byte
	_, _ = rand.Read(nonce[:]) // crypto/rand.Read does not fail (Go 1.24+)
	out = append(out, nonce[:]...)
	rest := data
	for {
		chunk := rest[:min(len(rest), maxBlockBytes)]
		rest = rest[len(chunk):]
		final := byte(0)
		if len(rest) == 0 {
			final = 1
		}
		out = append(out, final)
		out = binary.LittleEndian.AppendUint16(out, uint16(len(chunk)))
		out = binary.LittleEndian.AppendUint16(out, ^uint16(len(chunk)))
		out = append(out, chunk...)
		if final == 1 {
			break
		}
	}
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(data))
	out = binary.LittleEndian.AppendUint32(out, uint32(len(data)))
	return out
}

// isFramed reports whether b starts like an object this driver wrote.
func isFramed(b []byte) bool {
	return len(b) >= headerBytes && string(b[:len(headerFixed)]) == string(headerFixed[:])
}

// decode checks a framed object end to end and returns a copy of its data.
// Anything but the canonical layout is ErrCorrupt, so that List's
// size arithmetic and Get always agree.
func decode(b []byte) ([]byte, error) {
	if !isFramed(b) {
		return nil, fmt.Errorf("%w: bad frame header", driver.ErrCorrupt)
	}
	n, ok := dataSize(int64(len(b)))
	if !ok {
		return nil, fmt.Errorf("%w: frame of %d bytes has no valid layout", driver.ErrCorrupt, len(b))
	}
	data := make([]byte, 0, n)
	pos := headerBytes
	for i := range blocks(int(n)) {
		want := min(int(n)-i*maxBlockBytes, maxBlockBytes)
		final := byte(0)
		if i == blocks(int(n))-1 {
			final = 1
		}
		h := b[pos : pos+blockHeader]
		if h[0] != final || int(binary.LittleEndian.Uint16(h[1:])) != want ||
			binary.LittleEndian.Uint16(h[3:]) != ^uint16(want) {
			return nil, fmt.Errorf("%w: bad block %d", driver.ErrCorrupt, i)
		}
		pos += blockHeader
		data = append(data, b[pos:pos+want]...)
		pos += want
	}
	t := b[pos:]
	if len(t) != trailerBytes || binary.LittleEndian.Uint32(t) != crc32.ChecksumIEEE(data) ||
		binary.LittleEndian.Uint32(t[4:]) != uint32(len(data)) {
		return nil, fmt.Errorf("%w: checksum or length mismatch", driver.ErrCorrupt)
	}
	return data, nil
}
