// Command quickstart logs a short agent session to agenttrail: the Go
// quickstart of the README, which shows this file as it is.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

func main() {
	ctx := context.Background()
	addr := os.Getenv("AGENTTRAIL_ADDR")
	if addr == "" {
		addr = "127.0.0.1:7700"
	}
	c, err := client.New(addr, client.WithAPIKey(os.Getenv("AGENTTRAIL_KEY"))) // an agent key
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	s, err := c.StartSession(ctx, client.SessionOptions{AgentID: "support-agent",
		Start: &agenttrailv1.SessionStart{UserMessage: "Where is my order?"}})
	if err != nil {
		log.Fatal(err)
	}
	// Each call returns at once; delivery is in the background.
	llm, _ := s.LLMCall(ctx, &agenttrailv1.LlmCall{ProviderName: "openai", RequestModel: "gpt-4o",
		OutputText: "Let me look it up.", InputTokens: 12, OutputTokens: 6})
	s.ToolCall(ctx, &agenttrailv1.ToolCall{ToolName: "orders.lookup", Arguments: `{"customer":42}`,
		Result: `{"status":"shipped"}`, Outcome: agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS}, client.WithParent(llm))
	s.Output(ctx, &agenttrailv1.Output{Text: "It shipped yesterday.", Final: true})
	s.End(ctx, agenttrailv1.EndReason_END_REASON_COMPLETED)
	if err := s.Close(ctx); err != nil { // waits for the server's receipts
		log.Fatal(err)
	}
	fmt.Println("logged session", s.ID())
}
