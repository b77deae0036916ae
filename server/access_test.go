package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/server/redact"
	"github.com/agenttrail/agenttrail/store"
)

// secrets are seeded into the content of events; a developer must never
// see any of them, anywhere.
var secrets = map[string]string{
	"email":   "jane.doe@example.com",
	"card":    "4242 4242 4242 4242",
	"api key": "sk-proj-Tq3vX9mL2pR7wK4nB8cJ5hF1aZ6yD0eG",
	"jwt":     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUgRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
}

// secure is a harness with access control and a key per role.
type secure struct {
	*harness
	keys map[string]string // by name: agent, developer, developer2, compliance, admin, revoked, expired, other-agent
}

func startSecure(t *testing.T, opts ...server.Option) *secure {
	t.Helper()
	h := &secure{keys: map[string]string{}}
	var st *store.Store
	red, err := redact.New(redact.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	// Keys live in the server's store: create them once New has it.
	h.harness = start(t, nil, append(opts, server.WithAccessControlFunc(func(s *store.Store) (*auth.Authenticator, server.EventRedactor, error) {
		st = s
		a, err := auth.New(s, nil, nil)
		return a, red, err
	}))...)
	// Whatever a test does, the server's log never holds a seeded secret,
	// an API key, or event content.
	t.Cleanup(func() {
		log := h.log.String()
		if found := leaks(log); len(found) > 0 {
			t.Errorf("the server log holds %v", found)
		}
		for name, k := range h.keys {
			if strings.Contains(log, k) {
				t.Errorf("the server log holds the %s API key", name)
			}
		}
		for _, content := range []string{"Refund me", "my token is", "auth failed with key"} {
			if strings.Contains(log, content) {
				t.Errorf("the server log holds event content %q", content)
			}
		}
	})
	now := time.Now()
	for _, k := range []struct {
		name    string
		spec    auth.KeySpec
		revoked bool
	}{
		{"agent", auth.KeySpec{Principal: "support-bot", Role: auth.Agent, AgentID: "support-agent"}, false},
		{"other-agent", auth.KeySpec{Principal: "billing-bot", Role: auth.Agent, AgentID: "billing-agent"}, false},
		{"developer", auth.KeySpec{Principal: "dev-alice", Role: auth.Developer}, false},
		{"developer2", auth.KeySpec{Principal: "dev-bob", Role: auth.Developer}, false},
		{"compliance", auth.KeySpec{Principal: "audit-carol", Role: auth.Compliance}, false},
		{"admin", auth.KeySpec{Principal: "ops-dave", Role: auth.Admin}, false},
		{"revoked", auth.KeySpec{Principal: "dev-eve", Role: auth.Developer}, true},
		{"expired", auth.KeySpec{Principal: "dev-frank", Role: auth.Developer, ExpiresAt: now.Add(150 * time.Millisecond)}, false},
	} {
		c, secret, err := auth.CreateKey(context.Background(), st, k.spec, "test", now)
		if err != nil {
			t.Fatalf("creating %s key: %v", k.name, err)
		}
		if k.revoked {
			if _, err := auth.RevokeKey(context.Background(), st, c.ID, "test", now); err != nil {
				t.Fatal(err)
			}
		}
		h.keys[k.name] = secret
	}
	time.Sleep(200 * time.Millisecond) // let the short-lived key expire
	return h
}

func (h *secure) as(name string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+h.keys[name])
}

// seeded returns agent events whose content holds every secret.
func seeded() []*agenttrailv1.Event {
	evs := agentEvents()
	evs[0].GetSessionStart().UserMessage = fmt.Sprintf("Refund me. Email %s, card %s.", secrets["email"], secrets["card"])
	evs[2].GetLlmCall().InputMessages[1].Content = "my token is " + secrets["jwt"]
	evs[3].GetToolCall().Arguments = fmt.Sprintf(`{"api_key":%q,"customer":{"email":%q}}`, secrets["api key"], secrets["email"])
	evs[6].GetError().StackTrace = "auth failed with key " + secrets["api key"]
	return evs
}

func appendAs(t *testing.T, h *secure, who string, evs []*agenttrailv1.Event) []*agenttrailv1.AppendResponse {
	t.Helper()
	stream, err := h.append.Append(h.as(who))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if err := stream.Send(&agenttrailv1.AppendRequest{Event: ev}); err != nil {
			t.Fatal(err)
		}
	}
	stream.CloseSend()
	var out []*agenttrailv1.AppendResponse
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("Append as %s: %v", who, err)
		}
		out = append(out, r)
	}
}

