package redact

import (
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// collector gathers, during the redaction of one event, the values that
// were masked and their masks.
type collector struct {
	found []masked
}

type masked struct {
	value, mask string
}

// minPropagated is the shortest value masked everywhere it occurs: shorter
// ones ("Jo", "42") occur by chance.
const minPropagated = 6

// add records what the matches of one pass over s mask.
func (c *collector) add(s string, ms []match) {
	for _, m := range ms {
		if m.end-m.start < minPropagated || m.end > len(s) {
			continue
		}
		v := s[m.start:m.end]
		if strings.HasPrefix(v, "[") || strings.ContainsAny(v, "\n") {
			continue
		}
		if len(c.found) >= 256 {
			return
		}
		c.found = append(c.found, masked{value: strings.Clone(v), mask: m.mask})
	}
}

// sort puts the longest values first, so that a value containing another
// is replaced whole, and drops repeats.
func (c *collector) sort() {
	slices.SortFunc(c.found, func(a, b masked) int {
		if len(a.value) != len(b.value) {
			return len(b.value) - len(a.value)
		}
		return strings.Compare(a.value, b.value)
	})
	c.found = slices.CompactFunc(c.found, func(a, b masked) bool { return a.value == b.value })
}

// replace masks in s every occurrence, as a whole word, of a collected
// value.
func (c *collector) replace(s string) string {
	for _, f := range c.found {
		if len(s) < len(f.value) {
			continue
		}
		for from := 0; ; {
			k := strings.Index(s[from:], f.value)
			if k < 0 {
				break
			}
			a := from + k
			b := a + len(f.value)
			if isWord(before(s, a)) && isWord(s[a]) || b < len(s) && isWord(s[b]) && isWord(s[b-1]) {
				from = a + 1
				continue
			}
			mask := f.mask
			if isNumberToken(f.value) && strings.IndexByte(":,[ \t\n", before(s, a)) >= 0 && strings.IndexByte(",}] \t\n", at(s, b)) >= 0 && looksLikeJSON(s) {
				mask = `"` + mask + `"` // a JSON number becomes a string
			}
			s = s[:a] + mask + s[b:]
			from = a + len(mask)
		}
	}
	return s
}

// propagate masks, in the content of a message treated as m, the values
// the collector gathered, wherever they remain.
func (r *Redactor) propagate(msg protoreflect.Message, m mode) {
	plan := r.plans[msg.Descriptor()]
	if plan == nil {
		return
	}
	fields := plan.inner
	if m == modeHeader {
		fields = plan.header
	}
	for i := range fields {
		f := &fields[i]
		if !msg.Has(f.fd) {
			continue
		}
		fm := fieldMode(m, f)
		switch fm {
		case modeShown, modePersonal, modeSecret:
			continue
		case modeHeader:
			if f.container {
				r.propagate(msg.Mutable(f.fd).Message(), modeHeader)
			}
			continue
		}
		fd := f.fd
		switch {
		case fd.IsList():
			l := msg.Mutable(fd).List()
			for i := 0; i < l.Len(); i++ {
				if fd.Message() != nil {
					r.propagate(l.Get(i).Message(), fm)
				} else if fd.Kind() == protoreflect.StringKind {
					if s := l.Get(i).String(); r.col.replace(s) != s {
						l.Set(i, protoreflect.ValueOfString(r.col.replace(s)))
					}
				}
			}
		case fd.IsMap():
			mp := msg.Mutable(fd).Map()
			type entry struct {
				key string
				val protoreflect.Value
			}
			var renamed []entry
			mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				if fd.MapValue().Kind() == protoreflect.StringKind {
					if s := v.String(); r.col.replace(s) != s {
						v = protoreflect.ValueOfString(r.col.replace(s))
						mp.Set(k, v)
					}
				}
				if fd.MapKey().Kind() == protoreflect.StringKind {
					if ks := k.String(); r.col.replace(ks) != ks {
						renamed = append(renamed, entry{ks, v})
					}
				}
				return true
			})
			for _, e := range renamed {
				mp.Clear(protoreflect.ValueOfString(e.key).MapKey())
			}
			for _, e := range renamed {
				masked := r.col.replace(e.key)
				key := masked
				for n := 2; mp.Has(protoreflect.ValueOfString(key).MapKey()); n++ {
					key = masked + " #" + itoa(n)
				}
				mp.Set(protoreflect.ValueOfString(key).MapKey(), e.val)
			}
		case fd.Message() != nil:
			r.propagate(msg.Mutable(fd).Message(), fm)
		case fd.Kind() == protoreflect.StringKind:
			if s := msg.Get(fd).String(); r.col.replace(s) != s {
				msg.Set(fd, protoreflect.ValueOfString(r.col.replace(s)))
			}
		}
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// isNumberToken reports whether v could be a JSON number.
func isNumberToken(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isDigit(c) && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E' {
			return false
		}
	}
	return true
}
