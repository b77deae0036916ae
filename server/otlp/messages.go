package otlp

import (
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// conversation is what a span says went into and came out of a model,
// whichever convention it used.
type conversation struct {
	input        []*agenttrailv1.ChatMessage
	system       string // system instructions given apart from the messages
	outputText   string
	toolCalls    []*agenttrailv1.ToolCallRequest
	finish       []string // finish reasons given with the output messages
	inputLossy   bool     // some input could not be represented: keep the raw attribute
	outputLossy  bool
	systemLossy  bool
	haveInput    bool
	haveOutput   bool
	inputSource  string // the attribute the input came from, for unuse
	outputSource string
	systemSource string
}

// readConversation reads the model's input and output from the current
// GenAI conventions (gen_ai.input.messages, gen_ai.output.messages,
// gen_ai.system_instructions), the deprecated ones (gen_ai.prompt and
// gen_ai.completion, as JSON or flattened as gen_ai.prompt.0.content), the
// content events of older instrumentations (passed in as events), and
// OpenInference (llm.input_messages.N.message.*, llm.output_messages.N.*,
// input.value, output.value), in that order of preference.
func readConversation(a *attrs, events *attrs) conversation {
	var c conversation
	// Input.
	switch {
	case a.has("gen_ai.input.messages"):
		v, k, _ := a.value("gen_ai.input.messages")
		c.input, c.inputLossy = partsMessages(v)
		c.haveInput, c.inputSource = true, k
	case a.has("gen_ai.prompt"), events.has("gen_ai.prompt"):
		src := a
		if !a.has("gen_ai.prompt") {
			src = events
		}
		v, k, _ := src.value("gen_ai.prompt")
		c.input, c.inputLossy = legacyMessages(v)
		c.haveInput, c.inputSource = true, k
		if src == events {
			c.inputSource = ""
		}
	default:
		if l := a.list("gen_ai.prompt."); len(l) > 0 {
			c.input, c.inputLossy = flatMessages(l, "")
			c.haveInput = true
		} else if l := a.list("llm.input_messages."); len(l) > 0 {
			c.input, c.inputLossy = flatMessages(l, "message.")
			c.haveInput = true
		} else if v, k, ok := a.value("input.value"); ok {
			c.input = []*agenttrailv1.ChatMessage{{Role: agenttrailv1.Role_ROLE_USER, Content: text(v)}}
			c.haveInput, c.inputSource = true, k
		}
	}
	if v, k, ok := a.value("gen_ai.system_instructions"); ok {
		c.system, c.systemLossy = partsText(v)
		c.systemSource = k
	}
	// Output.
	switch {
	case a.has("gen_ai.output.messages"):
		v, k, _ := a.value("gen_ai.output.messages")
		msgs, lossy := partsMessages(v)
		c.setOutput(msgs, lossy)
		c.finish = finishReasons(v)
		c.outputSource = k
	case a.has("gen_ai.completion"), events.has("gen_ai.completion"):
		src := a
		if !a.has("gen_ai.completion") {
			src = events
		}
		v, k, _ := src.value("gen_ai.completion")
		msgs, lossy := legacyMessages(v)
		c.setOutput(msgs, lossy)
		if src == a {
			c.outputSource = k
		}
	default:
		if l := a.list("gen_ai.completion."); len(l) > 0 {
			msgs, lossy := flatMessages(l, "")
			c.setOutput(msgs, lossy)
			for _, m := range l {
				if fr, ok := m["finish_reason"]; ok {
					c.finish = append(c.finish, text(fr))
				}
			}
		} else if l := a.list("llm.output_messages."); len(l) > 0 {
			msgs, lossy := flatMessages(l, "message.")
			c.setOutput(msgs, lossy)
		} else if v, k, ok := a.value("output.value"); ok {
			c.outputText, c.haveOutput, c.outputSource = text(v), true, k
		}
	}
	return c
}

func (c *conversation) setOutput(msgs []*agenttrailv1.ChatMessage, lossy bool) {
	var texts []string
	for _, m := range msgs {
		if m.GetContent() != "" {
			texts = append(texts, m.GetContent())
		}
		c.toolCalls = append(c.toolCalls, m.GetToolCalls()...)
	}
	c.outputText = strings.Join(texts, "\n")
	c.outputLossy, c.haveOutput = lossy, true
}

// keepLossy returns the attributes that were read but not wholly
// represented to the unused set, so that Event.attributes keeps them.
func (c *conversation) keepLossy(a *attrs) {
	if c.inputLossy && c.inputSource != "" {
		a.unuse(c.inputSource)
	}
	if c.outputLossy && c.outputSource != "" {
		a.unuse(c.outputSource)
	}
	if c.systemLossy && c.systemSource != "" {
		a.unuse(c.systemSource)
	}
}

// role maps a role name of any convention onto Role.
func role(s string) (agenttrailv1.Role, bool) {
	switch strings.ToLower(s) {
	case "system":
		return agenttrailv1.Role_ROLE_SYSTEM, true
	case "user", "human":
		return agenttrailv1.Role_ROLE_USER, true
	case "assistant", "model", "ai":
		return agenttrailv1.Role_ROLE_ASSISTANT, true
	case "tool", "function", "ipython":
		return agenttrailv1.Role_ROLE_TOOL, true
	case "developer":
		return agenttrailv1.Role_ROLE_DEVELOPER, true
	}
	return agenttrailv1.Role_ROLE_UNSPECIFIED, false
}

// partsMessages reads messages in the GenAI conventions' JSON schema
// (gen_ai-input-messages.json, gen_ai-output-messages.json): a list of
// {role, parts: [{type: text|tool_call|tool_call_response|...}], name}.
// Text parts join into the content, tool_call parts become tool calls, a
// tool_call_response part gives the tool message its call id and content.
// lossy is set when anything else was met (other part types, unknown
// roles, a value that is not such a list), so the raw value is kept too.
func partsMessages(v *commonpb.AnyValue) (msgs []*agenttrailv1.ChatMessage, lossy bool) {
	s, ok := structured(v)
	if !ok {
		// Not JSON: one message of unknown role holding the text.
		return []*agenttrailv1.ChatMessage{{Content: text(v)}}, true
	}
	list, ok := s.([]any)
	if !ok {
		return nil, true
	}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			lossy = true
			continue
		}
		msg := &agenttrailv1.ChatMessage{}
		r, known := role(str(m["role"]))
		msg.Role = r
		lossy = lossy || !known
		if n := str(m["name"]); n != "" {
			msg.Name = n
		}
		var texts []string
		parts, _ := m["parts"].([]any)
		if parts == nil {
			// Some instrumentations send {role, content}.
			if c, ok := m["content"]; ok {
				texts = append(texts, contentText(c))
			}
		}
		for _, p := range parts {
			part, ok := p.(map[string]any)
			if !ok {
				lossy = true
				continue
			}
			switch str(part["type"]) {
			case "text":
				texts = append(texts, str(part["content"]))
			case "tool_call":
				msg.ToolCalls = append(msg.ToolCalls, &agenttrailv1.ToolCallRequest{
					ToolCallId:    str(part["id"]),
					ToolName:      str(part["name"]),
					ArgumentsJson: argumentsJSON(part["arguments"]),
				})
			case "tool_call_response":
				msg.ToolCallId = str(part["id"])
				resp, ok := part["response"]
				if !ok {
					resp = part["result"]
				}
				texts = append(texts, contentText(resp))
			default:
				lossy = true
			}
		}
		msg.Content = strings.Join(texts, "\n")
		msgs = append(msgs, msg)
	}
	return msgs, lossy
}

