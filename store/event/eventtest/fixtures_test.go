package eventtest_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

var update = flag.Bool("update", false, "rewrite clients/testdata/events from the Go samples")

// fixtureDir holds the cross-language round-trip fixtures: the Go encoding of
// every sample, lifecycle samples included (.binpb), and its canonical JSON
// (.json). The Python and
// TypeScript suites decode both, check they agree, and re-encode.
var fixtureDir = filepath.Join("..", "..", "..", "clients", "testdata", "events")

func TestCrossLanguageFixturesAreCurrent(t *testing.T) {
	if *update {
		if err := os.MkdirAll(fixtureDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range allSamples() {
		bin, err := proto.MarshalOptions{Deterministic: true}.Marshal(s.Event)
		if err != nil {
			t.Fatalf("%s: marshal: %v", s.Name, err)
		}
		compact, err := protojson.Marshal(s.Event)
		if err != nil {
			t.Fatalf("%s: marshal json: %v", s.Name, err)
		}
		// protojson's spacing is deliberately unstable; re-indent so
		// that -update rewrites a fixture only when its content changes.
		var buf bytes.Buffer
		if err := json.Indent(&buf, compact, "", "  "); err != nil {
			t.Fatal(err)
		}
		js := append(buf.Bytes(), '\n')
		for ext, want := range map[string][]byte{".binpb": bin, ".json": js} {
			path := filepath.Join(fixtureDir, s.Name+ext)
			if *update {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%s: %v (run: go test ./store/event/eventtest -update)", s.Name, err)
			}
			if ext == ".binpb" && !bytes.Equal(got, want) {
				t.Errorf("%s is stale (run: go test ./store/event/eventtest -update)", path)
			}
			if ext == ".json" {
				var fromJSON agenttrailv1.Event
				if err := protojson.Unmarshal(got, &fromJSON); err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				if !proto.Equal(&fromJSON, s.Event) {
					t.Errorf("%s is stale (run: go test ./store/event/eventtest -update)", path)
				}
			}
		}
	}
}

// The Python and TypeScript suites assert that their own re-encoding of each
// fixture is byte-identical to the Go encoding, so Go decoding the fixture
// (here) is the same as Go decoding what they produce.
func TestFixturesDecodeInGo(t *testing.T) {
	for _, s := range allSamples() {
		bin, err := os.ReadFile(filepath.Join(fixtureDir, s.Name+".binpb"))
		if err != nil {
			t.Fatal(err)
		}
		var got agenttrailv1.Event
		if err := proto.Unmarshal(bin, &got); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if !proto.Equal(&got, s.Event) {
			t.Errorf("%s: decoded fixture differs from the sample", s.Name)
		}
	}
}

// allSamples is one event of every payload: Samples and LifecycleSamples.
func allSamples() []eventtest.Sample {
	return append(eventtest.Samples(), eventtest.LifecycleSamples()...)
}
