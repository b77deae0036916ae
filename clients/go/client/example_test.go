package client_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/servertest"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event"
)

// An agent records a session; a reader then reads it back and checks every
// entry against the log's signed checkpoint.
func Example() {
	addr, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	// A loopback address is spoken to in plaintext; add
	// client.WithAPIKey(key) when the server asks for a key.
	c, err := client.New(addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// The agent's side: each call returns at once; delivery is in the
	// background, and Close waits for the server's receipts.
	s, err := c.StartSession(ctx, client.SessionOptions{AgentID: "support-agent", UserID: "u_7f3a9c21",
		Start: &agenttrailv1.SessionStart{UserMessage: "Where is my order #4411?", SourceChannel: "web"}})
	if err != nil {
		log.Fatal(err)
	}
	call, _ := s.LLMCall(ctx, &agenttrailv1.LlmCall{ProviderName: "openai", RequestModel: "gpt-4.1-mini", InputTokens: 812, OutputTokens: 41})
	_, _ = s.ToolCall(ctx, &agenttrailv1.ToolCall{ToolName: "lookup_order", Arguments: `{"order_id":"4411"}`,
		Outcome: agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS}, client.WithParent(call))
	_, _ = s.End(ctx, agenttrailv1.EndReason_END_REASON_COMPLETED)
	if err := s.Close(ctx); err != nil {
		log.Fatal(err)
	}

	// The reader's side. The verifier key should come out of band (the
	// server prints it when it starts); asking the server is trust on
	// first use.
	vk, err := c.VerifierKey(ctx)
	if err != nil {
		log.Fatal(err)
	}
	v, err := client.NewVerifier(vk.GetVerifierKey())
	if err != nil {
		log.Fatal(err)
	}
	req := &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{SessionId: s.ID()}}
	for entry, err := range c.Query(ctx, req) {
		if err != nil {
			log.Fatal(err)
		}
		head, err := c.ProveEntry(ctx, v, entry)
		if err != nil {
			log.Fatal(err)
		}
		kind := strings.ToLower(strings.TrimPrefix(event.KindOf(entry.GetEvent()).String(), "EVENT_KIND_"))
		fmt.Printf("step %d, %s: verified in the log of %d events\n", entry.GetEvent().GetStep(), kind, head.Size)
	}
	// Output:
	// step 1, session_start: verified in the log of 4 events
	// step 2, llm_call: verified in the log of 4 events
	// step 3, tool_call: verified in the log of 4 events
	// step 4, session_end: verified in the log of 4 events
}

// exampleServer runs a server over a new store in a temporary directory,
// signing a checkpoint with every batch.
func exampleServer() (addr string, stop func()) {
	ts, err := servertest.Start(context.Background(), servertest.Config{
		StoreOptions: []store.Option{store.WithCheckpointInterval(0)},
	})
	if err != nil {
		log.Fatal(err)
	}
	return ts.Addr, func() { ts.Close() }
}
