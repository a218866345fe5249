package protocol

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"tentacle/internal/testharness"
)

// TestDirSyncGroupCommit holds one sync running while more callers arrive,
// then lets it end: the callers that waited must all be served by one
// shared sync, which starts after each of them arrived (a sync already
// running when a caller arrives may predate its rename, so it must not
// count for that caller).
func TestDirSyncGroupCommit(t *testing.T) {
	var ds dirSync
	ds.cond.L = &ds.mu
	release, running := make(chan struct{}), make(chan struct{})
	var syncs atomic.Int32
	do := func() error {
		if syncs.Add(1) == 1 {
			close(running)
			<-release // the first sync lasts until every caller waits
		}
		return nil
	}
	first := make(chan error, 1)
	go func() { first <- ds.sync(do) }()
	<-running

	const callers = 16
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			if err := ds.sync(do); err != nil {
				t.Error(err)
			}
		})
	}
	testharness.WaitFor(t, "every caller to wait for the next sync", func() bool {
		ds.mu.Lock()
		defer ds.mu.Unlock()
		return ds.waiting == callers
	})
	if n := syncs.Load(); n != 1 {
		t.Fatalf("%d syncs ran while the first was held, want 1", n)
	}
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := syncs.Load(); n != 2 {
		t.Fatalf("%d syncs for 1 + %d callers, want 2: the waiting callers must share one", n, callers)
	}
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

// openStorageWithSub opens a DirStorage on a fresh directory that holds a
// subdirectory "sub", as a filter's would, and closes it when t ends.
func openStorageWithSub(t *testing.T) (string, *DirStorage) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := OpenDirStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return dir, s
}

// storeFile uploads data under name the way the SEND handler does.
func storeFile(s *DirStorage, name, data string, overwrite bool) error {
	p, err := s.Create(name, overwrite)
	if err != nil {
		return err
	}
	defer p.Abort()
	if _, err := p.Write([]byte(data)); err != nil {
		return err
	}
	return p.Commit()
}

// TestDirStorageSharedTopHandle checks that the directory handle uploads to
// the top directory share survives every way an upload ends, while those
// to a subdirectory use their own.
func TestDirStorageSharedTopHandle(t *testing.T) {
	dir, s := openStorageWithSub(t)
	store := func(name string) error { return storeFile(s, name, name, false) }
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
		{"overwrite at the top", func() error { return storeFile(s, "a.data", "new", true) }, nil},
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

// TestDirStorageConcurrentUploads stores into two directories from many
// goroutines at once, every upload path mixed (new names, one contested
// name, overwrites, aborts, MV's removal), as a busy server does: each
// upload must end as its own rules say, and nothing but final names may
// remain.
func TestDirStorageConcurrentUploads(t *testing.T) {
	dir, s := openStorageWithSub(t)
	store := func(name, data string, overwrite bool) error { return storeFile(s, name, data, overwrite) }
	const workers = 32
	var (
		wg                  sync.WaitGroup
		contestedWins       atomic.Int32
		overwritten, failed atomic.Int32
	)
	for w := range workers {
		for _, d := range []string{"", "sub/"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				own := fmt.Sprintf("%sw%d.data", d, w)
				if err := store(own, own, false); err != nil {
					t.Errorf("%s: %v", own, err)
					failed.Add(1)
				}
				switch err := store(d+"contested.data", own, false); {
				case err == nil:
					contestedWins.Add(1)
				case !errors.Is(err, ErrExists):
					t.Errorf("contested: %v", err)
				}
				if err := store(d+"shared.data", own, true); err != nil {
					t.Errorf("overwrite: %v", err)
				} else {
					overwritten.Add(1)
				}
				p, err := s.Create(fmt.Sprintf("%saborted%d.data", d, w), w%2 == 0)
				if err != nil {
					t.Errorf("create: %v", err)
				} else if err := p.Abort(); err != nil {
					t.Errorf("abort: %v", err)
				}
				gone := fmt.Sprintf("%sgone%d.data", d, w)
				if err := store(gone, gone, false); err != nil {
					t.Errorf("%s: %v", gone, err)
				} else if err := s.Remove(gone); err != nil {
					t.Errorf("remove %s: %v", gone, err)
				}
			}()
		}
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.FailNow()
	}
	if got := contestedWins.Load(); got != 2 {
		t.Errorf("%d uploads of a contested name won, want one per directory", got)
	}
	if got := overwritten.Load(); got != 2*workers {
		t.Errorf("%d overwrites worked, want %d", got, 2*workers)
	}
	for _, d := range []string{"", "sub"} {
		entries, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		want := workers + 2 // own files, contested, shared
		if d == "" {
			want++ // the subdirectory
		}
		if len(entries) != want {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("%q holds %d entries, want %d: %v", d, len(entries), want, names)
		}
		for w := range workers {
			name := filepath.Join(d, fmt.Sprintf("w%d.data", w))
			if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != filepath.ToSlash(name) {
				t.Errorf("%s: %q, %v", name, got, err)
			}
		}
	}
}
