//go:build !unix

package main

// cpuSeconds is 0 where getrusage is missing: the load scripts that read it
// run on Unix.
func cpuSeconds() float64 { return 0 }
