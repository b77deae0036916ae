package otlp

import (
	"math"
	"sort"
	"strconv"
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
)

// attrs is a span's attributes, read by name. Every attribute read into an
// event field is marked used; the rest go to Event.attributes.
type attrs struct {
	m    map[string]*commonpb.AnyValue
	used map[string]bool
}

func newAttrs(kvs []*commonpb.KeyValue) *attrs {
	a := &attrs{m: make(map[string]*commonpb.AnyValue, len(kvs)), used: map[string]bool{}}
	for _, kv := range kvs {
		if _, dup := a.m[kv.GetKey()]; !dup && kv.GetValue().GetValue() != nil {
			a.m[kv.GetKey()] = kv.GetValue() // the first of duplicate keys wins
		}
	}
	return a
}

// peek returns a string attribute without marking it used.
func (a *attrs) peek(key string) string {
	if v, ok := a.m[key]; ok {
		return text(v)
	}
	return ""
}

// has reports whether any of the keys is present.
func (a *attrs) has(keys ...string) bool {
	for _, k := range keys {
		if _, ok := a.m[k]; ok {
			return true
		}
	}
	return false
}

// value returns the first present value of the keys and marks it used.
func (a *attrs) value(keys ...string) (*commonpb.AnyValue, string, bool) {
	for _, k := range keys {
		if v, ok := a.m[k]; ok {
			a.used[k] = true
			return v, k, true
		}
	}
	return nil, "", false
}

// str returns the first present of the keys as a string, marking it used.
func (a *attrs) str(keys ...string) string {
	v, _, ok := a.value(keys...)
	if !ok {
		return ""
	}
	return text(v)
}

// int returns the first of the keys that holds an integer (an int, an
// integral double, or a string of digits), marking it used. Values that
// are not integers are left for Event.attributes.
func (a *attrs) int(keys ...string) (int64, bool) {
	for _, k := range keys {
		v, ok := a.m[k]
		if !ok {
			continue
		}
		var n int64
		switch x := v.GetValue().(type) {
		case *commonpb.AnyValue_IntValue:
			n = x.IntValue
		case *commonpb.AnyValue_DoubleValue:
			if x.DoubleValue != math.Trunc(x.DoubleValue) || math.Abs(x.DoubleValue) > 1<<53 {
				continue
			}
			n = int64(x.DoubleValue)
		case *commonpb.AnyValue_StringValue:
			p, err := strconv.ParseInt(strings.TrimSpace(x.StringValue), 10, 64)
			if err != nil {
				continue
			}
			n = p
		default:
			continue
		}
		a.used[k] = true
		return n, true
	}
	return 0, false
}

// count is int for token counts and the like: a negative value is left
// for Event.attributes rather than refused.
func (a *attrs) count(keys ...string) int64 {
	for _, k := range keys {
		if n, ok := a.int(k); ok {
			if n >= 0 {
				return n
			}
			delete(a.used, k)
		}
	}
	return 0
}

// float returns the first of the keys that holds a finite number.
func (a *attrs) float(keys ...string) (float64, bool) {
	for _, k := range keys {
		v, ok := a.m[k]
		if !ok {
			continue
		}
		var f float64
		switch x := v.GetValue().(type) {
		case *commonpb.AnyValue_DoubleValue:
			f = x.DoubleValue
		case *commonpb.AnyValue_IntValue:
			f = float64(x.IntValue)
		case *commonpb.AnyValue_StringValue:
			p, err := strconv.ParseFloat(strings.TrimSpace(x.StringValue), 64)
			if err != nil {
				continue
			}
			f = p
		default:
			continue
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		a.used[k] = true
		return f, true
	}
	return 0, false
}

// strs returns the first of the keys as a list of strings: an array of
// strings, a JSON array in a string, or a single string.
func (a *attrs) strs(keys ...string) []string {
	v, _, ok := a.value(keys...)
	if !ok {
		return nil
	}
	var list []any
	switch x := native(v).(type) {
	case []any:
		list = x
	case string:
		if s, ok := structured(v); ok {
			if l, ok := s.([]any); ok {
				list = l
				break
			}
		}
		return []string{x}
	default:
		return []string{text(v)}
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		} else {
			out = append(out, jsonText(e))
		}
	}
	return out
}

// list returns a flattened list attribute of OpenLLMetry or OpenInference
// ("llm.input_messages.0.message.role", "llm.input_messages.0.message.content",
// "llm.input_messages.1.message.role") as one map per element, in index
// order, keyed by the rest of the names, and marks those attributes used.
// Names under the prefix that do not continue with an index are left alone.
func (a *attrs) list(prefix string) []map[string]*commonpb.AnyValue {
	byIndex := map[int]map[string]*commonpb.AnyValue{}
	for k, v := range a.m {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		head, field, ok := strings.Cut(rest, ".")
		i, err := strconv.Atoi(head)
		if !ok || err != nil || i < 0 || i > 1<<16 || field == "" {
			continue
		}
		if byIndex[i] == nil {
			byIndex[i] = map[string]*commonpb.AnyValue{}
		}
		byIndex[i][field] = v
		a.used[k] = true
	}
	idx := make([]int, 0, len(byIndex))
	for i := range byIndex {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	out := make([]map[string]*commonpb.AnyValue, 0, len(idx))
	for _, i := range idx {
		out = append(out, byIndex[i])
	}
	return out
}

// unuse returns attributes to the unused set, for values read but not
// fully represented by the event (so they are kept in Event.attributes).
func (a *attrs) unuse(keys ...string) {
	for _, k := range keys {
		delete(a.used, k)
	}
}

// rest returns the attributes not used, rendered as text, keyed as given
// with prefix before each name.
func (a *attrs) rest(prefix string, into map[string]string) {
	for k, v := range a.m {
		if !a.used[k] {
			into[prefix+k] = text(v)
		}
	}
}
