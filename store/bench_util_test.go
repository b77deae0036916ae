package store_test

import "os"

// osMkdirTemp makes a directory that outlives one benchmark, for the shared
// scan store; it is left in the system temp directory.
func osMkdirTemp() (string, error) { return os.MkdirTemp("", "agenttrail-scan-bench-") }
