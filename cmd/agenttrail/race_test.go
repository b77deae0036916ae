//go:build race

package main

// raceEnabled: the tests were built with -race, so the binary they build
// is too, to reuse the packages the test build compiled.
const raceEnabled = true
