package commitment

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxSignatures is the most signature lines note.Open accepts in one note.
const maxSignatures = 100

// explainNote says which signed-note rule a note breaks, for the error
// message of a note that note.Open rejected as malformed. It follows the
// order of note.Open's own checks; note.Open alone decides.
func explainNote(msg []byte) string {
	for i := 0; i < len(msg); {
		r, size := utf8.DecodeRune(msg[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Sprintf("note is not valid UTF-8 at byte %d", i)
		}
		if r < 0x20 && r != '\n' {
			return fmt.Sprintf("note has control character %#02x at byte %d; only newline is allowed", r, i)
		}
		i += size
	}
	split := bytes.LastIndex(msg, []byte("\n\n"))
	if split < 0 {
		return "note has no blank line between its text and its signatures"
	}
	sigs := msg[split+2:]
	if len(sigs) == 0 {
		return "note has no signature lines after its last blank line"
	}
	if sigs[len(sigs)-1] != '\n' {
		return "note does not end with a newline"
	}
	for n := 1; len(sigs) > 0; n++ {
		i := bytes.IndexByte(sigs, '\n')
		line := string(sigs[:i])
		sigs = sigs[i+1:]
		rest, ok := strings.CutPrefix(line, "— ")
		if !ok {
			return fmt.Sprintf("signature line %d does not start with an em dash (U+2014) and a space", n)
		}
		name, b64, _ := strings.Cut(rest, " ")
		if err := checkKeyName(name); err != nil {
			return fmt.Sprintf("signature line %d: key name: %v", n, err)
		}
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || b64 == "" {
			return fmt.Sprintf("signature line %d: signature %q is not standard padded base64", n, b64)
		}
		if len(sig) < 5 {
			return fmt.Sprintf("signature line %d: signature is %d bytes, want a 4-byte key hash and a signature", n, len(sig))
		}
		if n > maxSignatures {
			return fmt.Sprintf("note has more than %d signature lines", maxSignatures)
		}
	}
	return "malformed note"
}
