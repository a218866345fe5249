package protocol

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// TestDirSyncGroupCommit checks the group commit's one promise: every
// caller returns only after a sync that began after it called, and callers
// that overlap share syncs.
func TestDirSyncGroupCommit(t *testing.T) {
	var ds dirSync
	ds.cond.L = &ds.mu
	var clock atomic.Int64
	var mu sync.Mutex
	var finishedStarts []int64 // start times of completed syncs
	do := func() error {
		start := clock.Add(1)
		for range 1000 { // some work, so that callers pile up
			clock.Load()
		}
		mu.Lock()
		finishedStarts = append(finishedStarts, start)
		mu.Unlock()
		return nil
	}
	const callers = 64
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			called := clock.Add(1)
			if err := ds.sync(do); err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, s := range finishedStarts {
				if s > called {
					return
				}
			}
			t.Errorf("caller at %d returned with no sync started after it (%v)", called, finishedStarts)
		}()
	}
	wg.Wait()
	if len(finishedStarts) > callers {
		t.Fatalf("%d syncs for %d callers", len(finishedStarts), callers)
	}
	t.Logf("%d callers shared %d syncs", callers, len(finishedStarts))
}

func TestDirSyncReportsFailure(t *testing.T) {
	var ds dirSync
	ds.cond.L = &ds.mu
	boom := errors.New("disk gone")
	if err := ds.sync(func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if err := ds.sync(func() error { return nil }); err != nil {
		t.Fatalf("a later good sync reported %v", err)
	}
}
