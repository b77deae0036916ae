// Package redact builds the developer view of agenttrail events: the event
// with personal data and secrets masked, its header untouched.
//
// A Redactor applies one Policy, which is configuration: a required
// version, the built-in detectors to run, extra regular-expression
// patterns, and overrides of the field classes the event model declares.
// The version is stated in every redacted view (View.policy_version), so a
// reader always knows which rules produced what they see. DefaultPolicy is
// the built-in policy, version "builtin-2".
//
// # What is masked
//
// Redactor.Event walks an event by the field classes of the event model
// (store/event.ClassOf), adjusted by the policy:
//
//   - the header (METADATA fields, reached through METADATA containers) is
//     never changed, so the view's header still equals the bytes the log
//     committed to and the event still verifies against a checkpoint (with
//     its content withheld: the masked content no longer matches the
//     content digest, which the server returns unchanged);
//   - PERSONAL and SECRET fields are masked whole, as "[PERSONAL]" and
//     "[SECRET]", in nested messages, lists and map values too;
//   - CONTENT text is scanned by the detectors, and masks keep the shape of
//     what they hide, so a developer can still follow what happened.
//
// Inside a CONTENT field, nested fields keep their classes: a field
// declared PERSONAL or SECRET is masked whole there too, and every other
// string (METADATA ones included) is scanned.
//
// The detectors and their masks, in the order their masks win when two
// findings overlap (the union of overlapping findings is always masked):
//
//	encoded       base64, hex and URL-encoded runs whose      the mask of what
//	              decoding holds something to mask            it hides
//	private_key   PEM and OpenSSH private key blocks          [PRIVATE_KEY]
//	bearer        "Bearer <token>", "Basic <credentials>",    Bearer [TOKEN]
//	              "Authorization: Token <hex>"
//	jwt           JSON Web Tokens                             [JWT]
//	password      URL passwords, password=... assignments,    [PASSWORD]
//	              "my password is ...", "mysql -p...",
//	              "sshpass -p ...", values on the next line
//	api_key       provider keys by prefix, api_key=... etc.   [API_KEY]
//	secret_rules  the gitleaks rule set (data/gitleaks.json)  [API_KEY]
//	national_id   SSN, NINO, and ids after a context word     [NATIONAL_ID]
//	              (PESEL, CPF, BSN, codice fiscale, ...)
//	card          payment cards (Luhn, issuer prefix)         [CARD ****4242]
//	iban          IBAN (country length, mod-97)               [IBAN]
//	email         addresses, IDN and URL-encoded ones, and    [EMAIL]
//	              "jane at example dot com"
//	ip            IPv4 and IPv6 addresses, private included   [IP]
//	phone         international, national, after a context    [PHONE]
//	              word or key; alone on a line when
//	              libphonenumber finds it valid for a region
//	passport      passport numbers after a context word       [PASSPORT]
//	dob           dates after a birth context word            [DOB]
//	address       street addresses: number, name and street   [ADDRESS]
//	              type in the locales' orders; after a
//	              context word; CJK addresses
//	name          people's names: after a context word, or    [NAME]
//	              a first and a last name of the gazetteer
//	high_entropy  random-looking tokens of 20+ characters     [API_KEY]
//
// # Detection from maintained sources, in context
//
// Secrets are found by gitleaks' rule set (github.com/zricethezav/gitleaks/v8,
// config/gitleaks.toml, converted to data/gitleaks.json by
// tools/gitleaksrules at a pinned version, keywords gating the expressions
// through an Aho-Corasick automaton) besides the package's own provider
// prefixes and the high_entropy detector. Phone numbers that no context or
// written shape vouches for are validated with libphonenumber's metadata
// (github.com/nyaruka/phonenumbers) for the regions the text's script
// suggests, then for 53 others. People's names, street addresses, dates of
// birth and passport numbers are found as Presidio's recognizers find them
// without a language model: context words in the languages of the
// gazetteer's largest locales ("my name is", "Anschrift", "生年月日",
// "passport no."), the names of JSON members and assignments
// ({"full_name": ...}, "DOB=..."), the forms of each kind (street types,
// house numbers and postal codes; dates; passport numbers), and a gazetteer
// of first, middle and last names, honorifics and street types generated
// from Faker's locale data by tools/gazetteer.py (data/gazetteer.txt.gz,
// some 27,000 first and 26,000 last names of 110 locales, with the words of
// Faker's lorem lists marking names that are common words too).
//
// Text is read with full-width forms, no-break and thin spaces,
// typographic dashes and quotes folded to ASCII (see normalize.go), so that
// "jane＠example.com，" and "06 12 34 56 78" read as their ASCII
// spellings; what is found is masked in the original bytes.
//
// The evaluation corpus of package evaluation (5,890 items of 15 kinds in
// 16 locales, generated with Faker, independent of this package's
// testdata) measures precision and recall per kind; its test fails below
// 98% recall for structured kinds, 80% for names, addresses, dates of
// birth and passports, or above 2% of clean look-alikes changed.
//
// # Structured content
//
// A content string that is a JSON object or array (tool arguments and
// results, most often) is walked value by value rather than scanned as
// text: escapes are decoded before scanning, member names give context
// ({"password": "hunter2"}, {"phone": 4155550132}, {"ssn": "123456789"}),
// numbers are judged too ({"card": 4242424242424242} becomes
// {"card": "[CARD ****4242]"}: a masked number becomes a string), and a
// string value that is itself JSON is walked in turn. Member names are
// scanned like values but change only when a detector matches them
// ({"jane@example.com": ...}), which names seldom do.
//
// Only the tokens that change are re-encoded, with the fewest escapes; key
// order, white space, number spelling, and every unchanged string with its
// original escapes are kept byte for byte, so the view of JSON that holds
// nothing to mask is the same string. Text that only looks like JSON (it
// starts with "{" or "[" but does not parse) is scanned as text.
//
// # Decisions a reader should know
//
//   - Loopback, private and link-local IP addresses are masked like any
//     other: in a log they still point at one machine.
//   - Hexadecimal strings (digests, UUIDs, trace ids, commit hashes) are
//     never judged by entropy; a hex secret is found by the name it is
//     assigned to ("api_key=...", {"token": "..."}).
//   - The user name of a URL ("postgres://app:[PASSWORD]@db") stays; its
//     password does not.
//   - Map keys of content fields (labels, attributes) are scanned as
//     values are (JSON keys as JSON); a key that masking makes equal to
//     another gets " #2", " #3"... so no entry is lost. Map keys of masked
//     fields are kept: they name what is masked.
//   - A value masked in one field of an event is masked wherever else it
//     occurs in the event's content, with the same mask (see Mask).
//   - Metadata is never masked: it is committed in the clear. CheckMetadata
//     refuses, at append, an event whose metadata holds a secret or a
//     personal datum that can be told with certainty.
//   - Unknown fields are dropped from the view: their class is unknown.
//   - Text is scanned again after masking whenever a mask lands next to a
//     byte some detector reads across, because masking can make a boundary
//     ("jane@example.com4242424242424242" is an address and a card number).
//   - A masked event no longer matches its content digest; the server
//     returns the header and digest unchanged and marks the content as
//     withheld (ContentState.CONTENT_STATE_WITHHELD).
//
// # Speed
//
// Each detector starts only where its trigger is: an "@" for addresses, a
// "J" (of "eyJ") for JWTs, a "B" or "b" for authorization schemes and
// private keys, a ":" or "=" (found once and shared) for assignments, URLs
// and IPv6, runs of digits (found eight bytes at a time) for numbers, runs
// of 20 or more key characters (found by probing one byte in twenty) for
// keys and tokens and encoded runs, windows around runs of 16 or more for
// the gitleaks rules, and the words of the text, looked up once each in the
// lexicon's hash table, for context words, names and street types. A
// string of at most 256 bytes, such as most values of JSON arguments, is
// first triaged in one pass, and only the detectors whose triggers it holds
// run. Triage is an optimisation that must never change an answer: every
// detector's triggers are implied by anything it can find (five digits for
// a national id after its context, a "%" for URL encoding, a run of 16 for
// the gitleaks rules), and FuzzTriage checks Text, the JSON scan and the
// metadata check against runs with every detector on. The server keeps the
// views it rendered, by leaf hash and policy version (server.ViewCache), so
// an event read again is not masked again.
// BenchmarkEvent measures the developer view of a realistic LLM call; the
// server's BenchmarkQueryRedactionCost compares a Query's cost in each view.
package redact