func queryAs(t *testing.T, h *secure, who string, req *agenttrailv1.QueryRequest) ([]*agenttrailv1.Entry, error) {
	t.Helper()
	stream, err := h.query.Query(h.as(who), req)
	if err != nil {
		return nil, err
	}
	var out []*agenttrailv1.Entry
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if r.GetEntry() != nil {
			out = append(out, r.GetEntry())
		}
	}
}

// leaks returns the seeded secrets found in a text.
func leaks(text string) []string {
	var found []string
	for name, s := range secrets {
		if strings.Contains(text, s) || strings.Contains(text, strings.ReplaceAll(s, " ", "")) {
			found = append(found, name)
		}
	}
	return found
}

func TestAgentKeyAppendsButCannotRead(t *testing.T) {
	h := startSecure(t)
	resps := appendAs(t, h, "agent", seeded())
	for i, r := range resps {
		if r.GetReceipt() == nil {
			t.Fatalf("agent append %d: %v", i, r.GetRejection())
		}
	}
	if _, err := queryAs(t, h, "agent", &agenttrailv1.QueryRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("agent Query: %v, want PermissionDenied", err)
	}
	if _, err := h.query.GetEvent(h.as("agent"), &agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_LogIndex{LogIndex: 0}}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("agent GetEvent: %v, want PermissionDenied", err)
	}
	if _, err := h.logs.GetCheckpoint(h.as("agent"), &agenttrailv1.GetCheckpointRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("agent GetCheckpoint: %v, want PermissionDenied", err)
	}
	if _, err := agenttrailv1.NewAdminServiceClient(h.conn).ListKeys(h.as("agent"), &agenttrailv1.ListKeysRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("agent ListKeys: %v, want PermissionDenied", err)
	}
}

func TestScopedAgentKeyAppendsOnlyItsAgent(t *testing.T) {
	h := startSecure(t)
	evs := seeded()[:2]
	evs[1].AgentId = "billing-agent"
	resps := appendAs(t, h, "agent", evs)
	if resps[0].GetReceipt() == nil {
		t.Errorf("in-scope event: %v", resps[0])
	}
	if rej := resps[1].GetRejection(); codes.Code(rej.GetCode()) != codes.PermissionDenied || rej.GetField() != "event.agent_id" {
		t.Errorf("out-of-scope event: %v, want PermissionDenied on event.agent_id", resps[1])
	}
	if resps := appendAs(t, h, "other-agent", evs[1:2]); resps[0].GetReceipt() == nil {
		t.Errorf("the other agent's own event: %v", resps[0])
	}
}

func TestBadCredentialsAreUnauthenticated(t *testing.T) {
	h := startSecure(t)
	bad := map[string]context.Context{
		"missing": context.Background(),
		"garbage": metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer not-a-key"),
		"wrong secret": metadata.AppendToOutgoingContext(context.Background(), "authorization",
			"Bearer "+h.keys["developer"][:len(h.keys["developer"])-4]+"AAAA"),
		"revoked":   h.as("revoked"),
		"expired":   h.as("expired"),
		"no scheme": metadata.AppendToOutgoingContext(context.Background(), "authorization", h.keys["developer"]),
	}
	for name, ctx := range bad {
		_, err := h.query.GetEvent(ctx, &agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_LogIndex{LogIndex: 0}})
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s credentials: %v, want Unauthenticated", name, err)
		}
		if msg := status.Convert(err).Message(); strings.Contains(msg, "revoked") || strings.Contains(msg, "expired") || strings.Contains(msg, "secret") {
			t.Errorf("%s credentials: message %q says why in detail", name, msg)
		}
	}
	// Health stays open.
	if _, err := h.logs.GetVerifierKey(context.Background(), &agenttrailv1.GetVerifierKeyRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetVerifierKey without a key: %v, want Unauthenticated", err)
	}
}