// finishReasons reads the finish_reason of each output message.
func finishReasons(v *commonpb.AnyValue) []string {
	s, _ := structured(v)
	list, _ := s.([]any)
	var out []string
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			if fr := str(m["finish_reason"]); fr != "" {
				out = append(out, fr)
			}
		}
	}
	return out
}

// partsText reads system instructions: a list of parts (their text joined)
// or plain text.
func partsText(v *commonpb.AnyValue) (string, bool) {
	s, ok := structured(v)
	if !ok {
		return text(v), false
	}
	list, ok := s.([]any)
	if !ok {
		return text(v), true
	}
	var texts []string
	lossy := false
	for _, e := range list {
		switch p := e.(type) {
		case string:
			texts = append(texts, p)
		case map[string]any:
			if str(p["type"]) == "text" || p["type"] == nil {
				texts = append(texts, str(p["content"]))
			} else {
				lossy = true
			}
		default:
			lossy = true
		}
	}
	return strings.Join(texts, "\n"), lossy
}

// legacyMessages reads the deprecated gen_ai.prompt or gen_ai.completion:
// JSON of OpenAI-style messages ([{role, content, tool_calls}]), or text.
func legacyMessages(v *commonpb.AnyValue) ([]*agenttrailv1.ChatMessage, bool) {
	s, ok := structured(v)
	if !ok {
		return []*agenttrailv1.ChatMessage{{Content: text(v)}}, false
	}
	list, ok := s.([]any)
	if !ok {
		list = []any{s}
	}
	var msgs []*agenttrailv1.ChatMessage
	lossy := false
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			lossy = true
			continue
		}
		if _, hasParts := m["parts"]; hasParts {
			pm, l := partsMessages(&commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: jsonText([]any{m})}})
			msgs = append(msgs, pm...)
			lossy = lossy || l
			continue
		}
		r, known := role(str(m["role"]))
		msg := &agenttrailv1.ChatMessage{Role: r, Content: contentText(m["content"]), Name: str(m["name"]), ToolCallId: str(m["tool_call_id"])}
		lossy = lossy || (!known && m["role"] != nil)
		calls, _ := m["tool_calls"].([]any)
		for _, c := range calls {
			cm, _ := c.(map[string]any)
			fn, _ := cm["function"].(map[string]any)
			if fn == nil {
				fn = cm
			}
			msg.ToolCalls = append(msg.ToolCalls, &agenttrailv1.ToolCallRequest{
				ToolCallId: str(cm["id"]), ToolName: str(fn["name"]), ArgumentsJson: argumentsJSON(fn["arguments"]),
			})
		}
		msgs = append(msgs, msg)
	}
	return msgs, lossy
}

