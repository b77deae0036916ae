package verify_test

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/agenttrail/agenttrail/clients/go/verify"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

func TestEntryEveryKindAndView(t *testing.T) {
	for i := range 13 {
		e := logEntry(t, i)
		views := map[string]*agenttrailv1.Entry{
			"full":     e,
			"metadata": withheld(e, agenttrailv1.ViewKind_VIEW_KIND_METADATA, agenttrailv1.ContentState_CONTENT_STATE_WITHHELD, nil),
			"erased":   withheld(e, agenttrailv1.ViewKind_VIEW_KIND_FULL, agenttrailv1.ContentState_CONTENT_STATE_ERASED, nil),
		}
		for view, v := range views {
			if err := verify.CheckEntry(v); err != nil {
				t.Errorf("entry %d, %s view: got %v, want nil", i, view, err)
			}
		}
	}
}

func TestEntryRejectsNil(t *testing.T) {
	for _, e := range []*agenttrailv1.Entry{nil, {}} {
		if err := verify.CheckEntry(e); !errors.Is(err, verify.ErrMalformed) {
			t.Errorf("Entry(%v): got %v, want ErrMalformed", e, err)
		}
	}
}

func TestEntryDoesNotModifyItsArgument(t *testing.T) {
	e := fromNewerServer(t, logEntry(t, 3))
	before := proto.Clone(e)
	if err := verify.CheckEntry(e); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(e, before) {
		t.Errorf("Entry modified the entry it checked")
	}
}

func TestEntryContentPresentWithoutEventContent(t *testing.T) {
	// A full view that shows the committed content bytes but leaves the
	// content fields out of the event it shows disagrees with its content.
	e := logEntry(t, 2)
	header, _ := event.Split(e.Event)
	e.Event = header
	if err := verify.CheckEntry(e); !errors.Is(err, verify.ErrEventMismatch) {
		t.Errorf("got %v, want ErrEventMismatch", err)
	}
}
