package server_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/types/known/durationpb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

func (h *secure) lifecycle() agenttrailv1.LifecycleServiceClient {
	return agenttrailv1.NewLifecycleServiceClient(h.conn)
}

func eraseUser(user string) *agenttrailv1.EraseRequest {
	return &agenttrailv1.EraseRequest{Target: &agenttrailv1.EraseRequest_UserId{UserId: user}, Reason: "DSR-2026-7"}
}

func TestEraseIsForComplianceAndAdminOnly(t *testing.T) {
	h := startSecure(t)
	evs := seeded()
	appendAs(t, h, "agent", evs)
	user := evs[0].GetUserId()
	for _, who := range []string{"agent", "developer"} {
		_, err := h.lifecycle().Erase(h.as(who), eraseUser(user))
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("Erase by the %s key = %v, want PermissionDenied", who, err)
		}
	}
	if _, err := h.lifecycle().PlaceHold(h.as("compliance"), &agenttrailv1.PlaceHoldRequest{Scope: &agenttrailv1.PlaceHoldRequest_UserId{UserId: "u"}, Reason: "x"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("PlaceHold by compliance = %v, want PermissionDenied (holds are the admin's)", err)
	}
	entries, err := queryAs(t, h, "compliance", &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{UserId: user}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.GetView().GetContent() != agenttrailv1.ContentState_CONTENT_STATE_PRESENT {
			t.Fatalf("a refused erasure erased entry %d", e.GetStamp().GetLogIndex())
		}
	}
	resp, err := h.lifecycle().Erase(h.as("compliance"), eraseUser(user))
	if err != nil || resp.GetCount() == 0 || resp.ErasureIndex == nil {
		t.Fatalf("Erase by compliance = %v, %v", resp, err)
	}
	again, err := h.lifecycle().Erase(h.as("admin"), eraseUser(user))
	if err != nil || !again.GetAlreadyErased() || again.GetErasureIndex() != resp.GetErasureIndex() || again.GetCount() != resp.GetCount() {
		t.Errorf("Erase again by admin = %v, %v; want already erased by %d", again, err, resp.GetErasureIndex())
	}
}

// Every view of an erased entry shows its header and digest, marks it
// erased with the index of the erasure, shows no content, and verifies.
func TestErasedEntriesInEveryView(t *testing.T) {
	h := startSecure(t)
	evs := seeded()
	appendAs(t, h, "agent", evs)
	user := evs[0].GetUserId()
	resp, err := h.lifecycle().Erase(h.as("compliance"), eraseUser(user))
	if err != nil {
		t.Fatal(err)
	}
	by := resp.GetErasureIndex()
	time.Sleep(50 * time.Millisecond) // the access records of the reads below commit
	cp, err := h.logs.GetCheckpoint(h.as("compliance"), &agenttrailv1.GetCheckpointRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"compliance", "developer", "admin"} {
		entries, err := queryAs(t, h, who, &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{UserId: user}})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 {
			t.Fatalf("%s: no entries", who)
		}
		for _, e := range entries {
			c := e.GetCommitment()
			if e.GetView().GetContent() != agenttrailv1.ContentState_CONTENT_STATE_ERASED || e.GetView().GetErasedBy() != by ||
				len(c.GetContent()) != 0 || len(c.GetSalt()) != 0 || len(c.GetContentDigest()) != 32 || len(c.GetHeader()) == 0 {
				t.Errorf("%s view of erased entry %d: %v", who, e.GetStamp().GetLogIndex(), e.GetView())
			}
			if found := leaks(prototext.Format(e)); len(found) > 0 {
				t.Errorf("%s view of erased entry %d holds %v", who, e.GetStamp().GetLogIndex(), found)
			}
			checkCommitted(t, h, e, cp.GetCheckpoint())
		}
	}
	// The erasure itself: compliance sees it whole; it names the indexes.
	got, err := h.query.GetEvent(h.as("compliance"), &agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_LogIndex{LogIndex: by}})
	if err != nil {
		t.Fatal(err)
	}
	er := got.GetEntry().GetEvent().GetErasure()
	if er.GetPrincipal() != "audit-carol" || er.GetUserId() != user || er.GetReason() != "DSR-2026-7" || len(er.GetLogIndexes())+len(er.GetRanges()) == 0 {
		t.Errorf("the Erasure event: %v", got.GetEntry().GetEvent())
	}
}