// flatMessages reads messages flattened into attributes, one map per
// message: OpenLLMetry's gen_ai.prompt.N.{role,content,tool_calls.M.*} (no
// field prefix) or OpenInference's llm.input_messages.N.message.{role,
// content, tool_calls.M.tool_call.*, tool_call_id, name} (prefix "message.").
func flatMessages(list []map[string]*commonpb.AnyValue, p string) ([]*agenttrailv1.ChatMessage, bool) {
	var msgs []*agenttrailv1.ChatMessage
	lossy := false
	for _, m := range list {
		r, known := role(text(m[p+"role"]))
		msg := &agenttrailv1.ChatMessage{Role: r, Content: text(m[p+"content"]), Name: text(m[p+"name"]), ToolCallId: text(m[p+"tool_call_id"])}
		if m[p+"role"] != nil && !known {
			lossy = true
		}
		calls := map[string]map[string]*commonpb.AnyValue{}
		var order []string
		for k, v := range m {
			rest, ok := strings.CutPrefix(k, p+"tool_calls.")
			if !ok {
				switch strings.TrimPrefix(k, p) {
				case "role", "content", "name", "tool_call_id", "finish_reason":
				default:
					lossy = true // contents lists, images, function_call_*: kept raw
				}
				continue
			}
			idx, field, _ := strings.Cut(rest, ".")
			if calls[idx] == nil {
				calls[idx] = map[string]*commonpb.AnyValue{}
				order = append(order, idx)
			}
			calls[idx][strings.TrimPrefix(field, "tool_call.")] = v
		}
		sortNumeric(order)
		for _, idx := range order {
			c := calls[idx]
			name := c["function.name"]
			if name == nil {
				name = c["name"]
			}
			args := c["function.arguments"]
			if args == nil {
				args = c["arguments"]
			}
			msg.ToolCalls = append(msg.ToolCalls, &agenttrailv1.ToolCallRequest{ToolCallId: text(c["id"]), ToolName: text(name), ArgumentsJson: jsonOrText(args)})
		}
		msgs = append(msgs, msg)
	}
	return msgs, lossy
}

// str returns a JSON value as a string: a string as it is, anything else
// (but null) as JSON.
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	return jsonText(v)
}

// contentText renders message content of any shape as text: a string, or
// OpenAI's list of content parts ({type: text, text}), or JSON.
func contentText(v any) string {
	if list, ok := v.([]any); ok {
		var texts []string
		for _, e := range list {
			if m, ok := e.(map[string]any); ok && (m["type"] == "text" || m["type"] == "input_text" || m["type"] == "output_text") {
				texts = append(texts, str(m["text"]))
				continue
			}
			return jsonText(v)
		}
		return strings.Join(texts, "\n")
	}
	return str(v)
}

// argumentsJSON renders tool call arguments as JSON text: a structure as
// JSON, a string (already JSON, by the conventions) as it is.
func argumentsJSON(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if v == nil {
		return ""
	}
	return jsonText(v)
}

// sortNumeric sorts decimal strings by value.
func sortNumeric(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && lessNumeric(s[j], s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func lessNumeric(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}
