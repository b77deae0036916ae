//go:build !race

package redact

// raceEnabled is true when tests run under the race detector, which makes
// sync.Pool drop items at random, so allocation counts mean nothing.
const raceEnabled = false
