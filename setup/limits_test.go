package setup

import (
	"testing"

	"tentacle/options"
)

func TestConnectionsFor(t *testing.T) {
	for _, c := range []struct {
		limit uint64
		want  int
	}{
		{0, options.DefaultMaxConnections},          // unknown
		{^uint64(0), options.DefaultMaxConnections}, // RLIM_INFINITY
		{1 << 20, options.DefaultMaxConnections},
		{1024, (1024 - reservedFDs) / fdsPerConnection},
		{64, (64 - reservedFDs) / fdsPerConnection},
		{10, 1}, // never 0, which would mean no bound at all
	} {
		if got := connectionsFor(c.limit); got != c.want {
			t.Errorf("connectionsFor(%d) = %d, want %d", c.limit, got, c.want)
		}
	}
}

func TestMaxConnectionsKeepsAnExplicitValue(t *testing.T) {
	for _, given := range []int{1, 10, 100000} {
		if got := MaxConnections(given); got != given {
			t.Errorf("MaxConnections(%d) = %d", given, got)
		}
	}
	if got := MaxConnections(0); got < 1 || got > options.DefaultMaxConnections {
		t.Errorf("MaxConnections(0) = %d, want 1..%d", got, options.DefaultMaxConnections)
	}
}
