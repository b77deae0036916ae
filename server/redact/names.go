package redact

import (
	"strings"
	"unicode/utf8"
)

const maskName = "[NAME]"

// findNames finds the names of people (mask [NAME]), as Presidio's
// recognizers do without a language model: by context words and by the
// gazetteer of first and last names.
//
// A run of one to four capitalized words (with particles such as "van",
// "de", "bin" between them, and initials) is a name when:
//
//   - a context word that announces a name comes just before, with only
//     punctuation or a verb between ("Name: ...", "Customer: ...", "My name
//     is ...", "Je m'appelle ...", "Regards,\n..."), or an honorific ("Mr.",
//     "Frau", "Dr."), and the run is not made of common words only
//     ("Dear Customer", "Regards,\nThe Support Team" stay);
//   - a greeting or a preposition comes just before ("Hi ...", "I'm ...",
//     "by ..."), and the gazetteer knows one of the words as a name;
//   - nothing comes before, but the run starts with a first name and ends
//     with a last name, at least one of them not a common word, and its last
//     word is not a street or place ("Jordan River", "Victoria Station"
//     stay); or it is "Last, First".
//
// Names in CJK scripts, written without spaces, are taken after a context
// word (姓名, 氏名, 我叫, 担当者, 고객명, ...) or before an honorific
// (様, さん, 先生, 女士, 님, 씨), as a surname of the gazetteer and the given
// name that follows; a Japanese "surname given" pair separated by a space is
// a name when the gazetteer knows both.
func findNames(in *input, dst []match) []match {
	ws := in.words()
	s := in.s
	for i := 0; i < len(ws); i++ {
		w := ws[i]
		if w.cjk {
			dst = cjkNames(in, ws, i, dst)
			continue
		}
		if !nameStart(s, w) {
			// "van Hamaland, Lizzy": a particle may start a name after
			// a context word.
			if w.capital || w.end-w.start > 5 || i+1 >= len(ws) || !ws[i+1].capital || s[w.end:ws[i+1].start] != " " ||
				!isFold(nameParticles, s[w.start:w.end]) {
				continue
			}
			if ctx := nameContext(s, ws, i); ctx != ctxStrong && ctx != ctxWeak {
				continue
			}
		}
		ctx := nameContext(s, ws, i)
		end, n, ok := nameRun(s, ws, i, ctx == ctxStrong || ctx == ctxHonorific)
		if !ok {
			continue
		}
		if acceptName(s, ws[i:end], n, ctx) {
			dst = append(dst, match{start: w.start, end: ws[end-1].end, mask: maskName})
			i = end - 1
		}
	}
	return dst
}

// nameStart reports whether a name can start with w.
func nameStart(s string, w word) bool {
	if w.cjk || w.end-w.start < 2 || w.flags&wNameStop != 0 || w.flags&(wCtxName|wCtxNameWeak) != 0 && w.flags&(wFirst|wLast) == 0 {
		return false
	}
	return w.capital || w.upper && w.flags&(wFirst|wLast) != 0
}

type nameCtx uint8

const (
	ctxNone nameCtx = iota
	ctxWeak
	ctxHonorific
	ctxStrong
)

// connectors may stand between a context word and the name it announces.
var connectors = map[string]bool{
	"is": true, "es": true, "ist": true, "est": true, "è": true, "é": true, "er": true, "är": true, "jest": true, "—": true,
	"name": true, "names": true, "person": true, "my": true, "mein": true, "mi": true, "mon": true, "mijn": true, "meu": true,
	"full": true, "the": false, "de": true, "del": true, "da": true, "by": true, "to": true, "was": true, "are": true,
	"adı": true, "adım": true, "me": true, "m'appelle": true, "zovut": true, "się": true, "sie": true,
}

// nameContext says what comes before the word ws[i].
func nameContext(s string, ws []word, i int) nameCtx {
	w := ws[i]
	// The text between the previous word and this one.
	from := 0
	if i > 0 {
		from = ws[i-1].end
	}
	between := s[from:w.start]
	if i > 0 {
		p := ws[i-1]
		if p.flags&wHonorific != 0 && (between == " " || between == ". " || between == "." || between == "\u00a0") {
			return ctxHonorific
		}
	}
	// Walk back over connector words to a context word, at most three
	// words, through punctuation and line breaks only.
	best := ctxNone
	for k, hops := i-1, 0; k >= 0 && hops < 4; k, hops = k-1, hops+1 {
		p := ws[k]
		next := w.start
		if k+1 < i {
			next = ws[k+1].start
		}
		g := s[p.end:next]
		if !isConnectorGap(g) {
			break
		}
		if p.flags&wCtxName != 0 && !p.capital || p.flags&wCtxName != 0 && (strings.ContainsAny(g, ":=\n,") || hops > 0) {
			return ctxStrong
		}
		if p.flags&wCtxName != 0 {
			// "Customer Osman Eberhardt": a capitalized context word
			// right before the name is weaker evidence.
			best = max(best, ctxWeak)
		}
		if p.flags&wCtxNameWeak != 0 && hops == 0 {
			best = max(best, ctxWeak)
		}
		if !isFold(connectors, s[p.start:p.end]) {
			break
		}
	}
	return best
}

