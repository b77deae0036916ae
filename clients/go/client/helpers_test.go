package client_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/server/servertest"
	"github.com/agenttrail/agenttrail/store"
)

// testServer is a real server on a loopback port over a fresh store.
type testServer struct {
	addr string
	st   *store.Store
	srv  *server.Server
}

// start runs a server until the test ends. Checkpoints are signed with
// every batch, so that every appended event can be proved at once.
func start(t *testing.T, opts ...server.Option) *testServer {
	t.Helper()
	return startStore(t, nil, opts...)
}

// startStore is start with options for the store.
func startStore(t *testing.T, storeOpts []store.Option, opts ...server.Option) *testServer {
	t.Helper()
	return listenAndServe(t, "127.0.0.1:0", storeOpts, opts...)
}

// startOn is start on a given address.
func startOn(t *testing.T, addr string) *testServer {
	t.Helper()
	return listenAndServe(t, addr, nil)
}

func listenAndServe(t *testing.T, addr string, storeOpts []store.Option, opts ...server.Option) *testServer {
	t.Helper()
	ts := servertest.New(t, servertest.Config{
		Addr:          addr,
		StoreOptions:  append([]store.Option{store.WithCheckpointInterval(0)}, storeOpts...),
		ServerOptions: opts,
	})
	return &testServer{addr: ts.Addr, st: ts.Store, srv: ts.Server}
}

// dial returns a client of ts, closed when the test ends.
func dial(t *testing.T, addr string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// toolCall returns a valid tool call event of session s, agent a.
func toolCall(id, session, agent, tool string, step uint32) *agenttrailv1.Event {
	return &agenttrailv1.Event{
		EventId:    id,
		SessionId:  session,
		AgentId:    agent,
		Step:       step,
		OccurredAt: timestamppb.New(time.Now().Add(-time.Minute)),
		Payload: &agenttrailv1.Event_ToolCall{ToolCall: &agenttrailv1.ToolCall{
			ToolName:  tool,
			Arguments: fmt.Sprintf(`{"n":%d}`, step),
			Result:    `{"ok":true}`,
			Outcome:   agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS,
		}},
	}
}

// events returns n valid tool call events of one session.
func events(prefix string, n int) []*agenttrailv1.Event {
	var out []*agenttrailv1.Event
	for i := range n {
		out = append(out, toolCall(fmt.Sprintf("%s-%04d", prefix, i), prefix+"-session", "agent-"+prefix, "search", uint32(i+1)))
	}
	return out
}

// collect runs a query to its end.
func collect(t *testing.T, c *client.Client, req *agenttrailv1.QueryRequest, opts ...client.QueryOption) []*agenttrailv1.Entry {
	t.Helper()
	var out []*agenttrailv1.Entry
	for e, err := range c.Query(context.Background(), req, opts...) {
		if err != nil {
			t.Fatalf("Query after %d entries: %v", len(out), err)
		}
		out = append(out, e)
	}
	return out
}

func indexes(es []*agenttrailv1.Entry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.GetStamp().GetLogIndex())
	}
	return out
}
