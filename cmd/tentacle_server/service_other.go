//go:build !windows

package main

import "tentacle/options"

// runService refuses -S outside Windows, like the reference: on Linux the
// system service is tentacle_serverd.
func runService(o *options.Server, args []string) int {
	return fatal("-S %s: Windows services are only available on Windows; on this system use tentacle_serverd", o.Service)
}