// isConnectorGap reports whether the text between two words is only what
// may separate a context word from a name: spaces, one line break, and
// ":", "=", "-", ",", quotes.
func isConnectorGap(g string) bool {
	if len(g) == 0 || len(g) > 8 {
		return false
	}
	newlines := 0
	for i := 0; i < len(g); i++ {
		switch g[i] {
		case ' ', '\t', ':', '=', '-', ',', '"', '\'', '\r':
		case '\n':
			newlines++
		default:
			return false
		}
	}
	return newlines <= 1
}

// nameParticles may stand, in lower case, between the parts of a name.
var nameParticles = map[string]bool{
	"de": true, "da": true, "do": true, "dos": true, "das": true, "del": true, "della": true, "der": true, "den": true, "van": true,
	"von": true, "zu": true, "la": true, "le": true, "du": true, "di": true, "y": true, "e": true, "bin": true, "binti": true,
	"al": true, "ibn": true, "ben": true, "ter": true, "ten": true, "af": true,
}

// nameRun returns the end (in words) of the run of name words starting at
// ws[i], and how many of them are capitalized name words. With lower, words
// in lower case that the gazetteer knows as names count too (after a strong
// context: "my name is jane doe").
func nameRun(s string, ws []word, i int, lower bool) (end, n int, ok bool) {
	j := i
	commaSeen := false
	for j < len(ws) && n < 4 {
		w := ws[j]
		if w.cjk {
			break
		}
		if j > i {
			g := s[ws[j-1].end:w.start]
			initial := ws[j-1].end-ws[j-1].start == 1 && (g == ". " || g == ".")
			// "Last, First": one comma, before a first name.
			comma := g == ", " && !commaSeen && w.capital && w.flags&wFirst != 0 && w.flags&(wCommon|wCtxAny) == 0
			if g != " " && g != "\u00a0" && !initial && !comma {
				break
			}
			if comma {
				commaSeen = true
			}
		}
		text := s[w.start:w.end]
		switch {
		case w.capital && w.flags&wNameStop == 0:
			n++
		case w.upper && w.flags&(wFirst|wLast|wMiddle) != 0:
			n++
		case lower && w.flags&(wFirst|wLast|wMiddle) != 0 && w.flags&(wCommon|wNameStop) == 0:
			n++
		case isFold(nameParticles, text) && j+1 < len(ws) && ws[j+1].capital:
		default:
			return trimRun(ws, i, j, n)
		}
		j++
	}
	return trimRun(ws, i, j, n)
}

func trimRun(ws []word, i, j, n int) (int, int, bool) {
	for j > i && !ws[j-1].capital && !ws[j-1].upper && ws[j-1].flags&(wFirst|wLast|wMiddle) == 0 {
		j--
	}
	return j, n, n > 0 && j > i
}

// acceptName decides whether a run of words is a name, given its context.
func acceptName(s string, run []word, n int, ctx nameCtx) bool {
	strong, named, plain := 0, 0, 0
	for _, w := range run {
		f := w.flags
		if f&(wFirst|wLast|wMiddle) != 0 {
			named++
			if f&(wCommon|wStreet|wMonth|wCtxAny) == 0 {
				strong++
			}
		} else if f&(wCommon|wCtxAny|wStreet|wMonth) == 0 && w.capital {
			plain++ // unknown to the lexicon, not a common word
		}
	}
	last := run[len(run)-1]
	placeWord := isPlaceWord(s[last.start:last.end])
	place := last.flags&wStreet != 0 || placeWord
	for _, w := range run[1:] {
		if w.flags&wStreet != 0 && w.flags&(wFirst|wLast) == 0 {
			place = true // "Baker Street, London": a street, not a person
		}
	}
	switch ctx {
	case ctxStrong:
		return (named > 0 || plain > 0) && !placeWord
	case ctxHonorific:
		return named > 0 || plain > 0
	case ctxWeak:
		return strong > 0 && !place || named >= 2 && !place
	}
	if n < 2 || place {
		return false
	}
	first := run[0]
	if first.flags&wFirst != 0 && last.flags&(wLast|wMiddle) != 0 && strong > 0 {
		return true
	}
	// "Last First" and "Last First Patronymic" (Russian, Hungarian, CJK
	// in Latin letters), and "Last, First".
	if first.flags&wLast != 0 && run[1].flags&wFirst != 0 && strong > 0 && (len(run) == 2 || last.flags&(wMiddle|wLast) != 0) {
		return true
	}
	return false
}

