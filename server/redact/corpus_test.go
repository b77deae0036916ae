package redact

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// corpusLine is one line of testdata/sensitive.jsonl or testdata/clean.jsonl.
type corpusLine struct {
	// Text is a realistic string an agent could log.
	Text string `json:"text"`
	// Secrets are the exact substrings of Text that must not survive
	// redaction (sensitive.jsonl only).
	Secrets []string `json:"secrets"`
	// Masks are masks Text must show after redaction (sensitive.jsonl
	// only).
	Masks []string `json:"masks"`
}

// minCorpus is the fewest lines each corpus file must hold.
const minCorpus = 60

func loadCorpus(t testing.TB, name string) []corpusLine {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatalf("open corpus: %v", err)
	}
	defer f.Close()
	var lines []corpusLine
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		var l corpusLine
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("%s:%d: %v", name, n, err)
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	if len(lines) < minCorpus {
		t.Fatalf("%s has %d lines, want at least %d", name, len(lines), minCorpus)
	}
	return lines
}

// corpusEvents places text in content fields of every shape: plain
// strings, a chat message, a repeated string, a map value, and a string
// value of JSON tool arguments (see viewTexts).
func corpusEvents(t testing.TB, text string) []*agenttrailv1.Event {
	t.Helper()
	args, err := json.Marshal(map[string]string{"note": text, "order_id": "4411"})
	if err != nil {
		t.Fatalf("marshal arguments: %v", err)
	}
	return []*agenttrailv1.Event{
		{
			EventId: "01963a4e-7c1b-7000-8000-000000000003",
			Labels:  map[string]string{"note": text},
			Payload: &agenttrailv1.Event_LlmCall{LlmCall: &agenttrailv1.LlmCall{
				RequestModel:  "gpt-4.1-mini",
				InputMessages: []*agenttrailv1.ChatMessage{{Role: agenttrailv1.Role_ROLE_USER, Content: text}},
				OutputText:    text,
				ToolCalls:     []*agenttrailv1.ToolCallRequest{{ToolCallId: "call_1", ToolName: "note", ArgumentsJson: string(args)}},
			}},
		},
		{
			EventId: "01963a4e-7c1b-7000-8000-000000000004",
			Payload: &agenttrailv1.Event_ToolCall{ToolCall: &agenttrailv1.ToolCall{ToolName: "note", Arguments: string(args), Result: text, ErrorMessage: text}},
		},
		{
			EventId: "01963a4e-7c1b-7000-8000-000000000002",
			Payload: &agenttrailv1.Event_Reasoning{Reasoning: &agenttrailv1.Reasoning{Thought: text, PlanSteps: []string{"Look up order 4411", text}}},
		},
	}
}

// viewTexts returns every place corpusEvents put the text, from a view.
func viewTexts(t testing.TB, views []*agenttrailv1.Event) map[string]string {
	t.Helper()
	note := func(args string) string {
		var m map[string]string
		if err := json.Unmarshal([]byte(args), &m); err != nil {
			t.Fatalf("redacted JSON arguments do not parse: %v\n%s", err, args)
		}
		return m["note"]
	}
	llm, tool, reasoning := views[0].GetLlmCall(), views[1].GetToolCall(), views[2].GetReasoning()
	return map[string]string{
		"Event.labels[note]":                  views[0].GetLabels()["note"],
		"LlmCall.input_messages[0].content":   llm.GetInputMessages()[0].GetContent(),
		"LlmCall.output_text":                 llm.GetOutputText(),
		"ToolCallRequest.arguments_json":      llm.GetToolCalls()[0].GetArgumentsJson(),
		"ToolCallRequest.arguments_json note": note(llm.GetToolCalls()[0].GetArgumentsJson()),
		"ToolCall.arguments note":             note(tool.GetArguments()),
		"ToolCall.result":                     tool.GetResult(),
		"ToolCall.error_message":              tool.GetErrorMessage(),
		"Reasoning.thought":                   reasoning.GetThought(),
		"Reasoning.plan_steps[1]":             reasoning.GetPlanSteps()[1],
	}
}

func TestCorpusSensitive(t *testing.T) {
	r := defaultRedactor(t)
	lines := loadCorpus(t, "sensitive.jsonl")
	perMask := map[string]int{}
	secrets, places := 0, 0
	for n, l := range lines {
		if len(l.Secrets) == 0 || len(l.Masks) == 0 {
			t.Fatalf("sensitive.jsonl:%d lists no secrets or no masks", n+1)
		}
		secrets += len(l.Secrets)
		got := r.Text(l.Text)
		for _, s := range l.Secrets {
			if !strings.Contains(l.Text, s) {
				t.Fatalf("sensitive.jsonl:%d: secret %q is not in the text", n+1, s)
			}
			if strings.Contains(got, s) {
				t.Errorf("sensitive.jsonl:%d: Text left %q in\n%s", n+1, s, got)
			}
		}
		for _, m := range l.Masks {
			if !strings.Contains(got, m) {
				t.Errorf("sensitive.jsonl:%d: Text result has no %s:\n%s", n+1, m, got)
			}
			label := m
			if strings.HasPrefix(m, "[CARD ") {
				label = "[CARD]"
			}
			perMask[label]++
		}
		if again := r.Text(got); again != got {
			t.Errorf("sensitive.jsonl:%d: Text is not idempotent:\nonce  %s\ntwice %s", n+1, got, again)
		}

		events := corpusEvents(t, l.Text)
		views := make([]*agenttrailv1.Event, len(events))
		for i, ev := range events {
			views[i] = r.Event(ev)
			checkHeaderUnchanged(t, "sensitive event", ev, views[i])
		}
		texts := viewTexts(t, views)
		places = len(texts)
		for place, text := range texts {
			for _, s := range l.Secrets {
				if strings.Contains(text, s) {
					t.Errorf("sensitive.jsonl:%d: Event left %q in %s:\n%s", n+1, s, place, text)
				}
			}
		}
	}
	for _, m := range []string{"[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[NATIONAL_ID]", "[IP]", "[API_KEY]", "[TOKEN]", "[JWT]", "[PRIVATE_KEY]", "[PASSWORD]"} {
		if perMask[m] < 3 {
			t.Errorf("sensitive.jsonl exercises %s on %d lines, want at least 3", m, perMask[m])
		}
	}
	labels := make([]string, 0, len(perMask))
	for m, c := range perMask {
		labels = append(labels, m+"="+strconv.Itoa(c))
	}
	slices.Sort(labels)
	t.Logf("sensitive corpus: %d lines, %d secrets, none left by Text nor by Event in any of %d content places; lines per mask: %s",
		len(lines), secrets, places, strings.Join(labels, " "))
}

func TestCorpusClean(t *testing.T) {
	r := defaultRedactor(t)
	lines := loadCorpus(t, "clean.jsonl")
	for n, l := range lines {
		if len(l.Secrets) != 0 || len(l.Masks) != 0 {
			t.Fatalf("clean.jsonl:%d lists secrets or masks", n+1)
		}
		if got := r.Text(l.Text); got != l.Text {
			t.Errorf("clean.jsonl:%d: Text changed clean text:\n got  %s\n want %s", n+1, got, l.Text)
		}
		for _, ev := range corpusEvents(t, l.Text) {
			if view := r.Event(ev); !proto.Equal(view, ev) {
				t.Errorf("clean.jsonl:%d: Event changed an event of clean text:\n got  %v\n want %v", n+1, view, ev)
			}
		}
	}
	t.Logf("clean corpus: %d lines, all unchanged by Text and by Event (same bytes in every content place, JSON arguments included)", len(lines))
}
