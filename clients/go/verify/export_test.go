package verify

// EntryMatches is CheckEntry's fast path, for the tests that hold it to
// deciding only what the full check passes.
var EntryMatches = entryMatches

// FirstDiff names the first field that differs, for the old check kept as
// the oracle.
var FirstDiff = firstDiff