// A developer sees the seeded secrets nowhere: not in Query, tail, GetEvent,
// proofs or error messages; yet each redacted entry still verifies against
// the signed checkpoint.
func TestDeveloperNeverSeesSecrets(t *testing.T) {
	h := startSecure(t)
	evs := seeded()
	appendAs(t, h, "agent", evs)
	var seen strings.Builder
	record := func(m proto.Message) { seen.WriteString(prototext.Format(m)) }

	entries, err := queryAs(t, h, "developer", &agenttrailv1.QueryRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < len(evs) {
		t.Fatalf("developer saw %d entries, want at least %d", len(entries), len(evs))
	}
	cp, err := h.logs.GetCheckpoint(h.as("developer"), &agenttrailv1.GetCheckpointRequest{})
	if err != nil {
		t.Fatal(err)
	}
	record(cp)
	for _, e := range entries {
		record(e)
		if e.GetView().GetKind() != agenttrailv1.ViewKind_VIEW_KIND_REDACTED || e.GetView().GetPolicyVersion() == "" {
			t.Errorf("entry %d view %v, want redacted with a policy version", e.GetStamp().GetLogIndex(), e.GetView())
		}
		if e.GetView().GetContent() != agenttrailv1.ContentState_CONTENT_STATE_WITHHELD || e.GetCommitment().GetContent() != nil || e.GetCommitment().GetSalt() != nil {
			t.Errorf("entry %d: content or salt in the developer view", e.GetStamp().GetLogIndex())
		}
		checkCommitted(t, h, e, cp.GetCheckpoint())
		got, err := h.query.GetEvent(h.as("developer"), &agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_LogIndex{LogIndex: e.GetStamp().GetLogIndex()}})
		if err != nil {
			t.Fatal(err)
		}
		record(got)
	}
	// The tail too.
	tailCtx, cancel := context.WithTimeout(h.as("developer"), 5*time.Second)
	defer cancel()
	tail, err := h.query.Query(tailCtx, &agenttrailv1.QueryRequest{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	for {
		r, err := tail.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if r.GetCaughtUp() != nil {
			break
		}
		record(r)
	}
	more := seeded()
	for i, ev := range more {
		ev.EventId = fmt.Sprintf("01963a4e-7c1b-7000-8000-0000000001%02d", i)
	}
	appendAs(t, h, "agent", more[:3])
	for n := 0; n < 3; {
		r, err := tail.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if r.GetEntry() != nil && r.GetEntry().GetEvent().GetAccess() == nil {
			n++
		}
		record(r)
	}
	cancel()
	// Error messages: a bad request that carries a secret does not echo it.
	_, err = h.query.GetEvent(h.as("developer"), &agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_EventId{EventId: secrets["email"]}})
	seen.WriteString(status.Convert(err).Message())
	_, err = queryAs(t, h, "developer", &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{SessionId: secrets["api key"] + " x"}})
	seen.WriteString(status.Convert(err).Message())
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("query with a bad session id: %v, want InvalidArgument", err)
	}

	if found := leaks(seen.String()); len(found) > 0 {
		t.Errorf("the developer saw %v", found)
	}
	if !strings.Contains(seen.String(), "[EMAIL]") || !strings.Contains(seen.String(), "[CARD ****4242]") || !strings.Contains(seen.String(), "[JWT]") {
		t.Errorf("masks are missing: the developer view should keep the shape of what it hides")
	}
	if found := leaks(h.log.String()); len(found) > 0 {
		t.Errorf("the server log holds %v", found)
	}
}

// checkCommitted recomputes an entry's leaf from its header bytes and digest
// and checks its inclusion in the checkpoint: a redacted entry verifies.
func checkCommitted(t *testing.T, h *secure, e *agenttrailv1.Entry, cp *agenttrailv1.Checkpoint) {
	t.Helper()
	c := e.GetCommitment()
	ld := binary.BigEndian.AppendUint32(nil, uint32(len(c.GetHeader())))
	ld = append(append(ld, c.GetHeader()...), c.GetContentDigest()...)
	leaf := tlog.RecordHash(ld)
	if string(leaf[:]) != string(c.GetLeafHash()) {
		t.Errorf("entry %d: leaf hash does not match its header and digest", e.GetStamp().GetLogIndex())
	}
	if e.GetStamp().GetLogIndex() >= cp.GetTreeSize() {
		return
	}
	p, err := h.logs.GetInclusionProof(h.as("developer"), &agenttrailv1.GetInclusionProofRequest{LogIndex: e.GetStamp().GetLogIndex(), TreeSize: proto.Uint64(cp.GetTreeSize())})
	if err != nil {
		t.Fatal(err)
	}
	var proof tlog.RecordProof
	for _, b := range p.GetHashes() {
		proof = append(proof, tlog.Hash(b))
	}
	if err := tlog.CheckRecord(proof, int64(cp.GetTreeSize()), tlog.Hash(cp.GetRootHash()), int64(e.GetStamp().GetLogIndex()), leaf); err != nil {
		t.Errorf("entry %d does not verify against the checkpoint: %v", e.GetStamp().GetLogIndex(), err)
	}
}

