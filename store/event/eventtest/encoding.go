package eventtest

import (
	"bytes"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// Deterministic is Go's deterministic encoding of an event, the encoding
// the log commits. It panics if the event does not encode.
func Deterministic(ev *agenttrailv1.Event) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return b
}

// Backwards encodes an event with its top-level fields in reverse order:
// bytes that decode to the event but are not Go's encoding of it, as
// another client's encoder might write. It panics if the event does not
// encode.
func Backwards(ev *agenttrailv1.Event) []byte {
	b := Deterministic(ev)
	var recs [][]byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		recs = append(recs, b[:n+m])
		b = b[n+m:]
	}
	slices.Reverse(recs)
	return bytes.Join(recs, nil)
}
