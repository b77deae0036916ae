package evaluation

import (
	"flag"
	"strings"
	"testing"

	"github.com/agenttrail/agenttrail/server/redact"
)

// show prints the items of the named kinds that came out wrong, for work on
// the detectors: go test ./server/redact/evaluation -run TestCorpus -v -show name,address
var show = flag.String("show", "", "comma-separated kinds whose misses and false alarms to print (\"all\" for every kind)")

// Thresholds of the developer view on the evaluation corpus: the share of
// sensitive items masked everywhere, by kind, and the share of clean
// look-alikes changed anywhere, over all kinds.
var (
	minRecall = map[string]float64{
		"email": 0.98, "phone": 0.98, "card": 0.98, "iban": 0.98, "national_id": 0.98, "ip": 0.98,
		"api_key": 0.98, "token": 0.98, "password": 0.98, "private_key": 0.98, "encoded": 0.98,
		"name": 0.80, "address": 0.80, "dob": 0.80, "passport": 0.80,
	}
	maxCleanChanged = 0.02
)

func TestCorpus(t *testing.T) {
	items, err := Load("testdata/corpus.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	r, err := redact.New(redact.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	outcomes := Run(r, items)
	kinds, total := Summarize(outcomes)
	t.Logf("developer view (policy %s) on %d items in %d locales:\n%s", r.Version(), len(items), total.Locales, Table(kinds, total))

	if len(items) < 5000 || total.Locales < 10 {
		t.Errorf("the corpus has %d items in %d locales, want at least 5000 in 10", len(items), total.Locales)
	}
	seen := map[string]bool{}
	for _, k := range kinds {
		seen[k.Kind] = true
		want, ok := minRecall[k.Kind]
		if !ok {
			t.Errorf("kind %s has no threshold", k.Kind)
			continue
		}
		if k.Recall() < want {
			t.Errorf("%s: recall %.1f%%, want at least %.0f%%", k.Kind, 100*k.Recall(), 100*want)
		}
		if k.Inconsistent > 0 {
			t.Errorf("%s: %d items read differently in different places after redaction", k.Kind, k.Inconsistent)
		}
	}
	for kind := range minRecall {
		if !seen[kind] {
			t.Errorf("the corpus has no items of kind %s", kind)
		}
	}
	if total.CleanChanged() > maxCleanChanged {
		t.Errorf("%.1f%% of clean look-alikes changed, want at most %.0f%%", 100*total.CleanChanged(), 100*maxCleanChanged)
	}

	if *show != "" {
		kinds := map[string]bool{}
		for _, k := range strings.Split(*show, ",") {
			kinds[k] = true
		}
		for _, o := range outcomes {
			if o.OK() && !o.Inconsistent || !kinds["all"] && !kinds[o.Item.Kind] {
				continue
			}
			what := "MISSED"
			if !o.Item.Sensitive {
				what = "CHANGED"
			}
			if o.OK() {
				what = "INCONSISTENT"
			}
			for place, got := range o.Leaks {
				t.Logf("%s %s %s in %s:\n  in:  %q\n  out: %q", what, o.Item.Kind, o.Item.Locale, place, o.Item.Text, got)
				break
			}
			if o.OK() {
				t.Logf("%s %s %s: %q", what, o.Item.Kind, o.Item.Locale, o.Item.Text)
			}
		}
	}
}
