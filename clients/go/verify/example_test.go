package verify_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/agenttrail/agenttrail/clients/go/verify"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// A reader checks an entry it was served against a signed checkpoint, with
// nothing but the log's verifier key, obtained out of band.
func Example() {
	const origin = "example.com/agenttrail"
	verifierKey, checkpoint, entry, proof := exampleLog(origin)

	head, err := verify.OpenCheckpoint(checkpoint, verifierKey, origin)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("checkpoint: %s, %d entries\n", head.Origin, head.Size)

	if err := verify.CheckEntry(entry); err != nil {
		log.Fatal(err)
	}
	leaf := [32]byte(entry.GetCommitment().GetLeafHash())
	if err := verify.CheckInclusion(entry.GetStamp().GetLogIndex(), head.Size, leaf, proof, head.Root); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("entry %d (%s by %s) is in the log\n",
		entry.GetStamp().GetLogIndex(), entry.GetEvent().GetToolCall().GetToolName(), entry.GetStamp().GetPrincipal())

	// A tampered entry fails with an error that says what is wrong.
	entry.GetEvent().GetToolCall().ToolName = "delete_everything"
	err = verify.CheckEntry(entry)
	fmt.Println(errors.Is(err, verify.ErrEventMismatch), err)

	// Output:
	// checkpoint: example.com/agenttrail, 2 entries
	// entry 1 (lookup_order by support-agent) is in the log
	// true event disagrees with commitment: event field tool_call.tool_name differs from the committed header
}

// exampleLog plays the server: it commits two events to a log, signs a
// checkpoint with a fixed key, and serves entry 1 with its inclusion proof.
func exampleLog(origin string) (verifierKey string, checkpoint []byte, entry *agenttrailv1.Entry, proof [][]byte) {
	received := timestamppb.New(time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC))
	var leaves []tlog.Hash
	for i, tool := range []string{"search", "lookup_order"} {
		header := &agenttrailv1.Event{EventId: fmt.Sprintf("event-%d", i), AgentId: "support-agent",
			Payload: &agenttrailv1.Event_ToolCall{ToolCall: &agenttrailv1.ToolCall{ToolName: tool}}}
		content := &agenttrailv1.Event{Payload: &agenttrailv1.Event_ToolCall{ToolCall: &agenttrailv1.ToolCall{Arguments: `{"order_id":"4411"}`}}}
		hb, _ := proto.MarshalOptions{Deterministic: true}.Marshal(&agenttrailv1.EventHeader{Event: header, ReceivedAt: received, Principal: "support-agent"})
		cb, _ := proto.MarshalOptions{Deterministic: true}.Marshal(content)
		salt := make([]byte, 32) // random in a real log
		digest := verify.ContentDigest(salt, cb)
		leaf := verify.LeafHash(hb, digest[:])
		leaves = append(leaves, leaf)
		event := proto.Clone(header).(*agenttrailv1.Event)
		proto.Merge(event, content)
		entry = &agenttrailv1.Entry{
			Event:      event,
			Stamp:      &agenttrailv1.Stamp{LogIndex: uint64(i), ReceivedAt: received, Principal: "support-agent"},
			Commitment: &agenttrailv1.Commitment{Header: hb, ContentDigest: digest[:], LeafHash: leaf[:], Content: cb, Salt: salt},
			View:       &agenttrailv1.View{Kind: agenttrailv1.ViewKind_VIEW_KIND_FULL, Content: agenttrailv1.ContentState_CONTENT_STATE_PRESENT},
		}
	}
	root := tlog.NodeHash(leaves[0], leaves[1])
	proof = [][]byte{leaves[0][:]}

	seed := make([]byte, ed25519.SeedSize)
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	verifierKey, _ = note.NewEd25519VerifierKey(origin, pub)
	k, _ := verify.ParseVerifierKey(verifierKey)
	signer, err := note.NewSigner(fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", origin, k.KeyHash, base64.StdEncoding.EncodeToString(append([]byte{1}, seed...))))
	if err != nil {
		log.Fatal(err)
	}
	text := fmt.Sprintf("%s\n%d\n%s\n", origin, len(leaves), base64.StdEncoding.EncodeToString(root[:]))
	checkpoint, err = note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		log.Fatal(err)
	}
	return verifierKey, checkpoint, entry, proof
}
