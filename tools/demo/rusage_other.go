//go:build !unix

package main

import "time"

// usage reports nothing where getrusage does not exist: the -json figures
// that need it stay 0.
func usage() (cpu time.Duration, maxRSS uint64, ok bool) { return 0, 0, false }
