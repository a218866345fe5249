package testharness

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePortBelowEphemeralRange checks that FreePort gives a port that a
// listener can bind, outside the range the kernel hands out as source
// ports.
func TestFreePortBelowEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	for range 20 {
		port := FreePort(t)
		n, err := strconv.Atoi(port)
		if err != nil || n < freePortFloor || n >= low {
			t.Fatalf("FreePort = %q, want a port in [%d, %d)", port, freePortFloor, low)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			t.Fatalf("port %s from FreePort: %v", port, err)
		}
		l.Close()
	}
}
