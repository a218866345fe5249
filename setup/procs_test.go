package setup

import (
	"runtime"
	"testing"
)

func TestRaiseProcs(t *testing.T) {
	orig := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(orig) })
	for _, tc := range []struct {
		name      string
		before    int
		setByUser string
		want      int
	}{
		{"raised from the CPU count", 2, "", MinProcs},
		{"more than the minimum is kept", MinProcs + 8, "", MinProcs + 8},
		{"the administrator's choice is kept", 2, "2", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runtime.GOMAXPROCS(tc.before)
			RaiseProcs(tc.setByUser)
			if got := runtime.GOMAXPROCS(0); got != tc.want {
				t.Errorf("GOMAXPROCS %d, want %d", got, tc.want)
			}
		})
	}
}
