//go:build unix

package main

import (
	"runtime"
	"syscall"
	"time"
)

// usage is the process's CPU time (user + system, every thread) and its
// peak resident set size in bytes so far; ok is false where the system
// does not tell.
func usage() (cpu time.Duration, maxRSS uint64, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, false
	}
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	maxRSS = uint64(ru.Maxrss)
	if runtime.GOOS != "darwin" && runtime.GOOS != "ios" {
		maxRSS *= 1024 // kilobytes everywhere but on Apple systems
	}
	return cpu, maxRSS, true
}
