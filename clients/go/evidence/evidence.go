// Package evidence reads and writes agenttrail evidence bundles: a signed
// checkpoint and a run of log entries, each with its inclusion proof against
// that checkpoint, that anyone can verify without the server. `agenttrail
// export` writes them, `agenttrail verify --export` checks them, and a Go
// program can do either with this package.
//
// # Format
//
// JSON lines:
//
//	{"format":"agenttrail-export-v1","verifier_key":"<key>","checkpoint":<agenttrail.v1.Checkpoint>}
//	{"entry":<agenttrail.v1.Entry>,"inclusion_proof":<agenttrail.v1.GetInclusionProofResponse>}
//	...
//
// Messages are protojson with the .proto field names; bytes fields are
// base64, as protojson writes them. Every inclusion proof is against the
// checkpoint of the first line, which is left out of the proofs. Log indexes
// increase from line to line.
package evidence

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/agenttrail/agenttrail/clients/go/client"
	"github.com/agenttrail/agenttrail/clients/go/verify"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// Format names the bundle format of this package, the first line's
// "format".
const Format = "agenttrail-export-v1"

// MaxLine is the longest line a bundle may have: well above the largest
// event with its proof.
const MaxLine = 16 << 20

// header is the first line of a bundle.
type header struct {
	Format      string          `json:"format"`
	VerifierKey string          `json:"verifier_key"`
	Checkpoint  json.RawMessage `json:"checkpoint"`
}

// line is each line after the first: one entry and its proof.
type line struct {
	Entry json.RawMessage `json:"entry"`
	Proof json.RawMessage `json:"inclusion_proof"`
}

var jsonOptions = protojson.MarshalOptions{UseProtoNames: true}

// Writer writes a bundle.
type Writer struct {
	w   *bufio.Writer
	buf []byte
}

// NewWriter starts a bundle on w with the checkpoint every entry's proof is
// against and the verifier key of the log.
func NewWriter(w io.Writer, verifierKey string, cp *agenttrailv1.Checkpoint) (*Writer, error) {
	cpJSON, err := jsonOptions.Marshal(cp)
	if err != nil {
		return nil, err
	}
	bw := &Writer{w: bufio.NewWriter(w)}
	if err := bw.writeLine(header{Format: Format, VerifierKey: verifierKey, Checkpoint: cpJSON}); err != nil {
		return nil, err
	}
	return bw, nil
}

// Add writes an entry and its inclusion proof against the bundle's
// checkpoint. Entries must come in increasing log order.
func (w *Writer) Add(e *agenttrailv1.Entry, proof *agenttrailv1.GetInclusionProofResponse) error {
	b, err := AppendLine(w.buf[:0], e, proof)
	if err != nil {
		return err
	}
	w.buf = b
	_, err = w.w.Write(b)
	return err
}

// AppendLine appends to dst the line that [Writer.Add] writes for an entry
// and its proof, newline included, for a caller that renders lines on
// several goroutines and writes them in order with [Writer.AddLine].
func AppendLine(dst []byte, e *agenttrailv1.Entry, proof *agenttrailv1.GetInclusionProofResponse) ([]byte, error) {
	// The checkpoint is the header's.
	p := &agenttrailv1.GetInclusionProofResponse{LogIndex: proof.GetLogIndex(), TreeSize: proof.GetTreeSize(), LeafHash: proof.GetLeafHash(), Hashes: proof.GetHashes()}
	// The line of a line struct, written directly: protojson writes one
	// line of valid JSON, which encoding/json would only scan again.
	// Both messages as protojson writes them, by appendMessageJSON
	// (jsonline.go).
	entry, proofTable := jsonTables()
	b := append(dst, `{"entry":`...)
	b, err := appendMessageJSON(b, e, entry)
	if err != nil {
		return dst, err
	}
	b = append(b, `,"inclusion_proof":`...)
	if b, err = appendMessageJSON(b, p, proofTable); err != nil {
		return dst, err
	}
	return append(b, "}\n"...), nil
}

// AddLine writes a line made by [AppendLine]. Lines must come in increasing
// log order, as for [Writer.Add].
func (w *Writer) AddLine(line []byte) error {
	_, err := w.w.Write(line)
	return err
}

// Flush writes what is buffered.
func (w *Writer) Flush() error { return w.w.Flush() }

func (w *Writer) writeLine(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.w.Write(b)
	return err
}

