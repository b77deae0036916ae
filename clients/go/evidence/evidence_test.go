package evidence_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/agenttrail/agenttrail/clients/go/client"
	"github.com/agenttrail/agenttrail/clients/go/evidence"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/servertest"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// bundle appends events to a real server and writes a bundle of all of
// them; it returns the bundle and the log's verifier key.
func bundle(t *testing.T) ([]byte, string) {
	t.Helper()
	ts := servertest.New(t, servertest.Config{StoreOptions: []store.Option{store.WithCheckpointInterval(0)}})
	c, err := client.New(ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var evs []*agenttrailv1.Event
	for i, s := range eventtest.Samples()[:8] {
		ev := proto.Clone(s.Event).(*agenttrailv1.Event)
		ev.EventId = fmt.Sprintf("01963a4e-7c1b-7000-8000-00000000e%03d", i)
		ev.OccurredAt = timestamppb.Now()
		evs = append(evs, ev)
	}
	if _, err := c.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	vk, err := c.VerifierKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := c.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := evidence.NewWriter(&buf, vk.GetVerifierKey(), cp)
	if err != nil {
		t.Fatal(err)
	}
	for e, err := range c.Query(ctx, &agenttrailv1.QueryRequest{}) {
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.InclusionProof(ctx, e.GetStamp().GetLogIndex(), cp.GetTreeSize())
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Add(e, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), vk.GetVerifierKey()
}

func TestBundleRoundTrip(t *testing.T) {
	b, key := bundle(t)
	rep, err := evidence.Verify(bytes.NewReader(b), key)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Events != 8 || rep.First != 0 || rep.Last != 7 || rep.ContentChecked != 8 || rep.SelfKeyed || rep.Head.Size != 8 {
		t.Errorf("Verify = %+v, want 8 events 0..7 with content, checked with the given key", rep)
	}
	rep, err = evidence.Verify(bytes.NewReader(b), "")
	if err != nil || !rep.SelfKeyed {
		t.Errorf("Verify with the bundle's own key = %+v, %v; want SelfKeyed", rep, err)
	}
}

// Any change to a bundle's entries is found, and named by line and index.
func TestBundleTampering(t *testing.T) {
	b, key := bundle(t)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	tests := []struct {
		name     string
		edit     func([]string) []string
		wantLine int
	}{
		{"a changed tool name", func(ls []string) []string {
			ls[4] = strings.Replace(ls[4], `"tool_name":"`, `"tool_name":"x`, 1)
			return ls
		}, 5},
		{"lines out of order", func(ls []string) []string {
			ls[2], ls[3] = ls[3], ls[2]
			return ls
		}, 4},
		{"a foreign checkpoint", func(ls []string) []string {
			ls[0] = strings.Replace(ls[0], `"tree_size":"8"`, `"tree_size":"9"`, 1)
			return ls
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edited := strings.Join(tt.edit(append([]string(nil), lines...)), "\n")
			if edited == string(b) {
				t.Fatal("the edit changed nothing")
			}
			_, err := evidence.Verify(strings.NewReader(edited), key)
			var e *evidence.Error
			if !errors.As(err, &e) || e.Line != tt.wantLine {
				t.Errorf("Verify = %v, want an error at line %d", err, tt.wantLine)
			}
		})
	}
	if _, err := evidence.Verify(bytes.NewReader(b), "not a key"); !errors.Is(err, evidence.ErrBadKey) {
		t.Errorf("Verify with a malformed key = %v, want ErrBadKey", err)
	}
}
