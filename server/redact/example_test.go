package redact_test

import (
	"fmt"
	"log"
	"strings"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/redact"
)

// Example builds the developer view of a tool call: the header (here, the
// ids and the tool name) is unchanged, the arguments are walked as JSON, and
// the result, overridden to secret by the policy, is masked whole. The
// policy's version goes into the view's View.policy_version.
func Example() {
	policy, err := redact.LoadPolicy(strings.NewReader(`{
		"version": "2026-11-01",
		"field_classes": {"agenttrail.v1.ToolCall.result": "secret"}
	}`))
	if err != nil {
		log.Fatal(err)
	}
	r, err := redact.New(policy)
	if err != nil {
		log.Fatal(err)
	}

	ev := &agenttrailv1.Event{
		EventId: "01963a4e-7c1b-7000-8000-000000000004",
		Payload: &agenttrailv1.Event_ToolCall{ToolCall: &agenttrailv1.ToolCall{
			ToolName:  "issue_refund",
			Arguments: `{"order_id": "4411", "card": 4242424242424242, "notify": "jane.doe@example.com"}`,
			Result:    `{"refund_id": "re_1", "status": "queued"}`,
		}},
	}
	view := r.Event(ev).GetToolCall()
	fmt.Println("policy:", r.Version())
	fmt.Println("tool:", view.GetToolName())
	fmt.Println("arguments:", view.GetArguments())
	fmt.Println("result:", view.GetResult())
	fmt.Println(r.Text("Call me on +44 20 7946 0958, Authorization: Bearer 9f8e7d6c5b4a3210"))
	// Output:
	// policy: 2026-11-01
	// tool: issue_refund
	// arguments: {"order_id": "4411", "card": "[CARD ****4242]", "notify": "[EMAIL]"}
	// result: [SECRET]
	// Call me on [PHONE], Authorization: Bearer [TOKEN]
}