// placeWords end the names of places and organizations, which look like
// people's names: "Washington Monument", "Stanford University".
var placeWords = map[string]bool{
	"monument": true, "memorial": true, "university": true, "college": true, "school": true, "academy": true, "institute": true,
	"hospital": true, "clinic": true, "bank": true, "airport": true, "station": true, "terminal": true, "bridge": true, "tower": true,
	"building": true, "center": true, "centre": true, "museum": true, "church": true, "cathedral": true, "hotel": true, "inc": true,
	"ltd": true, "llc": true, "gmbh": true, "corp": true, "corporation": true, "company": true, "group": true, "foundation": true,
	"association": true, "society": true, "team": true, "department": true, "ministry": true, "council": true, "park": true,
	"square": true, "river": true, "lake": true, "mountain": true, "valley": true, "beach": true, "island": true, "bay": true,
	"county": true, "city": true, "state": true, "award": true, "prize": true, "cup": true, "day": true, "eve": true, "street": true,
	"stadium": true, "arena": true, "theatre": true, "theater": true, "mall": true, "market": true, "library": true, "studio": true,
	"studios": true, "records": true, "press": true, "times": true, "post": true, "news": true, "labs": true, "systems": true,
	"services": true, "solutions": true, "technologies": true, "partners": true, "holdings": true, "bros": true, "brothers": true,
}

func isPlaceWord(w string) bool { return isFold(placeWords, w) }

// cjkKeywords announce a name in CJK text; cjkHonorifics follow one.
var (
	cjkNameKeywords = []string{"姓名", "名前", "氏名", "我叫", "我是", "联系人", "聯絡人", "客户", "客戶", "担当者", "担当", "お名前", "고객명",
		"담당자", "이름은", "이름", "성명", "名字", "叫做", "收件人", "申请人", "患者", "乗客", "お客様"}
	cjkHonorifics = []string{"様", "さま", "さん", "先生", "女士", "小姐", "님", "씨", "氏", "君", "くん", "ちゃん", "殿"}
)

