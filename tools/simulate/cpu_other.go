//go:build !unix

package main

// cpuTime returns 0: the process's CPU time is not read on this system.
func cpuTime() float64 { return 0 }
