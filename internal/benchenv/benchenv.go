// Package benchenv reads the environment that sizes Kenner's store benchmarks, so that the
// process, sqlite and pebble benchmarks measure the same store when asked for one size.
package benchenv

import (
	"os"
	"strconv"
	"strings"
)

// Sizes is KENNER_BENCH_PROFILES people (default 20,000) and KENNER_BENCH_EVENTS events
// (default 200,000). BENCHMARKS.md's full size is 1,000,000 and 10,000,000.
func Sizes() (profiles, events int) {
	profiles, events = 20_000, 200_000
	if v, err := strconv.Atoi(os.Getenv("KENNER_BENCH_PROFILES")); err == nil && v > 0 {
		profiles = v
	}
	if v, err := strconv.Atoi(os.Getenv("KENNER_BENCH_EVENTS")); err == nil && v > 0 {
		events = v
	}
	return profiles, events
}

// KeepDir is KENNER_BENCH_KEEP: a directory where a loaded store stays for the next run of
// the same size ("" to load into a temporary directory), since a full-size load takes a
// quarter of an hour.
func KeepDir() string { return os.Getenv("KENNER_BENCH_KEEP") }

// PeakRSS is the process's peak resident set (VmHWM of /proc/self/status), in bytes; 0 where
// the kernel does not say.
func PeakRSS() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "VmHWM:"), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
