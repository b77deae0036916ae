package event_test

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// CheckRequired reports a missing field exactly as Validate does, and
// passes every event Validate passes.
func TestCheckRequiredAgreesWithValidate(t *testing.T) {
	lim := event.Limits{}
	clear := map[string]func(*agenttrailv1.Event){
		"event_id":    func(ev *agenttrailv1.Event) { ev.EventId = "" },
		"session_id":  func(ev *agenttrailv1.Event) { ev.SessionId = "" },
		"agent_id":    func(ev *agenttrailv1.Event) { ev.AgentId = "" },
		"occurred_at": func(ev *agenttrailv1.Event) { ev.OccurredAt = nil },
		"payload":     func(ev *agenttrailv1.Event) { ev.Payload = nil },
	}
	for _, s := range eventtest.Samples() {
		if err := event.CheckRequired(s.Event); err != nil {
			t.Errorf("%s: CheckRequired = %v for a valid sample", s.Name, err)
		}
		if event.IsServerKind(event.KindOf(s.Event)) {
			continue
		}
		for field, f := range clear {
			ev := proto.Clone(s.Event).(*agenttrailv1.Event)
			f(ev)
			var got, want *event.FieldError
			if !errors.As(event.CheckRequired(ev), &got) || !errors.As(event.Validate(ev, lim), &want) {
				t.Fatalf("%s without %s: CheckRequired or Validate passed it", s.Name, field)
			}
			if *got != *want || got.Field != field {
				t.Errorf("%s without %s: CheckRequired = %v, Validate = %v", s.Name, field, got, want)
			}
		}
	}
}