func TestComplianceSeesEverythingAndVerifiesContent(t *testing.T) {
	h := startSecure(t)
	evs := seeded()
	appendAs(t, h, "agent", evs)
	entries, err := queryAs(t, h, "compliance", &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{SessionId: evs[0].GetSessionId()}})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(evs) {
		t.Fatalf("compliance saw %d entries, want %d", len(entries), len(evs))
	}
	for i, e := range entries {
		if !proto.Equal(e.GetEvent(), evs[i]) {
			t.Errorf("entry %d differs from what the agent appended", i)
		}
		c := e.GetCommitment()
		digest := sha256.Sum256(append(append([]byte{}, c.GetSalt()...), c.GetContent()...))
		if string(digest[:]) != string(c.GetContentDigest()) || e.GetView().GetContent() != agenttrailv1.ContentState_CONTENT_STATE_PRESENT {
			t.Errorf("entry %d: the content does not verify against its digest", i)
		}
	}
	var all strings.Builder
	for _, e := range entries {
		all.WriteString(prototext.Format(e))
	}
	if found := leaks(all.String()); len(found) != len(secrets) {
		t.Errorf("compliance saw %v, want every seeded value", found)
	}
}

func TestAdminSeesMetadataAndManagesKeys(t *testing.T) {
	h := startSecure(t)
	appendAs(t, h, "agent", seeded())
	entries, err := queryAs(t, h, "admin", &agenttrailv1.QueryRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.GetView().GetKind() != agenttrailv1.ViewKind_VIEW_KIND_METADATA || e.GetCommitment().GetContent() != nil {
			t.Fatalf("admin view %v", e.GetView())
		}
		if ss := e.GetEvent().GetSessionStart(); ss != nil && ss.GetUserMessage() != "" {
			t.Errorf("admin sees content: %q", ss.GetUserMessage())
		}
	}
	admin := agenttrailv1.NewAdminServiceClient(h.conn)
	created, err := admin.CreateKey(h.as("admin"), &agenttrailv1.CreateKeyRequest{Principal: "dev-new", Role: agenttrailv1.PrincipalRole_PRINCIPAL_ROLE_DEVELOPER})
	if err != nil {
		t.Fatal(err)
	}
	h.keys["new"] = created.GetSecret()
	if _, err := h.query.GetEvent(h.as("new"), &agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_LogIndex{LogIndex: 0}}); err != nil {
		t.Errorf("a key created online does not work: %v", err)
	}
	// Revocation takes effect at once, for an open tail too.
	tail, err := h.query.Query(h.as("new"), &agenttrailv1.QueryRequest{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tail.Recv(); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RevokeKey(h.as("admin"), &agenttrailv1.RevokeKeyRequest{KeyId: created.GetKey().GetKeyId()}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.query.GetEvent(h.as("new"), &agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_LogIndex{LogIndex: 0}}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("revoked key: %v, want Unauthenticated", err)
	}
	for {
		_, err := tail.Recv()
		if err != nil {
			if status.Code(err) != codes.Unauthenticated {
				t.Errorf("open tail after its key was revoked: %v, want Unauthenticated", err)
			}
			break
		}
	}
	list, err := admin.ListKeys(h.as("admin"), &agenttrailv1.ListKeysRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range list.GetKeys() {
		if strings.Contains(prototext.Format(k), "at_") {
			t.Errorf("ListKeys returns a secret: %v", k)
		}
	}
	// Every key change is on the record.
	changes, err := queryAs(t, h, "compliance", &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{Kinds: []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_KEY_CHANGE}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 8+1+1+1 { // 8 keys and a revocation at setup, one created and one revoked here
		t.Errorf("%d key change events, want 11", len(changes))
	}
}

// Every read by a human role is recorded; compliance sees all records, a
// developer only their own.
func TestReadsAreRecorded(t *testing.T) {
	h := startSecure(t)
	appendAs(t, h, "agent", seeded())
	queryAs(t, h, "developer", &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{SessionId: seeded()[0].GetSessionId()}})
	queryAs(t, h, "developer2", &agenttrailv1.QueryRequest{Limit: 2})
	h.query.GetEvent(h.as("developer"), &agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_LogIndex{LogIndex: 1}})
	h.logs.GetInclusionProof(h.as("compliance"), &agenttrailv1.GetInclusionProofRequest{LogIndex: 1})
	accessKind := &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{Kinds: []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_ACCESS}}}
	var records []*agenttrailv1.Entry
	deadline := time.Now().Add(10 * time.Second)
	for len(records) < 4 && time.Now().Before(deadline) {
		var err error
		if records, err = queryAs(t, h, "compliance", accessKind); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	byPrincipal := map[string][]*agenttrailv1.Access{}
	for _, e := range records {
		a := e.GetEvent().GetAccess()
		byPrincipal[a.GetPrincipal()] = append(byPrincipal[a.GetPrincipal()], a)
	}
	alice := byPrincipal["dev-alice"]
	if len(alice) < 2 {
		t.Fatalf("dev-alice's reads: %v, want the Query and the GetEvent", alice)
	}
	q := alice[0]
	if q.GetRpc() != agenttrailv1.QueryService_Query_FullMethodName || q.GetRole() != "developer" || q.GetView() != agenttrailv1.ViewKind_VIEW_KIND_REDACTED ||
		q.GetFilter().GetSessionId() != seeded()[0].GetSessionId() || q.GetEventsReturned() != uint64(len(seeded())) {
		t.Errorf("record of dev-alice's query: %v", q)
	}
	if len(byPrincipal["dev-bob"]) == 0 || len(byPrincipal["audit-carol"]) == 0 {
		t.Errorf("missing records: %v", byPrincipal)
	}
	// dev-alice sees only her own access records.
	mine, err := queryAs(t, h, "developer", accessKind)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range mine {
		if p := e.GetEvent().GetAccess().GetPrincipal(); p != "dev-alice" {
			t.Errorf("dev-alice sees %s's access record", p)
		}
	}
	if len(mine) < 2 {
		t.Errorf("dev-alice sees %d of her own access records, want at least 2", len(mine))
	}
	// Nor by id.
	for _, e := range records {
		if e.GetEvent().GetAccess().GetPrincipal() == "dev-bob" {
			_, err := h.query.GetEvent(h.as("developer"), &agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_LogIndex{LogIndex: e.GetStamp().GetLogIndex()}})
			if status.Code(err) != codes.NotFound {
				t.Errorf("dev-alice GetEvent of dev-bob's access record: %v, want NotFound", err)
			}
		}
	}
}

