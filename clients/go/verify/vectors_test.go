package verify_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/agenttrail/agenttrail/clients/go/verify"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

var update = flag.Bool("update", false, "rewrite clients/testdata/vectors from the Go generator")

// vectorDir holds the test vectors shared by the Go, Python and TypeScript
// verifiers. clients/testdata/vectors/README.md documents their schema.
var vectorDir = filepath.Join("..", "..", "testdata", "vectors")

// errorClasses maps the error class names used in the vectors to the
// sentinel errors of package verify.
var errorClasses = map[string]error{
	"malformed":        verify.ErrMalformed,
	"bad_signature":    verify.ErrBadSignature,
	"no_signature":     verify.ErrNoSignature,
	"origin_mismatch":  verify.ErrOriginMismatch,
	"bad_proof":        verify.ErrBadProof,
	"leaf_mismatch":    verify.ErrLeafMismatch,
	"digest_mismatch":  verify.ErrDigestMismatch,
	"event_mismatch":   verify.ErrEventMismatch,
	"no_quorum":        verify.ErrNoQuorum,
	"unproven_erasure": verify.ErrUnprovenErasure,
}

// b64 is a byte string, written in JSON as standard padded base64 (the empty
// string when empty, never null).
type b64 []byte

func (b b64) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.StdEncoding.EncodeToString(b))
}

func (b *b64) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	d, err := base64.StdEncoding.DecodeString(s)
	*b = d
	return err
}

// The files and their records. Every uint64 is a decimal string, as in
// ProtoJSON, since JSON numbers lose precision above 2^53 in JavaScript.

type entriesFile struct {
	Comment string        `json:"comment"`
	Good    []goodEntry   `json:"good"`
	Broken  []brokenEntry `json:"broken"`
}

type goodEntry struct {
	Name          string `json:"name"`
	Entry         b64    `json:"entry"`
	Header        b64    `json:"header"`
	Content       b64    `json:"content"`
	Salt          b64    `json:"salt"`
	ContentDigest b64    `json:"content_digest"`
	LeafHash      b64    `json:"leaf_hash"`
}

type brokenEntry struct {
	Name  string `json:"name"`
	Wrong string `json:"wrong"`
	Entry b64    `json:"entry"`
	Error string `json:"error"`
}

type treesFile struct {
	Comment string `json:"comment"`
	Leaves  []b64  `json:"leaves"`
	Trees   []tree `json:"trees"`
}

type tree struct {
	Size uint64 `json:"size,string"`
	Root b64    `json:"root"`
}

type inclusionFile struct {
	Comment string            `json:"comment"`
	Good    []inclusionVector `json:"good"`
	Broken  []inclusionVector `json:"broken"`
}

type inclusionVector struct {
	Name     string `json:"name"`
	Wrong    string `json:"wrong,omitempty"`
	Index    uint64 `json:"index,string"`
	Size     uint64 `json:"size,string"`
	LeafHash b64    `json:"leaf_hash"`
	Proof    []b64  `json:"proof"`
	Root     b64    `json:"root"`
	Error    string `json:"error,omitempty"`
}

type consistencyFile struct {
	Comment string              `json:"comment"`
	Good    []consistencyVector `json:"good"`
	Broken  []consistencyVector `json:"broken"`
}

type consistencyVector struct {
	Name    string `json:"name"`
	Wrong   string `json:"wrong,omitempty"`
	OldSize uint64 `json:"old_size,string"`
	NewSize uint64 `json:"new_size,string"`
	OldRoot b64    `json:"old_root"`
	NewRoot b64    `json:"new_root"`
	Proof   []b64  `json:"proof"`
	Error   string `json:"error,omitempty"`
}

type checkpointsFile struct {
	Comment string             `json:"comment"`
	Good    []goodCheckpoint   `json:"good"`
	Broken  []brokenCheckpoint `json:"broken"`
}

type goodCheckpoint struct {
	Name        string `json:"name"`
	Note        b64    `json:"note"`
	VerifierKey string `json:"verifier_key"`
	Origin      string `json:"origin"`
	Size        uint64 `json:"size,string"`
	Root        b64    `json:"root"`
}

