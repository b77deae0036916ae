package main

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

// The export format, JSON lines:
//
//	{"format":"agenttrail-export-v1","verifier_key":"<key>","checkpoint":<agenttrail.v1.Checkpoint>}
//	{"entry":<agenttrail.v1.Entry>,"inclusion_proof":<agenttrail.v1.GetInclusionProofResponse>}
//	...
//
// Messages are in protojson with the .proto field names; bytes fields are
// base64, as protojson writes them. Every inclusion proof is against the
// checkpoint of the first line, which is left out of the proofs.
const exportFormat = "agenttrail-export-v1"

// exportHeader is the first line of an export.
type exportHeader struct {
	Format      string          `json:"format"`
	VerifierKey string          `json:"verifier_key"`
	Checkpoint  json.RawMessage `json:"checkpoint"`
}

// exportLine is each line after the first: one entry and its proof.
type exportLine struct {
	Entry json.RawMessage `json:"entry"`
	Proof json.RawMessage `json:"inclusion_proof"`
}

// exportReport is what verify --export checked.
type exportReport struct {
	head           verify.TreeHead
	key            string
	events         int
	contentChecked int
	first, last    uint64
}

// exportError names the line, and the log index when known, of the first
// thing in an export that does not verify.
type exportError struct {
	line  int
	index *uint64
	err   error
}

func (e *exportError) Error() string {
	if e.index != nil {
		return fmt.Sprintf("event %d (line %d of the export) does not verify: %v", *e.index, e.line, e.err)
	}
	return fmt.Sprintf("line %d of the export: %v", e.line, e.err)
}

func (e *exportError) Unwrap() error { return e.err }

// verifyExport checks an export with the verifier key given, or else with
// the export's own key (with a warning on errOut): the checkpoint's
// signature, and each entry with its inclusion proof against it. Log
// indexes must increase.
func verifyExport(r io.Reader, key string, errOut io.Writer) (exportReport, error) {
	var rep exportReport
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return rep, err
		}
		return rep, errors.New("the export is empty: want a first line with the checkpoint")
	}
	var h exportHeader
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Format != exportFormat {
		return rep, &exportError{line: 1, err: fmt.Errorf("not an %s header line", exportFormat)}
	}
	cp := new(agenttrailv1.Checkpoint)
	if err := protojson.Unmarshal(h.Checkpoint, cp); err != nil {
		return rep, &exportError{line: 1, err: fmt.Errorf("checkpoint: %v", err)}
	}
	if key == "" {
		key = h.VerifierKey
		warnTOFU(errOut, key)
		fmt.Fprintln(errOut, "warning: with the export's own key, verification shows only that the export is consistent with itself")
	}
	v, err := client.NewVerifier(key)
	if err != nil {
		return rep, usageError{fmt.Sprintf("verifier key: %v", err)}
	}
	rep.key = v.Key()
	if rep.head, err = v.Checkpoint(cp); err != nil {
		return rep, &exportError{line: 1, err: err}
	}
	for line := 2; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var l exportLine
		entry, proof := new(agenttrailv1.Entry), new(agenttrailv1.GetInclusionProofResponse)
		if err := json.Unmarshal(text, &l); err != nil {
			return rep, &exportError{line: line, err: fmt.Errorf("not an export line: %v", err)}
		}
		if err := protojson.Unmarshal(l.Entry, entry); err != nil {
			return rep, &exportError{line: line, err: fmt.Errorf("entry: %v", err)}
		}
		index := entry.GetStamp().GetLogIndex()
		if err := protojson.Unmarshal(l.Proof, proof); err != nil {
			return rep, &exportError{line: line, index: &index, err: fmt.Errorf("inclusion_proof: %v", err)}
		}
		if rep.events > 0 && index <= rep.last {
			return rep, &exportError{line: line, index: &index, err: fmt.Errorf("log indexes must increase; the line before was event %d", rep.last)}
		}
		if _, err := v.VerifyEntry(entry, cp, proof); err != nil {
			return rep, &exportError{line: line, index: &index, err: err}
		}
		if rep.events == 0 {
			rep.first = index
		}
		rep.last = index
		rep.events++
		if entry.GetView().GetContent() == agenttrailv1.ContentState_CONTENT_STATE_PRESENT {
			rep.contentChecked++
		}
	}
	if err := sc.Err(); err != nil {
		return rep, fmt.Errorf("reading the export: %w", err)
	}
	return rep, nil
}
