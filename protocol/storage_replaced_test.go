package protocol

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// replaceDir replaces the directory at p the two ways operators clear a
// backlog: "rm -rf p && mkdir p", or "mv p p.old && mkdir p". It returns
// the old directory's new path ("" when it was deleted).
func replaceDir(t *testing.T, p, how string) string {
	t.Helper()
	old := ""
	switch how {
	case "deleted":
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	case "renamed":
		old = p + ".old"
		if err := os.Rename(p, old); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("replace %q?", how)
	}
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return old
}

// countReopens counts the storage's calls of OnReopen.
func countReopens(s *DirStorage) *atomic.Int32 {
	var n atomic.Int32
	s.OnReopen = func(string) { n.Add(1) }
	return &n
}

// TestDirStorageFollowsReplacedDirectory replaces the storage directory,
// or a filter's subdirectory, between uploads and under an upload in
// flight (created before, committed after): the files land in the new
// directory, nothing lands in the old one, and the storage says it
// reopened its path once when that was the directory replaced.
func TestDirStorageFollowsReplacedDirectory(t *testing.T) {
	for _, sub := range []string{".", "sub"} {
		for _, how := range []string{"deleted", "renamed"} {
			for _, overwrite := range []bool{false, true} { // without a name (O_TMPFILE), or a named temporary file
				t.Run(fmt.Sprintf("%s/%s/overwrite=%v", sub, how, overwrite), func(t *testing.T) {
					top, s := openStorageWithSub(t)
					reopens := countReopens(s)
					dir := filepath.Join(top, sub)
					name := func(base string) string { return filepath.ToSlash(filepath.Join(sub, base)) }
					if err := storeFile(s, name("before.data"), "before", overwrite); err != nil {
						t.Fatal(err)
					}

					inFlight, err := s.Create(name("flight.data"), overwrite)
					if err != nil {
						t.Fatal(err)
					}
					defer inFlight.Abort()
					if _, err := inFlight.Write([]byte("flight")); err != nil {
						t.Fatal(err)
					}
					old := replaceDir(t, dir, how)
					if sub != "." {
						// The top directory stays: the filter's is new.
						if how == "renamed" {
							old = filepath.Join(top, "sub.old")
						}
					}

					// A new upload goes to the new directory, while the
					// one in flight still holds the old.
					if err := storeFile(s, name("after.data"), "after", overwrite); err != nil {
						t.Fatalf("upload after the replacement: %v", err)
					}
					err = inFlight.Commit()
					lost := how == "deleted" && overwrite // its named temporary file went with the directory
					switch {
					case lost && err == nil:
						t.Fatal("Commit of a file deleted with its directory reported success")
					case lost && errors.Is(err, ErrExists):
						t.Fatalf("Commit of a deleted file: %v, want a storage error", err)
					case !lost && err != nil:
						t.Fatalf("Commit across the replacement: %v", err)
					}
					if err := inFlight.Abort(); err != nil {
						t.Errorf("Abort after Commit: %v", err)
					}

					want := []string{"after.data", "flight.data"}
					if lost {
						want = want[:1]
					}
					if got := entries(t, dir); !slices.Equal(got, want) {
						t.Errorf("new directory holds %v, want %v", got, want)
					}
					for _, f := range want {
						if got := readFile(t, filepath.Join(dir, f)); got+".data" != f {
							t.Errorf("%s holds %q", f, got)
						}
					}
					if old != "" {
						want := []string{"before.data"}
						if sub == "." {
							want = append(want, "sub")
						}
						if got := entries(t, old); !slices.Equal(got, want) {
							t.Errorf("old directory holds %v, want %v: an upload landed there, or a temporary file stayed", got, want)
						}
					}
					wantReopens := int32(0)
					if sub == "." {
						wantReopens = 1
					}
					if got := reopens.Load(); got != wantReopens {
						t.Errorf("OnReopen called %d times, want %d", got, wantReopens)
					}
				})
			}
		}
	}
}

// TestDirStorageMissingDirectory removes the storage directory, or a
// filter's, without making it again: uploads there are refused with an
// error, other calls too, and nothing breaks; once the directory is back,
// uploads work again.
func TestDirStorageMissingDirectory(t *testing.T) {
	for _, sub := range []string{".", "sub"} {
		t.Run(sub, func(t *testing.T) {
			top, s := openStorageWithSub(t)
			dir := filepath.Join(top, sub)
			name := filepath.ToSlash(filepath.Join(sub, "a.data"))
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := storeFile(s, name, "a", false); err == nil || errors.Is(err, ErrExists) {
				t.Fatalf("upload into a missing directory: %v, want a storage error", err)
			}
			if _, err := s.Open(name); err == nil {
				t.Error("Open in a missing directory worked")
			}
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := storeFile(s, name, "a", false); err != nil {
				t.Fatalf("upload once the directory is back: %v", err)
			}
			if got := readFile(t, filepath.Join(dir, "a.data")); got != "a" {
				t.Errorf("stored %q", got)
			}
			f, err := s.Open(name)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			f.Close()
		})
	}
}

// TestDirStorageCommitIntoMissingDirectory renames the storage directory
// away under an upload in flight and makes no new one: Commit refuses, and
// the file lands nowhere, not in the renamed directory.
func TestDirStorageCommitIntoMissingDirectory(t *testing.T) {
	top, s := openStorageWithSub(t)
	p, err := s.Create("a.data", false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	p.Write([]byte("a"))
	if err := os.Rename(top, top+".old"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top + ".old") })
	if err := p.Commit(); err == nil || errors.Is(err, ErrExists) {
		t.Fatalf("Commit with the path gone: %v, want a storage error", err)
	}
	if err := p.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, top+".old"); !slices.Equal(got, []string{"sub"}) {
		t.Errorf("renamed directory holds %v", got)
	}
}

// TestDirStorageReplacedUnderLoad replaces the storage directory while
// many uploads run: the uploads that started before all commit (into the
// new directory), the storage reopens its path once, and the old
// directory's handles stay open until the last upload that holds them ends.
func TestDirStorageReplacedUnderLoad(t *testing.T) {
	top, s := openStorageWithSub(t)
	reopens := countReopens(s)
	first := s.cur.Load()
	const uploads = 32
	var before []PendingFile
	for i := range uploads {
		p, err := s.Create(fmt.Sprintf("early%d.data", i), i%2 == 0)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Abort()
		before = append(before, p)
	}
	old := replaceDir(t, top, "renamed")
	t.Cleanup(func() { os.RemoveAll(old) })
	var wg sync.WaitGroup
	for i := range uploads {
		wg.Go(func() {
			if err := storeFile(s, fmt.Sprintf("late%d.data", i), "late", i%2 == 0); err != nil {
				t.Errorf("late upload %d: %v", i, err)
			}
		})
		wg.Go(func() {
			p := before[i]
			if _, err := p.Write([]byte("early")); err != nil {
				t.Errorf("early upload %d: %v", i, err)
			} else if err := p.Commit(); err != nil {
				t.Errorf("early upload %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if got := len(entries(t, top)); got != 2*uploads {
		t.Errorf("new directory holds %d files, want %d", got, 2*uploads)
	}
	if got := entries(t, old); !slices.Equal(got, []string{"sub"}) {
		t.Errorf("old directory holds %v", got)
	}
	if got := reopens.Load(); got != 1 {
		t.Errorf("OnReopen called %d times, want 1", got)
	}
	if n := first.refs.Load(); n != 0 {
		t.Errorf("the replaced directory still has %d references", n)
	}
	if _, err := first.top.Stat(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("the replaced directory's handle is still open: %v", err)
	}
}