// cjkNames finds names in the CJK run ws[i], and a Japanese "surname
// given" pair across a space.
func cjkNames(in *input, ws []word, i int, dst []match) []match {
	s := in.s
	w := ws[i]
	run := s[w.start:w.end]
	lx := theLexicon()
	// A run that is a name by itself, between spaces or Latin text: after
	// a context word ("Customer: 中川康弘", "Signed by 박지우"), or known
	// to the gazetteer as surname and given name ("宋春梅 called ...").
	if n := utf8.RuneCountInString(run); n >= 2 && n <= 4 {
		ctx := nameContext(s, ws, i)
		known := cjkNameAt(lx, run, 0, false) == len(run)
		if known || (ctx == ctxStrong || ctx == ctxWeak) && cjkNameAt(lx, run, 0, true) == len(run) {
			end := w.end
			// "小林 春香": the given name after a space.
			if i+1 < len(ws) && ws[i+1].cjk && s[w.end:ws[i+1].start] == " " && lx.lookup(run)&wLast != 0 {
				if g := cjkGiven(lx, s[ws[i+1].start:ws[i+1].end], 0); g > 0 {
					end = ws[i+1].start + g
				}
			}
			return append(dst, match{start: w.start, end: end, mask: maskName})
		}
	}
	// A run that starts with an honorific names the run before it: "김지원
	// 씨가 전화했습니다", "田中 幹様".
	if i > 0 && ws[i-1].cjk && s[ws[i-1].end:w.start] == " " {
		for _, h := range cjkHonorifics {
			if strings.HasPrefix(run, h) {
				prev := s[ws[i-1].start:ws[i-1].end]
				if n := utf8.RuneCountInString(prev); n >= 2 && n <= 4 && cjkNameAt(lx, prev, 0, true) == len(prev) {
					dst = append(dst, match{start: ws[i-1].start, end: ws[i-1].end, mask: maskName})
				}
				break
			}
		}
	}
	// Before: a keyword inside the run, or ending just before it (with a
	// colon or space between).
	for _, k := range cjkNameKeywords {
		for off := 0; ; {
			j := strings.Index(run[off:], k)
			if j < 0 {
				break
			}
			p := off + j + len(k)
			off = p
			for _, particle := range []string{"は", "：", ":", "が", "은 ", "는 ", "은", "는", " "} {
				if strings.HasPrefix(run[p:], particle) {
					p += len(particle)
					break
				}
			}
			if p == len(run) && i+1 < len(ws) && ws[i+1].cjk && s[w.end:ws[i+1].start] == " " {
				// "私の名前は 佐藤 修平": the name is the next run.
				continue
			}
			if n := cjkNameAt(lx, run, p, true); n > 0 {
				end := w.start + p + n
				// "佐藤 修平": a given name after a space.
				if p+n == len(run) && i+1 < len(ws) && ws[i+1].cjk && s[w.end:ws[i+1].start] == " " {
					if g := cjkGiven(lx, s[ws[i+1].start:ws[i+1].end], 0); g > 0 {
						end = ws[i+1].start + g
					}
				}
				dst = append(dst, match{start: w.start + p, end: end, mask: maskName})
				continue
			}
		}
	}
	if i > 0 {
		prev := s[max(0, w.start-12):w.start]
		p := strings.TrimRight(prev, " :：")
		for _, particle := range []string{"は", "が", "은", "는"} {
			p = strings.TrimSuffix(p, particle)
		}
		for _, k := range cjkNameKeywords {
			if strings.HasSuffix(p, k) {
				if n := cjkNameAt(lx, run, 0, true); n > 0 {
					end := w.start + n
					// "小林 春香": the given name after a space.
					if n == len(run) && i+1 < len(ws) && ws[i+1].cjk && s[w.end:ws[i+1].start] == " " {
						if g := cjkGiven(lx, s[ws[i+1].start:ws[i+1].end], 0); g > 0 {
							end = ws[i+1].start + g
						}
					}
					dst = append(dst, match{start: w.start, end: end, mask: maskName})
				}
			}
		}
	}
	// After: an honorific; the name is the surname and given name before it.
	for _, h := range cjkHonorifics {
		for off := 0; ; {
			j := strings.Index(run[off:], h)
			if j < 0 {
				break
			}
			p := off + j
			off = p + len(h)
			found := false
			for back := 2; back <= 4; back++ {
				start := cjkBack(run, p, back)
				if start < 0 {
					break
				}
				if n := cjkNameAt(lx, run, start, false); n > 0 && start+n == p {
					dst = append(dst, match{start: w.start + start, end: w.start + p, mask: maskName})
					found = true
					break
				}
			}
			// "井上 結衣さん": the given name starts the run, the surname
			// is the run before.
			if !found && i > 0 && ws[i-1].cjk && s[ws[i-1].end:w.start] == " " && p > 0 && lx.lookup(run[:p])&wFirst != 0 &&
				lx.lookup(s[ws[i-1].start:ws[i-1].end])&wLast != 0 {
				dst = append(dst, match{start: ws[i-1].start, end: w.start + p, mask: maskName})
			}
		}
	}
	// "小林 春香": a surname and a given name apart, both known.
	if i+1 < len(ws) && ws[i+1].cjk && s[w.end:ws[i+1].start] == " " {
		next := s[ws[i+1].start:ws[i+1].end]
		if lx.lookup(run)&wLast != 0 && lx.lookup(next)&wFirst != 0 {
			dst = append(dst, match{start: w.start, end: ws[i+1].end, mask: maskName})
		}
	}
	return dst
}

// cjkBack returns the byte offset of the character n characters before
// run[p], or -1.
func cjkBack(run string, p, n int) int {
	for ; n > 0; n-- {
		if p <= 0 {
			return -1
		}
		_, size := utf8.DecodeLastRuneInString(run[:p])
		p -= size
	}
	return p
}

// cjkNameAt returns the length in bytes of the name at run[p]: a surname
// the gazetteer knows (one to three characters) and a given name after it.
// With anyGiven (after a context word), a given name of one or two
// characters is taken even when the gazetteer does not know it.
func cjkNameAt(lx *lexicon, run string, p int, anyGiven bool) int {
	for _, sn := range []int{3, 2, 1} {
		e := cjkForward(run, p, sn)
		if e < 0 || lx.lookup(run[p:e])&wLast == 0 {
			continue
		}
		if g := cjkGiven(lx, run, e); g > 0 {
			return e + g - p
		}
		if anyGiven {
			for _, gn := range []int{2, 1} {
				if ge := cjkForward(run, e, gn); ge > 0 {
					return ge - p
				}
			}
			if e == len(run) {
				return e - p // the surname ends the run: "佐藤 修平"
			}
		}
	}
	// A whole known full name (Korean and Chinese names are also listed
	// whole in some locales).
	return 0
}

// cjkGiven returns the length of a given name the gazetteer knows at
// run[p], longest first, or 0.
func cjkGiven(lx *lexicon, run string, p int) int {
	for _, gn := range []int{3, 2, 1} {
		ge := cjkForward(run, p, gn)
		if ge > 0 && lx.lookup(run[p:ge])&wFirst != 0 {
			return ge - p
		}
	}
	return 0
}

// cjkForward returns the byte offset n characters after run[p], or -1.
func cjkForward(run string, p, n int) int {
	for ; n > 0; n-- {
		if p >= len(run) {
			return -1
		}
		_, size := utf8.DecodeRuneInString(run[p:])
		p += size
	}
	return p
}
