package event_test

import (
	"regexp"
	"testing"

	"github.com/agenttrail/agenttrail/store/event"
)

var uuidv7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewIDIsAUUIDv7(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 1000; i++ {
		id := event.NewID()
		if !uuidv7.MatchString(id) {
			t.Fatalf("NewID() = %q, not a UUIDv7", id)
		}
		if !event.IsID(id) {
			t.Fatalf("NewID() = %q fails IsID", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
		if id <= prev {
			t.Fatalf("NewID() = %q after %q: ids of one process must increase", id, prev)
		}
		prev = id
	}
}