func TestEraseUnderHoldIsFailedPrecondition(t *testing.T) {
	h := startSecure(t)
	evs := seeded()
	appendAs(t, h, "agent", evs)
	hold, err := h.lifecycle().PlaceHold(h.as("admin"), &agenttrailv1.PlaceHoldRequest{
		Scope: &agenttrailv1.PlaceHoldRequest_SessionId{SessionId: evs[0].GetSessionId()}, Reason: "litigation " + secrets["email"]})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.lifecycle().Erase(h.as("compliance"), eraseUser(evs[0].GetUserId()))
	msg := status.Convert(err).Message()
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(msg, hold.GetHold().GetHoldId()) || len(leaks(msg)) > 0 {
		t.Errorf("Erase under a hold = %v, want FailedPrecondition naming %s and no content", err, hold.GetHold().GetHoldId())
	}
	list, err := h.lifecycle().ListHolds(h.as("compliance"), &agenttrailv1.ListHoldsRequest{})
	if err != nil || len(list.GetHolds()) != 1 || list.GetHolds()[0].GetPlacedBy() != "ops-dave" {
		t.Fatalf("ListHolds = %v, %v", list, err)
	}
	if _, err := h.lifecycle().ReleaseHold(h.as("admin"), &agenttrailv1.ReleaseHoldRequest{HoldId: hold.GetHold().GetHoldId(), Reason: "settled"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.lifecycle().Erase(h.as("compliance"), eraseUser(evs[0].GetUserId())); err != nil {
		t.Errorf("Erase after the hold's release: %v", err)
	}
}

func TestLifecycleRequestsAreChecked(t *testing.T) {
	h := startSecure(t)
	for _, tt := range []struct {
		name string
		call func() error
		says string
	}{
		{"erase without a reason", func() error {
			_, err := h.lifecycle().Erase(h.as("compliance"), &agenttrailv1.EraseRequest{Target: &agenttrailv1.EraseRequest_UserId{UserId: "u1"}})
			return err
		}, "reason"},
		{"erase without a target", func() error {
			_, err := h.lifecycle().Erase(h.as("compliance"), &agenttrailv1.EraseRequest{Reason: "x"})
			return err
		}, "target"},
		{"erase a bad id", func() error {
			_, err := h.lifecycle().Erase(h.as("compliance"), &agenttrailv1.EraseRequest{Target: &agenttrailv1.EraseRequest_EventIds{EventIds: &agenttrailv1.EventIdList{EventIds: []string{"ok", "not ok"}}}, Reason: "x"})
			return err
		}, "event_ids[1]"},
		{"retention shorter than a day", func() error {
			_, err := h.lifecycle().SetRetention(h.as("admin"), &agenttrailv1.SetRetentionRequest{Policies: []*agenttrailv1.RetentionPolicy{{Name: "p", KeepFor: durationpb.New(time.Hour)}}})
			return err
		}, "policies[0].keep_for"},
		{"retention without keep_for", func() error {
			_, err := h.lifecycle().SetRetention(h.as("admin"), &agenttrailv1.SetRetentionRequest{Policies: []*agenttrailv1.RetentionPolicy{{Name: "p"}}})
			return err
		}, "policies[0].keep_for"},
		{"hold without a scope", func() error {
			_, err := h.lifecycle().PlaceHold(h.as("admin"), &agenttrailv1.PlaceHoldRequest{Reason: "x"})
			return err
		}, "scope"},
	} {
		err := tt.call()
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tt.says) {
			t.Errorf("%s: %v, want InvalidArgument naming %s", tt.name, err, tt.says)
		}
	}
	if _, err := h.lifecycle().ReleaseHold(h.as("admin"), &agenttrailv1.ReleaseHoldRequest{HoldId: "hold-9", Reason: "x"}); status.Code(err) != codes.NotFound {
		t.Errorf("releasing an unknown hold: %v, want NotFound", err)
	}
	v := uint64(0)
	set, err := h.lifecycle().SetRetention(h.as("admin"), &agenttrailv1.SetRetentionRequest{IfVersion: &v, Policies: []*agenttrailv1.RetentionPolicy{{Name: "p", KeepFor: durationpb.New(48 * time.Hour)}}})
	if err != nil || set.GetVersion() != 1 {
		t.Fatalf("SetRetention = %v, %v", set, err)
	}
	if _, err := h.lifecycle().SetRetention(h.as("admin"), &agenttrailv1.SetRetentionRequest{IfVersion: &v}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("SetRetention at a stale version: %v, want FailedPrecondition", err)
	}
	got, err := h.lifecycle().GetRetention(h.as("compliance"), &agenttrailv1.GetRetentionRequest{})
	if err != nil || got.GetVersion() != 1 || len(got.GetPolicies()) != 1 || got.GetPolicies()[0].GetKeepFor().AsDuration() != 48*time.Hour {
		t.Errorf("GetRetention = %v, %v", got, err)
	}
	if runs, err := h.lifecycle().ApplyRetention(h.as("admin"), &agenttrailv1.ApplyRetentionRequest{}); err != nil || len(runs.GetRuns()) != 0 {
		t.Errorf("ApplyRetention = %v, %v; want nothing to expire yet", runs, err)
	}
}
