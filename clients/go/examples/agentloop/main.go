// Command agentloop is an agent whose every step is logged to agenttrail.
//
// A support agent handles "Please refund order 1234". Its model is a scripted
// fake (no API key, no network), so the run is the same every time: the
// model asks for orders.lookup, which fails (the order service times out);
// it then reasons that the user gave what a refund needs and asks for
// payments.refund, which needs a human's approval; a scripted approver
// approves; the refund runs; the model answers. The trail holds one event of
// every kind an agent logs.
//
// Run it against a local server with an agent key, then read the trail back
// and check it with the agenttrail command:
//
//	AGENTTRAIL_KEY=$AGENT_KEY go run ./clients/go/examples/agentloop --addr 127.0.0.1:7700
//	AGENTTRAIL_KEY=$AUDIT_KEY agenttrail query --session <printed session id> --output table
//	AGENTTRAIL_KEY=$AUDIT_KEY agenttrail verify --verifier-key "$VK"
//
// It prints the session id.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7700", "agenttrail server address")
	flag.Parse()
	var opts []client.Option
	if key := os.Getenv("AGENTTRAIL_KEY"); key != "" {
		opts = append(opts, client.WithAPIKey(key))
	}
	c, err := client.New(*addr, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentloop:", err)
		os.Exit(2)
	}
	defer c.Close()
	id, err := runAgent(context.Background(), c, "Please refund order 1234")
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentloop:", err)
		os.Exit(1)
	}
	fmt.Println(id)
}

// reply is what the scripted model answers.
type reply struct {
	text, thought       string
	toolCall, callID    string
	args                map[string]any
	inTokens, outTokens int64
}

// script is the fake model's replies, one per call.
var script = []reply{
	{toolCall: "orders.lookup", callID: "call-1", args: map[string]any{"order_id": 1234}, inTokens: 180, outTokens: 22},
	{thought: "The lookup timed out, but the user gave the order number and the receipt shows 42.50 USD. A refund that size needs approval.",
		toolCall: "payments.refund", callID: "call-2", args: map[string]any{"order_id": 1234, "amount": 42.5}, inTokens: 240, outTokens: 31},
	{text: "Your refund of 42.50 USD for order 1234 is on its way; it should reach your card in 3 to 5 days.", inTokens: 300, outTokens: 28},
}

// tools run a tool call; the order service is down today.
var tools = map[string]func(args map[string]any) (map[string]any, error){
	"orders.lookup": func(map[string]any) (map[string]any, error) {
		return nil, errors.New("the order service did not answer in 5s")
	},
	"payments.refund": func(args map[string]any) (map[string]any, error) {
		return map[string]any{"order_id": args["order_id"], "refunded": args["amount"], "currency": "USD", "refund_id": "rf_0001"}, nil
	},
}

// needsApproval lists the tools a human must approve first.
var needsApproval = map[string]bool{"payments.refund": true}

// runAgent handles one request, logging every step, and returns the session
// id once the server has every event.
func runAgent(ctx context.Context, c *client.Client, userMessage string) (string, error) {
	s, err := c.StartSession(ctx, client.SessionOptions{
		AgentID: "support-agent", AgentVersion: "1.0.0", ModelID: "acme-support-model-1", UserID: "customer-5521",
		Start: &agenttrailv1.SessionStart{UserMessage: userMessage, SourceChannel: "chat", ToolsAvailable: []*agenttrailv1.ToolDefinition{
			{Name: "orders.lookup", Type: "function", Description: "Look up an order by its number."},
			{Name: "payments.refund", Type: "function", Description: "Refund an order to the card that paid for it."},
		}},
	})
	if err != nil {
		return "", err
	}
	for _, r := range script {
		started := time.Now()
		call := &agenttrailv1.LlmCall{ProviderName: "scripted", OperationName: "chat", RequestModel: "acme-support-model-1",
			InputMessages: []*agenttrailv1.ChatMessage{{Role: agenttrailv1.Role_ROLE_USER, Content: userMessage}},
			OutputText:    r.text, InputTokens: r.inTokens, OutputTokens: r.outTokens}
		if r.toolCall != "" {
			args, _ := json.Marshal(r.args)
			call.ToolCalls = []*agenttrailv1.ToolCallRequest{{ToolCallId: r.callID, ToolName: r.toolCall, ArgumentsJson: string(args)}}
			call.FinishReasons = []string{"tool_calls"}
		} else {
			call.FinishReasons = []string{"stop"}
		}
		call.Latency = durationSince(started)
		llm, err := s.LLMCall(ctx, call)
		if err != nil {
			return "", err
		}
		if r.thought != "" {
			if _, err := s.Reasoning(ctx, &agenttrailv1.Reasoning{Thought: r.thought, PlanSteps: []string{"ask for approval", "refund"}}, client.WithParent(llm)); err != nil {
				return "", err
			}
		}
		if r.toolCall == "" {
			if _, err := s.Output(ctx, &agenttrailv1.Output{Text: r.text, Final: true}, client.WithParent(llm)); err != nil {
				return "", err
			}
			break
		}
		args, _ := json.Marshal(r.args)
		tc := &agenttrailv1.ToolCall{ToolName: r.toolCall, ToolCallId: r.callID, ToolType: "function", Arguments: string(args),
			ApprovalRequired: needsApproval[r.toolCall]}
		toolID := client.NewEventID()
		if needsApproval[r.toolCall] {
			// The scripted human approves refunds up to 100 USD.
			if _, err := s.HumanApproval(ctx, &agenttrailv1.HumanApproval{Kind: agenttrailv1.HumanActionKind_HUMAN_ACTION_KIND_APPROVAL,
				Request: "Refund 42.50 USD for order 1234?", Decision: agenttrailv1.ApprovalDecision_APPROVAL_DECISION_APPROVED,
				Approver: "Sam Okafor", Reason: "within the refund policy", GatedEventId: toolID}, client.WithParent(llm)); err != nil {
				return "", err
			}
		}
		ran := time.Now()
		result, toolErr := tools[r.toolCall](r.args)
		tc.Duration = durationSince(ran)
		if toolErr != nil {
			tc.Outcome, tc.ErrorType, tc.ErrorMessage = agenttrailv1.ToolOutcome_TOOL_OUTCOME_TIMEOUT, "TimeoutError", toolErr.Error()
		} else {
			out, _ := json.Marshal(result)
			tc.Outcome, tc.Result = agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS, string(out)
		}
		if _, err := s.ToolCall(ctx, tc, client.WithParent(llm), client.WithEventID(toolID)); err != nil {
			return "", err
		}
		if toolErr != nil {
			if _, err := s.Error(ctx, &agenttrailv1.AgentError{ErrorType: "TimeoutError", Message: toolErr.Error(),
				RecoveryAction: "told the model the tool failed", Retryable: true}, client.WithParent(toolID)); err != nil {
				return "", err
			}
		}
	}
	if _, err := s.End(ctx, agenttrailv1.EndReason_END_REASON_COMPLETED); err != nil {
		return "", err
	}
	if err := s.Close(ctx); err != nil {
		return "", err
	}
	return s.ID(), nil
}

func durationSince(t time.Time) *durationpb.Duration { return durationpb.New(time.Since(t)) }
