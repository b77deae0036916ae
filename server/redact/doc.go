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
//	private_key   PEM and OpenSSH private key blocks          [PRIVATE_KEY]
//	bearer        "Bearer <token>", "Basic <credentials>"     Bearer [TOKEN]
//	jwt           JSON Web Tokens                             [JWT]
//	password      URL passwords, password=... assignments     [PASSWORD]
//	api_key       provider keys by prefix, api_key=... etc.   [API_KEY]
//	national_id   US SSN, UK National Insurance number        [NATIONAL_ID]
//	card          payment cards (Luhn, issuer prefix)         [CARD ****4242]
//	iban          IBAN (country length, mod-97)               [IBAN]
//	email         email addresses                             [EMAIL]
//	ip            IPv4 and IPv6 addresses, private included   [IP]
//	phone         international and formatted national        [PHONE]
//	high_entropy  random-looking tokens of 20+ characters     [API_KEY]
//
// Each detector's documentation in this package states exactly what it
// takes and what it leaves alone. In short, the detectors are built to
// leave ordinary text byte for byte unchanged: order numbers, dates,
// times, prices, versions, UUIDs, hex digests (a 64-character hex SHA-256,
// such as Event.system_prompt_hash, is an identifier, not a secret), public
// ids such as "chatcmpl-..." and "call_...", and URLs without credentials.
// Text that holds nothing to mask is returned as the same string, without
// allocating.
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
//   - Map keys of content fields (labels, attributes) are scanned; a key
//     that masking makes equal to another gets " #2", " #3"... so no entry
//     is lost. Map keys of masked fields are kept: they name what is masked.
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
// The detectors are hand-written scanners, and each starts only where its
// trigger is: an "@" for addresses, a "J" (of "eyJ") for JWTs, a "B" or "b"
// for authorization schemes and private keys, a ":" or "=" (found once and
// shared) for assignments, URLs and IPv6, runs of digits (found eight bytes
// at a time) for numbers, and runs of 20 or more key characters (found by
// probing one byte in twenty) for keys and tokens. A string of at most 256
// bytes, such as most values of JSON arguments, is first triaged in one
// pass, and only the detectors whose triggers it holds run. Text that holds
// nothing to mask costs no allocation. Regular expressions are used only
// for a policy's extra patterns. BenchmarkEvent and BenchmarkQueryBaseline
// compare the developer view of a realistic LLM call with a Query's own
// per-event work.
package redact