type brokenCheckpoint struct {
	Name        string `json:"name"`
	Wrong       string `json:"wrong"`
	Note        b64    `json:"note"`
	VerifierKey string `json:"verifier_key"`
	Origin      string `json:"origin"`
	Error       string `json:"error"`
}

type verifierKeysFile struct {
	Comment string      `json:"comment"`
	Good    []goodKey   `json:"good"`
	Broken  []brokenKey `json:"broken"`
}

type goodKey struct {
	Name        string `json:"name"`
	VerifierKey string `json:"verifier_key"`
	KeyName     string `json:"key_name"`
	KeyHash     uint32 `json:"key_hash"`
	PublicKey   b64    `json:"public_key"`
}

type brokenKey struct {
	Name        string `json:"name"`
	Wrong       string `json:"wrong"`
	VerifierKey string `json:"verifier_key"`
	Error       string `json:"error"`
}

// TestVectors checks that the files in clients/testdata/vectors are what the
// generator produces (or, with -update, rewrites them), then runs every
// vector through this package: each good vector must verify, and each broken
// one must fail with its error class.
func TestVectors(t *testing.T) {
	v := generateVectors(t)
	files := map[string]any{
		"entries.json":       v.entries,
		"trees.json":         v.trees,
		"inclusion.json":     v.inclusion,
		"consistency.json":   v.consistency,
		"checkpoints.json":   v.checkpoints,
		"verifier_keys.json": v.keys,
		"cosigned.json":      v.cosigned,
		"erasures.json":      v.erasures,
	}
	for name, content := range files {
		want, err := json.MarshalIndent(content, "", "  ")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want = append(want, '\n')
		path := filepath.Join(vectorDir, name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run: go test ./clients/go/verify -run TestVectors -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale (run: go test ./clients/go/verify -run TestVectors -update)", path)
		}
	}

	t.Run("entries", func(t *testing.T) { checkEntryVectors(t, readVectors[entriesFile](t, "entries.json")) })
	t.Run("trees", func(t *testing.T) { checkTreeVectors(t, readVectors[treesFile](t, "trees.json")) })
	t.Run("inclusion", func(t *testing.T) { checkInclusionVectors(t, readVectors[inclusionFile](t, "inclusion.json")) })
	t.Run("consistency", func(t *testing.T) { checkConsistencyVectors(t, readVectors[consistencyFile](t, "consistency.json")) })
	t.Run("checkpoints", func(t *testing.T) { checkCheckpointVectors(t, readVectors[checkpointsFile](t, "checkpoints.json")) })
	t.Run("verifier_keys", func(t *testing.T) { checkKeyVectors(t, readVectors[verifierKeysFile](t, "verifier_keys.json")) })
	t.Run("cosigned", func(t *testing.T) { checkCosignedVectors(t, readVectors[cosignedFile](t, "cosigned.json")) })
	t.Run("erasures", func(t *testing.T) { checkErasureVectors(t, readVectors[erasuresFile](t, "erasures.json")) })
}

