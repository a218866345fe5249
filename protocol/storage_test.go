package protocol

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
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

// TestDirStorageSharedTopHandle checks that the directory handle uploads to
// the top directory share survives every way an upload ends, while those
// to a subdirectory use their own.
func TestDirStorageSharedTopHandle(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := OpenDirStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	store := func(name string) error {
		p, err := s.Create(name, false)
		if err != nil {
			return err
		}
		defer p.Abort()
		if _, err := p.Write([]byte(name)); err != nil {
			return err
		}
		return p.Commit()
	}
	steps := []struct {
		name    string
		do      func() error
		wantErr error
	}{
		{"store at the top", func() error { return store("a.data") }, nil},
		{"refused: exists", func() error { return store("a.data") }, ErrExists},
		{"aborted upload", func() error {
			p, err := s.Create("b.data", false)
			if err != nil {
				return err
			}
			return p.Abort()
		}, nil},
		{"store in a subdirectory", func() error { return store("sub/c.data") }, nil},
		{"overwrite at the top", func() error {
			p, err := s.Create("a.data", true)
			if err != nil {
				return err
			}
			if _, err := p.Write([]byte("new")); err != nil {
				return err
			}
			return p.Commit()
		}, nil},
		{"store at the top again", func() error { return store("d.data") }, nil},
	}
	for _, st := range steps {
		if err := st.do(); !errors.Is(err, st.wantErr) {
			t.Fatalf("%s: got %v, want %v", st.name, err, st.wantErr)
		}
	}
	for name, want := range map[string]string{"a.data": "new", "sub/c.data": "sub/c.data", "d.data": "d.data"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "b.data")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("aborted upload left b.data: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create("e.data", false); err == nil {
		t.Error("Create worked after Close")
	}
}
