package setup

import "runtime"

// MinProcs is the fewest goroutines a server lets run Go code at once
// (GOMAXPROCS), whatever the number of CPUs.
//
// A server's uploads spend their time in blocking file-system calls: fsync,
// creating and linking files. A goroutine in such a call keeps its P until
// the runtime's monitor takes it back, tens of microseconds to milliseconds
// later; with as many Ps as CPUs (two on a small virtual machine) every P
// is soon held that way, and nobody polls the network: a new agent or its
// data then waits for a P while the CPUs are idle. Spare Ps cost a little
// memory each and let the network be served at once; 16 is where the
// gain stopped (BENCHMARKS.md, "The Go scheduler").
const MinProcs = 16

// RaiseProcs makes GOMAXPROCS at least MinProcs, unless the administrator
// chose it: setByUser is the GOMAXPROCS environment variable, which the
// runtime honours and this leaves alone when it is not empty.
func RaiseProcs(setByUser string) {
	if setByUser != "" {
		return
	}
	if runtime.GOMAXPROCS(0) < MinProcs {
		runtime.GOMAXPROCS(MinProcs)
	}
}