func readVectors[F any](t *testing.T, name string) F {
	t.Helper()
	var f F
	data, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

// checkError fails unless err wraps the sentinel of the named class and no
// other, and says what was wrong with the input.
func checkError(t *testing.T, err error, class string) {
	t.Helper()
	want, ok := errorClasses[class]
	if !ok {
		t.Fatalf("unknown error class %q in vector", class)
	}
	if err == nil {
		t.Fatalf("got no error, want %s", class)
	}
	for name, sentinel := range errorClasses {
		if errors.Is(err, sentinel) != (name == class) {
			t.Errorf("got error %q, want class %s only", err, class)
		}
	}
	t.Logf("%s: %v", class, err)
	if err.Error() == want.Error() {
		t.Errorf("error %q does not say what is wrong", err)
	}
}

func decodeEntry(t *testing.T, b []byte) *agenttrailv1.Entry {
	t.Helper()
	var e agenttrailv1.Entry
	if err := proto.Unmarshal(b, &e); err != nil {
		t.Fatalf("vector entry does not decode: %v", err)
	}
	return &e
}

func checkEntryVectors(t *testing.T, f entriesFile) {
	for _, v := range f.Good {
		t.Run(v.Name, func(t *testing.T) {
			if got := verify.ContentDigest(v.Salt, v.Content); len(v.Salt) != 0 && !bytes.Equal(got[:], v.ContentDigest) {
				t.Errorf("ContentDigest = %x, want %x", got, []byte(v.ContentDigest))
			}
			if got := verify.LeafHash(v.Header, v.ContentDigest); !bytes.Equal(got[:], v.LeafHash) {
				t.Errorf("LeafHash = %x, want %x", got, []byte(v.LeafHash))
			}
			e := decodeEntry(t, v.Entry)
			c := e.GetCommitment()
			if !bytes.Equal(c.GetHeader(), v.Header) || !bytes.Equal(c.GetContent(), v.Content) || !bytes.Equal(c.GetSalt(), v.Salt) ||
				!bytes.Equal(c.GetContentDigest(), v.ContentDigest) || !bytes.Equal(c.GetLeafHash(), v.LeafHash) {
				t.Errorf("the vector's fields differ from its entry's commitment")
			}
			if err := verify.CheckEntry(e); err != nil {
				t.Errorf("Entry: got %v, want nil", err)
			}
		})
	}
	for _, v := range f.Broken {
		t.Run(v.Name, func(t *testing.T) {
			checkError(t, verify.CheckEntry(decodeEntry(t, v.Entry)), v.Error)
		})
	}
}

func checkTreeVectors(t *testing.T, f treesFile) {
	leaves := make([][32]byte, len(f.Leaves))
	for i, l := range f.Leaves {
		leaves[i] = [32]byte(l)
	}
	for _, tr := range f.Trees {
		if got := merkleRoot(leaves[:tr.Size]); !bytes.Equal(got[:], tr.Root) {
			t.Errorf("root of the first %d leaves = %x, want %x", tr.Size, got, []byte(tr.Root))
		}
	}
}

func proofOf(p []b64) [][]byte {
	out := make([][]byte, len(p))
	for i, h := range p {
		out[i] = h
	}
	return out
}

func checkInclusionVectors(t *testing.T, f inclusionFile) {
	run := func(v inclusionVector) error {
		return verify.CheckInclusion(v.Index, v.Size, [32]byte(v.LeafHash), proofOf(v.Proof), [32]byte(v.Root))
	}
	for _, v := range f.Good {
		t.Run(v.Name, func(t *testing.T) {
			if err := run(v); err != nil {
				t.Errorf("Inclusion: got %v, want nil", err)
			}
		})
	}
	for _, v := range f.Broken {
		t.Run(v.Name, func(t *testing.T) { checkError(t, run(v), v.Error) })
	}
}

func checkConsistencyVectors(t *testing.T, f consistencyFile) {
	run := func(v consistencyVector) error {
		return verify.CheckConsistency(v.OldSize, v.NewSize, [32]byte(v.OldRoot), [32]byte(v.NewRoot), proofOf(v.Proof))
	}
	for _, v := range f.Good {
		t.Run(v.Name, func(t *testing.T) {
			if err := run(v); err != nil {
				t.Errorf("Consistency: got %v, want nil", err)
			}
		})
	}
	for _, v := range f.Broken {
		t.Run(v.Name, func(t *testing.T) { checkError(t, run(v), v.Error) })
	}
}

func checkCheckpointVectors(t *testing.T, f checkpointsFile) {
	for _, v := range f.Good {
		t.Run(v.Name, func(t *testing.T) {
			got, err := verify.OpenCheckpoint(v.Note, v.VerifierKey, v.Origin)
			if err != nil {
				t.Fatalf("Checkpoint: got %v, want nil", err)
			}
			want := verify.TreeHead{Origin: v.Origin, Size: v.Size, Root: [32]byte(v.Root)}
			if got != want {
				t.Errorf("Checkpoint = %+v, want %+v", got, want)
			}
		})
	}
	for _, v := range f.Broken {
		t.Run(v.Name, func(t *testing.T) {
			_, err := verify.OpenCheckpoint(v.Note, v.VerifierKey, v.Origin)
			checkError(t, err, v.Error)
			if strings.HasSuffix(fmt.Sprint(err), ": malformed note") {
				t.Errorf("error %q does not say which signed-note rule the note breaks", err)
			}
		})
	}
}

func checkKeyVectors(t *testing.T, f verifierKeysFile) {
	for _, v := range f.Good {
		t.Run(v.Name, func(t *testing.T) {
			k, err := verify.ParseVerifierKey(v.VerifierKey)
			if err != nil {
				t.Fatalf("ParseVerifierKey: got %v, want nil", err)
			}
			if k.Name != v.KeyName || k.KeyHash != v.KeyHash || !bytes.Equal(k.PublicKey, v.PublicKey) {
				t.Errorf("ParseVerifierKey = {%s %08x %x}, want {%s %08x %x}", k.Name, k.KeyHash, []byte(k.PublicKey), v.KeyName, v.KeyHash, []byte(v.PublicKey))
			}
		})
	}
	for _, v := range f.Broken {
		t.Run(v.Name, func(t *testing.T) {
			_, err := verify.ParseVerifierKey(v.VerifierKey)
			checkError(t, err, v.Error)
		})
	}
}

// merkleRoot computes the RFC 6962 Merkle tree hash of leaf hashes by its
// definition (RFC 6962, section 2.1), independently of tlog.
func merkleRoot(leaves [][32]byte) [32]byte {
	switch len(leaves) {
	case 0:
		return sha256Sum(nil)
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := merkleRoot(leaves[:k]), merkleRoot(leaves[k:])
	return sha256Sum(append(append([]byte{1}, l[:]...), r[:]...))
}

func openCosigned(v cosignedVector) (verify.TreeHead, []verify.Cosignature, error) {
	if v.Quorum < 1 {
		// NewWitnessPolicy reads 0 as "all"; a vector's 0 is a policy
		// that trusts what no witness cosigned.
		return commitmentOpen(v, &verify.WitnessPolicy{Quorum: v.Quorum})
	}
	p, err := verify.NewWitnessPolicy(v.WitnessKeys, v.Quorum)
	if err != nil {
		return verify.TreeHead{}, nil, err
	}
	return commitmentOpen(v, p)
}

func commitmentOpen(v cosignedVector, p *verify.WitnessPolicy) (verify.TreeHead, []verify.Cosignature, error) {
	return verify.OpenCosignedCheckpoint(v.Note, v.VerifierKey, v.Origin, p)
}

func checkCosignedVectors(t *testing.T, f cosignedFile) {
	for _, v := range f.Good {
		t.Run(v.Name, func(t *testing.T) {
			h, cosigs, err := openCosigned(v)
			if err != nil {
				t.Fatalf("OpenCosignedCheckpoint: %v", err)
			}
			if want := (verify.TreeHead{Origin: v.Origin, Size: v.Size, Root: [32]byte(v.Root)}); h != want {
				t.Errorf("head %+v, want %+v", h, want)
			}
			var got []string
			for _, c := range cosigs {
				got = append(got, c.Witness)
			}
			if strings.Join(got, ",") != strings.Join(v.Cosigners, ",") {
				t.Errorf("cosigners %q, want %q", got, v.Cosigners)
			}
		})
	}
	for _, v := range f.Broken {
		t.Run(v.Name, func(t *testing.T) {
			_, _, err := openCosigned(v)
			checkError(t, err, v.Error)
		})
	}
}

func checkErasureVectors(t *testing.T, f erasuresFile) {
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			var l verify.ErasureLedger
			for _, e := range c.Entries {
				var ev agenttrailv1.Event
				if err := proto.Unmarshal(e.Event, &ev); err != nil {
					t.Fatal(err)
				}
				l.Note(e.Index, &ev, e.Erased)
			}
			err := l.Check()
			if c.Error == "" {
				if err != nil {
					t.Fatalf("Check: %v, want nil", err)
				}
				return
			}
			checkError(t, err, c.Error)
			if u := l.Unproven(); len(u) == 0 || u[0] != c.FirstBadAt {
				t.Errorf("first unproven %v, want %d", u, c.FirstBadAt)
			}
		})
	}
}
