package redact

import (
	"sync"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// CheckMetadataReceived is CheckMetadata for an event decoded from raw,
// the bytes it arrived in (nil: unknown). It reads the metadata strings
// where they lie in raw, without reflection, and checks the event itself
// as CheckMetadata does only when one of them may be refused or raw is
// not an encoding it can read, so that its answer, and the field it names,
// are always CheckMetadata's.
//
// Every string the decoded event holds lies in some record of raw, so raw
// holds them all and maybe more (a oneof field or a list the decoder
// dropped or replaced): raw found clean means the event is clean.
func CheckMetadataReceived(ev *agenttrailv1.Event, raw []byte) error {
	if ev != nil && raw != nil && metadataClean(raw, wireMetadataTree()) {
		return nil
	}
	return CheckMetadata(ev)
}

// wireNode is one message of the event model as metadataClean walks its
// encoding: by field number, the METADATA strings and containers.
type wireNode struct {
	fields []wireField
}

type wireField struct {
	str   bool      // a METADATA string, or list of strings
	child *wireNode // a METADATA container
}

// wireMetadataTree is metadataTree by field number: the same fields.
var wireMetadataTree = sync.OnceValue(func() *wireNode {
	built := map[*metaNode]*wireNode{}
	var build func(n *metaNode) *wireNode
	build = func(n *metaNode) *wireNode {
		if w, ok := built[n]; ok {
			return w
		}
		w := &wireNode{}
		built[n] = w
		set := func(num protowire.Number, f wireField) {
			for int(num) >= len(w.fields) {
				w.fields = append(w.fields, wireField{})
			}
			w.fields[num] = f
		}
		for _, fd := range n.strings {
			set(fd.Number(), wireField{str: true})
		}
		for _, c := range n.containers {
			set(c.fd.Number(), wireField{child: build(c.node)})
		}
		for _, o := range n.oneofs {
			for num := range o.strings {
				set(num, wireField{str: true})
			}
			for num, child := range o.children {
				set(num, wireField{child: build(child)})
			}
		}
		return w
	}
	return build(metadataTree())
})

// metadataClean reports whether every METADATA string in the encoding b of
// a message of node n is one CheckMetadata lets through; false also when b
// is not an encoding it can read.
func metadataClean(b []byte, n *wireNode) bool {
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return false
		}
		b = b[l:]
		var f wireField
		if int(num) < len(n.fields) {
			f = n.fields[num]
		}
		if typ == protowire.BytesType && (f.str || f.child != nil) {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return false
			}
			b = b[m:]
			if f.child != nil && !metadataClean(v, f.child) {
				return false
			}
			if f.str && !metadataBytesClean(v) {
				return false
			}
			continue
		}
		// Another field, or a record the decoder keeps as an unknown
		// field (of another wire type), which the event does not show.
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return false
		}
		b = b[m:]
	}
	return true
}

// metadataBytesClean is checkMetadataValue for a string as it lies in an
// encoding. The triage reads it in place (it keeps nothing of it); a
// string the detectors must scan is copied first, since a clean one is
// remembered.
func metadataBytesClean(v []byte) bool {
	if len(v) == 0 {
		return true
	}
	have, scan := triageMetadata(unsafe.String(unsafe.SliceData(v), len(v)))
	if !scan {
		return true
	}
	return scanMetadataValue(string(v), have) == nil
}
