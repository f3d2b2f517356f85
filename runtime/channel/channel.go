// Package channel is the session fast path's wire format and cryptography
// (docs/design/fastpath.md): a channel agreed once per session and service
// with ephemeral X25519, whose keys travel in a ticket sealed under the
// service instance's own key, and calls carried under AES-256-GCM with
// sequence numbers a sliding window checks.
package channel

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/openacquire/acquire/runtime/call"
)

// Version names the protocol in the transcript and the key derivation.
const Version = "acquire-fastpath-v1"

// Limits.
const (
	// Life is the longest a channel lives; the session's expiry may end it sooner.
	Life = time.Hour
	// Window is how far behind the highest sequence number seen a call may
	// arrive (concurrent calls on one session do arrive out of order: on a
	// loaded machine one of two goroutines was seen 72 calls behind the
	// other). A multiple of 64; 128 bytes per channel.
	Window = 1024
	// MaxChannels bounds one instance's windows; over it the table starts again.
	MaxChannels = 100_000
	// MaxTicketBytes bounds a ticket on the wire.
	MaxTicketBytes = 4096
	maxTextBytes   = 1024
	keyBytes       = 32
	idBytes        = 16
)

// Error classes of the fast path. They are answered in a clear refusal
// frame: the call did not run.
var (
	// ErrUnknown: the ticket does not open here (another service, another
	// instance, a restart, or a window dropped under the memory bound).
	// The client opens a new channel and resends.
	ErrUnknown = call.NewClass("ChannelUnknownError")
	// ErrIntegrity: the frame was changed on the way (or sealed with other keys).
	ErrIntegrity = call.NewClass("ChannelIntegrityError")
	// ErrExpired: the channel outlived its session or its Life.
	ErrExpired = call.NewClass("ChannelExpiredError")
	// ErrAudience: the ticket names another service.
	ErrAudience = call.NewClass("ChannelAudienceError")
	// ErrBehind: the call's sequence number fell behind the replay window
	// (reordered too far, or held back): refused unseen, the call did not
	// run. Replays inside the window are call.ErrReplay.
	ErrBehind = call.NewClass("ChannelWindowError")
)

// ID names a channel.
type ID [idBytes]byte

// String is the channel id in hex, as channel authorisations carry it.
func (id ID) String() string { return fmt.Sprintf("%x", id[:]) }

// Binding is who a channel is between, and until when.
type Binding struct {
	ID          ID
	IdentityURL string
	UserUID     string
	SessionUID  string
	Audience    string // the service's URL
	Expires     time.Time
}

// Keys are a channel's per-direction AES-256-GCM keys.
type Keys struct {
	C2S [keyBytes]byte
	S2C [keyBytes]byte
}

// NewID returns a random channel id.
func NewID() (ID, error) {
	var id ID
	_, err := rand.Read(id[:])
	return id, err
}

// transcript commits the keys to who the channel is between: every field
// length-prefixed, so no two bindings share a transcript.
func transcript(b *Binding, clientPub, servicePub []byte) []byte {
	var out []byte
	put := func(p []byte) {
		out = binary.BigEndian.AppendUint32(out, uint32(len(p)))
		out = append(out, p...)
	}
	put([]byte(Version))
	put([]byte(b.Audience))
	put([]byte(b.IdentityURL))
	put([]byte(b.UserUID))
	put([]byte(b.SessionUID))
	put(clientPub)
	put(servicePub)
	put(b.ID[:])
	put(binary.BigEndian.AppendUint64(nil, uint64(b.Expires.UnixNano())))
	return out
}

// derive turns an X25519 secret into the channel's keys, salted with the
// transcript's hash.
func derive(secret []byte, b *Binding, clientPub, servicePub []byte) (Keys, error) {
	th := sha256.Sum256(transcript(b, clientPub, servicePub))
	var k Keys
	c2s, err := hkdf.Key(sha256.New, secret, th[:], Version+" c2s", keyBytes)
	if err != nil {
		return k, err
	}
	s2c, err := hkdf.Key(sha256.New, secret, th[:], Version+" s2c", keyBytes)
	if err != nil {
		return k, err
	}
	copy(k.C2S[:], c2s)
	copy(k.S2C[:], s2c)
	return k, nil
}

// NewHalf makes an ephemeral X25519 key pair: the client's half of a channel.
func NewHalf() (*ecdh.PrivateKey, error) { return ecdh.X25519().GenerateKey(rand.Reader) }

// agree computes the shared secret from our private half and their public one.
func agree(priv *ecdh.PrivateKey, theirPub []byte) ([]byte, error) {
	pub, err := ecdh.X25519().NewPublicKey(theirPub)
	if err != nil {
		return nil, call.Errorf(call.ErrBadArguments, "the channel half is not an X25519 public key")
	}
	secret, err := priv.ECDH(pub)
	if err != nil {
		return nil, call.Errorf(call.ErrBadArguments, "the channel half is a low-order point")
	}
	return secret, nil
}

// Inner is a fast-path request's plaintext.
type Inner struct {
	Function       string          `json:"function"`
	Payload        json.RawMessage `json:"payload"`
	TimeNs         int64           `json:"time_ns"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
}

// OpenArgs is what a client sends to fastpath_open, through the envelope.
// Credentials is the session's authorisation for OpenResource(ClientPublic).
type OpenArgs struct {
	Credentials  json.RawMessage `json:"credentials"`
	ClientPublic string          `json:"client_public"`
}

// OpenResult is the service's half and the ticket, through the envelope
// (encrypted to the client, signed by the pinned certificate).
type OpenResult struct {
	ServicePublic string    `json:"service_public"`
	Channel       string    `json:"channel"`
	Ticket        string    `json:"ticket"`
	Expires       time.Time `json:"expires"`
}

// OpenResource is what the session's authorisation to open a channel names:
// the client's X25519 half, so no one can swap it without the session key.
func OpenResource(clientPublicB64 string) string { return "fastpath_open " + clientPublicB64 }

// EndResource is what an identity service's service authorisation names
// when it tells a relying service that a session ended.
func EndResource(identityURL, sessionUID string) string {
	return "fastpath_end " + identityURL + " " + sessionUID
}
