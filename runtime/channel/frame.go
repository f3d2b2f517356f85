package channel

import (
	"bytes"
	"encoding/binary"
	"encoding/json"

	"github.com/openacquire/acquire/runtime/call"
)

// Frame kinds, after the magic.
const (
	kindRequest byte = 1
	kindReply   byte = 2
	kindRefusal byte = 3
)

// Directions in the AEAD nonce: a request can never open as a reply.
const (
	dirToService uint32 = 1
	dirToClient  uint32 = 2
)

// magic starts every frame. No JSON envelope starts with it, so a service
// tells a fast-path call from an envelope by its first bytes.
var magic = []byte("AQF1")

const seqBytes = 8

// IsFrame says whether body is a fast-path frame rather than an envelope.
func IsFrame(body []byte) bool { return bytes.HasPrefix(body, magic) }

// Request is a parsed, still sealed, request frame.
type Request struct {
	Ticket []byte
	Seq    uint64
	header []byte // magic … seq: the AEAD's additional data
	sealed []byte
}

// ParseRequest reads a request frame's structure; it checks no
// cryptography. Every length is bounded before it is used.
func ParseRequest(body []byte) (*Request, error) {
	if len(body) > call.MaxBodyBytes {
		return nil, call.Errorf(call.ErrTooLarge, "fast-path request of %d bytes is over the %d byte limit", len(body), call.MaxBodyBytes)
	}
	const fixed = 4 + 1 + 2
	if len(body) < fixed || !IsFrame(body) || body[4] != kindRequest {
		return nil, call.Errorf(call.ErrUnpacking, "not a fast-path request frame")
	}
	n := int(binary.BigEndian.Uint16(body[5:7]))
	if n == 0 || n > MaxTicketBytes {
		return nil, call.Errorf(call.ErrUnpacking, "fast-path ticket of %d bytes (1 to %d)", n, MaxTicketBytes)
	}
	end := fixed + n + seqBytes
	if len(body) < end+gcmTag {
		return nil, call.Errorf(call.ErrUnpacking, "fast-path request frame is truncated")
	}
	seq := binary.BigEndian.Uint64(body[fixed+n : end])
	if seq == 0 {
		return nil, call.Errorf(call.ErrUnpacking, "fast-path sequence numbers start at 1")
	}
	return &Request{Ticket: body[fixed : fixed+n], Seq: seq, header: body[:end], sealed: body[end:]}, nil
}

const gcmTag = 16

func requestHeader(ticket []byte, seq uint64) []byte {
	h := make([]byte, 0, 4+1+2+len(ticket)+seqBytes)
	h = append(h, magic...)
	h = append(h, kindRequest)
	h = binary.BigEndian.AppendUint16(h, uint16(len(ticket)))
	h = append(h, ticket...)
	return binary.BigEndian.AppendUint64(h, seq)
}

func replyHeader(seq uint64) []byte {
	h := make([]byte, 0, 4+1+seqBytes)
	h = append(h, magic...)
	h = append(h, kindReply)
	return binary.BigEndian.AppendUint64(h, seq)
}

func nonce(dir uint32, seq uint64) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint32(n, dir)
	binary.BigEndian.PutUint64(n[4:], seq)
	return n
}

// Refusal is the clear frame a service answers when a request was refused
// before its channel could be trusted: the call did not run.
func Refusal(e *call.Error) []byte {
	b, _ := json.Marshal(e)
	return append(append(append([]byte(nil), magic...), kindRefusal), b...)
}

// reply is a parsed reply frame: either sealed under the channel, or a
// clear refusal.
type reply struct {
	seq     uint64
	header  []byte
	sealed  []byte
	refusal *call.Error
}

func parseReply(body []byte) (*reply, error) {
	if len(body) < 5 || !IsFrame(body) {
		return nil, call.Errorf(call.ErrUnpacking, "reply is not a fast-path frame")
	}
	switch body[4] {
	case kindRefusal:
		var e call.Error
		if err := json.Unmarshal(body[5:], &e); err != nil || e.Class == "" {
			return nil, call.Errorf(call.ErrUnpacking, "fast-path refusal is not a typed error")
		}
		return &reply{refusal: &e}, nil
	case kindReply:
		if len(body) < 5+seqBytes+gcmTag {
			return nil, call.Errorf(call.ErrUnpacking, "fast-path reply frame is truncated")
		}
		return &reply{seq: binary.BigEndian.Uint64(body[5:13]), header: body[:13], sealed: body[13:]}, nil
	}
	return nil, call.Errorf(call.ErrUnpacking, "unknown fast-path frame kind %d", body[4])
}
