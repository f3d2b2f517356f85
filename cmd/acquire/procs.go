package main

import "runtime"

// procsPerCore is how many Go processors (Ps) a host runs per core when
// GOMAXPROCS is not set. A host's file store calls fdatasync and fsync
// several times per request, and a goroutine blocked in such a call keeps
// its P until the runtime's monitor takes it back (20 µs to 10 ms later):
// meanwhile its core idles while runnable goroutines (RSA work) wait. An
// execution trace of 16 clients' transfers on 2 cores showed that for 8 %
// of the processors' time; twice as many Ps as cores let the other threads
// take the core. Measured A/B on 2 cores, back to back: transfers through
// the envelope +2 % to +18 % (6 pairs, mean +7 %; idle CPU 14–16 % →
// 11–13 %), the ledger alone +15 % to +34 % (4 pairs). See
// docs/design/foundation.md.
const procsPerCore = 2

// oversubscribe sets GOMAXPROCS to procsPerCore times its default (which
// follows the CPU quota where one is set) unless the user chose it.
func oversubscribe(getenv func(string) string) {
	if getenv("GOMAXPROCS") != "" {
		return
	}
	runtime.GOMAXPROCS(procsPerCore * runtime.GOMAXPROCS(0))
}
