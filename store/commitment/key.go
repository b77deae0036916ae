package commitment

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// algEd25519 is the signature type byte of Ed25519 keys in signed notes.
const algEd25519 = 0x01

// base64Std matches exactly the strings that standard, padded base64 (RFC
// 4648, section 4) decodes, so that every language accepts the same
// encodings.
var base64Std = regexp.MustCompile(`^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$`)

// keyHashHex matches the key hash of a verifier key: 8 hexadecimal digits.
var keyHashHex = regexp.MustCompile(`^[0-9a-fA-F]{8}$`)

// VerifierKey is a parsed note verifier key for an Ed25519 signing key.
type VerifierKey struct {
	// Name is the key name that signature lines by this key carry. For an
	// agenttrail log it is conventionally the log's origin.
	Name string
	// KeyHash identifies the key among keys of the same name: the first 4
	// bytes, big-endian, of SHA-256(name || "\n" || 0x01 || public key).
	KeyHash uint32
	// PublicKey is the Ed25519 public key.
	PublicKey ed25519.PublicKey
}

// String returns the key in the form ParseVerifierKey parses, with the key
// hash in lower-case hex.
func (k VerifierKey) String() string {
	return fmt.Sprintf("%s+%08x+%s", k.Name, k.KeyHash,
		base64.StdEncoding.EncodeToString(append([]byte{algEd25519}, k.PublicKey...)))
}

// ParseVerifierKey parses a note verifier key of the form
// "<name>+<key hash>+<key>", as GetVerifierKeyResponse.verifier_key and
// golang.org/x/mod/sumdb/note print it: name is non-empty valid UTF-8 with
// neither Unicode white space, nor ASCII control characters, nor "+"; key
// hash is 8 hexadecimal digits; key is the standard, padded base64 of the
// byte 0x01 (Ed25519) followed by the 32-byte public key; and the key hash is
// that of the name and key. Any other input returns an error wrapping
// [ErrMalformed] that says which rule it breaks.
func ParseVerifierKey(s string) (VerifierKey, error) {
	name, hash, pub, err := parseKey(s, "verifier key", algEd25519, "Ed25519")
	if err != nil {
		return VerifierKey{}, err
	}
	// Whatever passes the checks above passes note.NewVerifier too, which
	// Checkpoint uses; checking it here keeps the two from drifting apart.
	if _, err := note.NewVerifier(s); err != nil {
		return VerifierKey{}, fmt.Errorf("%w: verifier key: %v", ErrMalformed, err)
	}
	return VerifierKey{Name: name, KeyHash: hash, PublicKey: pub}, nil
}

// parseKey parses "<name>+<key hash>+<base64 of alg and a 32-byte Ed25519
// public key>" with the rules of ParseVerifierKey, naming the key what in
// its errors.
func parseKey(s, what string, alg byte, algName string) (string, uint32, ed25519.PublicKey, error) {
	name, rest, ok1 := strings.Cut(s, "+")
	hash16, key64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 {
		return "", 0, nil, fmt.Errorf("%w: %s %q is not <name>+<key hash>+<base64 key>", ErrMalformed, what, s)
	}
	if err := checkKeyName(name); err != nil {
		return "", 0, nil, fmt.Errorf("%w: %s name: %v", ErrMalformed, what, err)
	}
	if !keyHashHex.MatchString(hash16) {
		return "", 0, nil, fmt.Errorf("%w: %s hash %q is not 8 hexadecimal digits", ErrMalformed, what, hash16)
	}
	if !base64Std.MatchString(key64) {
		return "", 0, nil, fmt.Errorf("%w: %s %q is not standard padded base64", ErrMalformed, what, key64)
	}
	key, _ := base64.StdEncoding.DecodeString(key64)
	if len(key) != 1+ed25519.PublicKeySize || key[0] != alg {
		return "", 0, nil, fmt.Errorf("%w: %s must be the byte 0x%02x (%s) and a %d-byte public key, got %d bytes starting 0x%02x",
			ErrMalformed, what, alg, algName, ed25519.PublicKeySize, len(key), firstByte(key))
	}
	hashBytes, _ := hex.DecodeString(hash16)
	hash := binary.BigEndian.Uint32(hashBytes)
	if want := keyHash(name, key); hash != want {
		return "", 0, nil, fmt.Errorf("%w: %s hash is %08x, but name and key hash to %08x", ErrMalformed, what, hash, want)
	}
	return name, hash, ed25519.PublicKey(key[1:]), nil
}

// keyHash is the key hash of a name and an encoded public key (type byte and
// key): the first 4 bytes, big-endian, of SHA-256(name || "\n" || key).
func keyHash(name string, key []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write(key)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// checkKeyName applies the signed-note rules for key names: non-empty, valid
// UTF-8, no Unicode white space (unicode.IsSpace), no "+"; and no ASCII
// control character, which no signed note may hold, so that a key that could
// never match a signature line is rejected at once.
func checkKeyName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty")
	case !utf8.ValidString(name):
		return fmt.Errorf("%q is not valid UTF-8", name)
	case strings.IndexFunc(name, unicode.IsSpace) >= 0:
		return fmt.Errorf("%q contains white space", name)
	case strings.IndexFunc(name, func(r rune) bool { return r < 0x20 }) >= 0:
		return fmt.Errorf("%q contains a control character", name)
	case strings.Contains(name, "+"):
		return fmt.Errorf("%q contains %q", name, "+")
	}
	return nil
}

func firstByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// NewVerifierKey returns the verifier key of an Ed25519 public key under a
// key name ([ErrMalformed] when the name breaks the signed-note rules).
func NewVerifierKey(name string, pub ed25519.PublicKey) (VerifierKey, error) {
	if err := checkKeyName(name); err != nil {
		return VerifierKey{}, fmt.Errorf("%w: verifier key name: %v", ErrMalformed, err)
	}
	if len(pub) != ed25519.PublicKeySize {
		return VerifierKey{}, fmt.Errorf("%w: public key is %d bytes, want %d", ErrMalformed, len(pub), ed25519.PublicKeySize)
	}
	return VerifierKey{Name: name, KeyHash: keyHash(name, append([]byte{algEd25519}, pub...)), PublicKey: pub}, nil
}

// ParseSignerKey parses a note signer key, "PRIVATE+KEY+<name>+<key
// hash>+<base64 key>" as golang.org/x/mod/sumdb/note generates it, and
// returns the signer and its verifier key. Any other input, a key that is
// not Ed25519 among them, is [ErrMalformed]; the message never holds the
// key.
func ParseSignerKey(skey string) (note.Signer, VerifierKey, error) {
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, VerifierKey{}, fmt.Errorf("%w: signing key: not a note signer key", ErrMalformed)
	}
	// PRIVATE+KEY+<name>+<hash>+<base64 key>; the key's base64 may hold '+'.
	parts := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != algEd25519 {
		return nil, VerifierKey{}, fmt.Errorf("%w: signing key is not an Ed25519 key", ErrMalformed)
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vk, err := NewVerifierKey(signer.Name(), pub)
	if err != nil {
		return nil, VerifierKey{}, err
	}
	if vk.KeyHash != signer.KeyHash() {
		return nil, VerifierKey{}, fmt.Errorf("%w: signing key hash does not match its key", ErrMalformed)
	}
	return signer, vk, nil
}
