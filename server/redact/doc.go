// Package redact builds the developer view of agenttrail events: the event
// with personal data and secrets masked, its header untouched.
//
// A Redactor applies one Policy, which is configuration: a required
// version, the built-in detectors to run, extra regular-expression
// patterns, and overrides of the field classes the event model declares.
// The version is stated in every redacted view (View.policy_version), so a
// reader always knows which rules produced what they see. DefaultPolicy is
// the built-in policy, version "builtin-1".
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
// ({"password": "hunter2"}, {"phone": 4155550132}), numbers are judged too
// ({"card": 4242424242424242} becomes {"card": "[CARD ****4242]"}), and
// only the values that change are re-encoded; key order, white space and
// every unchanged token are kept byte for byte. Text that only looks like
// JSON is scanned as text.
//
// # Speed
//
// The detectors are hand-written scanners gated by cheap searches: the
// email detector runs only around an "@", the JWT detector only around
// "eyJ", the number detectors only on runs of digits (found eight bytes at
// a time), the key detectors only on runs of 20 or more key characters
// (found by probing one byte in twenty). Regular expressions are used only
// for a policy's extra patterns.
package redact