// A developer's Query returns the access records of other principals as
// withheld leaves, in their place in log order: index and leaf hash, the
// same leaf compliance sees, and nothing of the record itself.
func TestDeveloperGetsWithheldLeaves(t *testing.T) {
	h := startSecure(t)
	appendAs(t, h, "agent", seeded())
	queryAs(t, h, "developer2", &agenttrailv1.QueryRequest{Limit: 1})
	queryAs(t, h, "developer", &agenttrailv1.QueryRequest{Limit: 1})
	// Wait until both reads are on the record.
	var all []*agenttrailv1.Entry
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		if all, err = queryAs(t, h, "compliance", &agenttrailv1.QueryRequest{}); err != nil {
			t.Fatal(err)
		}
		bob := 0
		for _, e := range all {
			if e.GetEvent().GetAccess().GetPrincipal() == "dev-bob" {
				bob++
			}
		}
		if bob > 0 {
			break
		}
	}
	leaves := map[uint64][]byte{}
	hidden := map[uint64]bool{}
	for _, e := range all {
		leaves[e.GetStamp().GetLogIndex()] = e.GetCommitment().GetLeafHash()
		if a := e.GetEvent().GetAccess(); a != nil && a.GetPrincipal() != "dev-alice" {
			hidden[e.GetStamp().GetLogIndex()] = true
		}
	}
	to := uint64(len(all))
	stream, err := h.query.Query(h.as("developer"), &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{ToIndex: &to}})
	if err != nil {
		t.Fatal(err)
	}
	next := uint64(0)
	withheld := 0
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var index uint64
		var leaf []byte
		switch item := r.GetItem().(type) {
		case *agenttrailv1.QueryResponse_Entry:
			index, leaf = item.Entry.GetStamp().GetLogIndex(), item.Entry.GetCommitment().GetLeafHash()
			if hidden[index] {
				t.Errorf("entry %d, another principal's access record, is shown to the developer", index)
			}
		case *agenttrailv1.QueryResponse_Withheld:
			index, leaf = item.Withheld.GetLogIndex(), item.Withheld.GetLeafHash()
			if !hidden[index] {
				t.Errorf("entry %d is withheld from the developer, who may see it", index)
			}
			if len(proto.Clone(item.Withheld).ProtoReflect().GetUnknown()) != 0 {
				t.Errorf("withheld entry %d carries unknown fields", index)
			}
			withheld++
		default:
			t.Fatalf("unexpected item %T", item)
		}
		if index != next {
			t.Fatalf("item at index %d, want %d: every index comes, in order", index, next)
		}
		if string(leaf) != string(leaves[index]) {
			t.Errorf("index %d: leaf hash %x, compliance sees %x", index, leaf, leaves[index])
		}
		next++
	}
	if next != to {
		t.Errorf("the developer's query ended at index %d, want %d", next, to)
	}
	if withheld == 0 || withheld != len(hidden) {
		t.Errorf("%d withheld leaves, want %d (other principals' access records)", withheld, len(hidden))
	}
}
