package badger

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
	"github.com/agenttrail/agenttrail/store/storetest"
)

// The largest batch an agent can send must commit in one Badger
// transaction: every identifier at its longest and distinct (event ids
// are UUIDs), every event
// in its own hour (so each adds its own statistics records), headers and
// contents of sizes around the value-log threshold. A batch Badger refused
// as too big would stop appends for everyone.
func TestLargestBatchCommits(t *testing.T) {
	if testing.Short() {
		t.Skip("appends several batches of 1024 events")
	}
	id := func(prefix string, n int) string {
		s := fmt.Sprintf("%s%d-", prefix, n)
		return s + strings.Repeat("x", 128-len(s))
	}
	for _, pad := range []int{0, 150, 300, 400, 450, 900, 1900, 2000, 3900, 4000, 4050} {
		t.Run(fmt.Sprintf("pad=%d", pad), func(t *testing.T) {
			l := storetest.NewLog(t, harness())
			st := l.Open(t)
			var events []*agenttrailv1.Event
			for i := range 1024 {
				events = append(events, &agenttrailv1.Event{
					EventId:    eventtest.ID(fmt.Sprint("largest-", i)),
					SessionId:  id("s", i),
					AgentId:    id("a", i),
					ModelId:    id("m", i),
					UserId:     id("u", i),
					Step:       1,
					OccurredAt: timestamppb.New(storetest.Now.Add(-time.Duration(i) * time.Hour)),
					Labels:     padLabels(pad),
					Payload: &agenttrailv1.Event_ToolCall{ToolCall: &agenttrailv1.ToolCall{
						ToolName:   id("t", i),
						ToolCallId: id("c", i),
						Arguments:  strings.Repeat("a", pad),
						Outcome:    agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS,
						Duration:   durationpb.New(time.Duration(i) * time.Millisecond),
					}},
				})
			}
			res, err := st.Append(context.Background(), "agent", events)
			if err != nil {
				t.Fatalf("Append of the largest batch: %v", err)
			}
			for i, r := range res {
				if r.Err != nil {
					t.Fatalf("event %d: %v", i, r.Err)
				}
			}
			// The store still takes appends.
			// (A copy: the store may still hold the events it was given.)
			more := []*agenttrailv1.Event{proto.CloneOf(events[0])}
			more[0].EventId = eventtest.ID("after")
			if _, err := st.Append(context.Background(), "agent", more); err != nil {
				t.Fatalf("Append after the largest batch: %v", err)
			}
		})
	}
}

// padLabels returns labels of pad bytes of values in all (a label value
// holds at most 1 KiB).
func padLabels(pad int) map[string]string {
	labels := map[string]string{}
	for i := 0; pad > 0; i++ {
		n := min(pad, 1000)
		labels[fmt.Sprint("pad", i)] = strings.Repeat("p", n)
		pad -= n
	}
	return labels
}