// Report is what Verify checked.
type Report struct {
	// Head is the tree head of the bundle's checkpoint.
	Head verify.TreeHead
	// Key is the verifier key the bundle was checked with.
	Key string
	// SelfKeyed is set when no key was given and the bundle's own was
	// used: the bundle is then shown only to be consistent with itself.
	SelfKeyed bool
	// Events is the number of entries, ContentChecked the number whose
	// content was shown and checked against its digest, and First and Last
	// the log indexes of the first and last entry.
	Events, ContentChecked int
	First, Last            uint64
	// Erased is how many entries had their content erased: each is named
	// by a later Erasure or Retention entry of the bundle.
	Erased int
}

// Error names the line, and the log index when known, of the first thing
// in a bundle that does not verify.
type Error struct {
	Line  int
	Index *uint64
	Err   error
}

func (e *Error) Error() string {
	if e.Index != nil {
		return fmt.Sprintf("event %d (line %d of the export) does not verify: %v", *e.Index, e.Line, e.Err)
	}
	return fmt.Sprintf("line %d of the export: %v", e.Line, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrBadKey wraps a verifier key that does not parse.
var ErrBadKey = errors.New("evidence: bad verifier key")

// Verify checks a bundle with a verifier key, or, when key is empty, with
// the bundle's own key (see Report.SelfKeyed): the checkpoint's signature,
// and each entry's commitment and inclusion proof against it, in increasing
// log order. The first failure is an *Error naming its line.
func Verify(r io.Reader, key string) (Report, error) {
	var rep Report
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return rep, err
		}
		return rep, errors.New("the export is empty: want a first line with the checkpoint")
	}
	var h header
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Format != Format {
		return rep, &Error{Line: 1, Err: fmt.Errorf("not an %s header line", Format)}
	}
	cp := new(agenttrailv1.Checkpoint)
	if err := protojson.Unmarshal(h.Checkpoint, cp); err != nil {
		return rep, &Error{Line: 1, Err: fmt.Errorf("checkpoint: %v", err)}
	}
	if key == "" {
		key, rep.SelfKeyed = h.VerifierKey, true
	}
	v, err := client.NewVerifier(key)
	if err != nil {
		return rep, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	rep.Key = v.Key()
	if rep.Head, err = v.Checkpoint(cp); err != nil {
		return rep, &Error{Line: 1, Err: err}
	}
	var ledger verify.ErasureLedger
	lines := map[uint64]int{}
	for n := 2; sc.Scan(); n++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var l line
		entry, proof := new(agenttrailv1.Entry), new(agenttrailv1.GetInclusionProofResponse)
		if err := json.Unmarshal(text, &l); err != nil {
			return rep, &Error{Line: n, Err: fmt.Errorf("not an export line: %v", err)}
		}
		if err := protojson.Unmarshal(l.Entry, entry); err != nil {
			return rep, &Error{Line: n, Err: fmt.Errorf("entry: %v", err)}
		}
		index := entry.GetStamp().GetLogIndex()
		if err := protojson.Unmarshal(l.Proof, proof); err != nil {
			return rep, &Error{Line: n, Index: &index, Err: fmt.Errorf("inclusion_proof: %v", err)}
		}
		if rep.Events > 0 && index <= rep.Last {
			return rep, &Error{Line: n, Index: &index, Err: fmt.Errorf("log indexes must increase; the line before was event %d", rep.Last)}
		}
		if _, err := v.VerifyEntry(entry, cp, proof); err != nil {
			return rep, &Error{Line: n, Index: &index, Err: err}
		}
		if rep.Events == 0 {
			rep.First = index
		}
		rep.Last = index
		rep.Events++
		if entry.GetView().GetContent() == agenttrailv1.ContentState_CONTENT_STATE_PRESENT {
			rep.ContentChecked++
		}
		ledger.Note(index, entry.GetEvent(), entry.GetView().GetContent() == agenttrailv1.ContentState_CONTENT_STATE_ERASED)
		lines[index] = n
	}
	if err := sc.Err(); err != nil {
		return rep, fmt.Errorf("reading the export: %w", err)
	}
	// Every erased entry's content is gone by an erasure or retention
	// event the bundle holds (verified, as every entry): export carries
	// them.
	if u := ledger.Unproven(); len(u) > 0 {
		index := u[0]
		return rep, &Error{Line: lines[index], Index: &index, Err: fmt.Errorf("%w: its content is erased, and no later erasure or retention event of the export names it", verify.ErrMalformed)}
	}
	rep.Erased = ledger.Erased()
	return rep, nil
}
