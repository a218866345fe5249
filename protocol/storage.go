package protocol

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
)

// Storage is where a server keeps files. Paths are slash-separated and
// relative to the storage's top ("name" or "dir/name"): the server has already
// checked the name and applied its filters.
type Storage interface {
	// Create starts a new file that nobody can see under its final name
	// until Commit. Without overwrite it fails at once with ErrExists
	// when a file is already stored under name, so that the client is
	// refused before it sends any data.
	Create(name string, overwrite bool) (PendingFile, error)
	// Open opens a stored file for reading; ErrNotExist when there is none.
	Open(name string) (fs.File, error)
	// Remove deletes a stored file (after MV has sent it).
	Remove(name string) error
	// List names the entries of a directory.
	List(dir string) ([]string, error)
}

// PendingFile is an upload in progress. Exactly one of Commit and Abort ends
// it; after a failed Commit, Abort still cleans up.
type PendingFile interface {
	io.Writer
	// Commit makes the data visible under the final name, durably. Unless
	// Create was told to overwrite, it fails with ErrExists when the name
	// was taken meanwhile, and never replaces the other file.
	Commit() error
	// Abort throws the data away; it is safe to call after Commit.
	Abort() error
}

// tempPrefix and tempSuffix frame the hidden names of files being received,
// so that they are never taken for agent data and leftovers of a crash can be
// recognised and removed at start.
const (
	tempPrefix = ".tentacle-"
	tempSuffix = ".tmp"
)

func isTempName(name string) bool {
	mid, ok := strings.CutPrefix(name, tempPrefix)
	if !ok {
		return false
	}
	mid, ok = strings.CutSuffix(mid, tempSuffix)
	if !ok || len(mid) != 16 {
		return false
	}
	_, err := hex.DecodeString(mid)
	return err == nil
}

func tempName() string {
	var b [8]byte
	rand.Read(b[:])
	return tempPrefix + hex.EncodeToString(b[:]) + tempSuffix
}

// DirStorage keeps files in a directory of the local file system.
//
// Every access goes through an os.Root, so no name, filter or symbolic link
// can reach outside the directory. An upload is written to a file that has
// no name yet (O_TMPFILE, where the file system supports it) or else to a
// hidden temporary file in its target directory; it is synced, then linked
// (or renamed, when overwriting) into place, and the directory is synced: a
// reader of the directory sees a file complete or not at all, and a crash
// never leaves a partial file under a final name.
type DirStorage struct {
	root *os.Root
	// top is the storage directory itself, opened once: most uploads go
	// there, and opening a handle for each would cost seven system calls
	// (the runtime tries, and fails, to poll a directory). It is the
	// directory the root holds, so it is as safe as opening "." each time.
	top *os.File

	mu   sync.Mutex
	dirs map[string]*dirState // per directory, relative to the root

	// NoSync skips the fsync calls. It is for benchmarks and tests on
	// throwaway directories only: it gives up durability across a crash.
	NoSync bool
}

// OpenDirStorage opens dir as a DirStorage.
func OpenDirStorage(dir string) (*DirStorage, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open storage directory: %w", err)
	}
	top, err := root.Open(".")
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("open storage directory: %w", err)
	}
	return &DirStorage{root: root, top: top}, nil
}

// Close releases the directory.
func (s *DirStorage) Close() error {
	s.top.Close()
	return s.root.Close()
}

// RemoveTemporaryFiles deletes the temporary files that uploads cut short by
// a crash left behind, anywhere below the directory, and returns their
// paths. Run it at start, before serving: a live upload's file would go too.
func (s *DirStorage) RemoveTemporaryFiles() ([]string, error) {
	var removed []string
	err := fs.WalkDir(s.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return nil // an unreadable subdirectory is not ours to judge
		}
		if d.Type().IsRegular() && isTempName(d.Name()) {
			if err := s.root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove leftover %q: %w", p, err)
			}
			removed = append(removed, p)
		}
		return nil
	})
	return removed, err
}

// CheckWritable proves that files can be created in the directory, so that
// a server started with the wrong owner fails at start with a clear error
// rather than refusing every upload.
func (s *DirStorage) CheckWritable() error {
	f, err := s.root.OpenFile(tempName(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	name := path.Base(f.Name())
	f.Close()
	return s.root.Remove(name)
}

// Create implements Storage. The upload keeps its directory open, inside
// the root, until it ends: every later step names a plain file in that
// handle, which is both safe (nothing can lead outside) and cheaper than
// resolving the path again at each step (see openDir).
func (s *DirStorage) Create(name string, overwrite bool) (PendingFile, error) {
	dirName, base := path.Dir(name), path.Base(name)
	dir, err := s.openDir(dirName)
	if err != nil {
		return nil, fmt.Errorf("create %q: %w", name, err)
	}
	p := &pendingFile{s: s, dir: dir, dirName: dirName, base: base, name: name, overwrite: overwrite, state: s.dirState(dirName)}
	if !overwrite {
		p.state.entries.RLock()
		exists, err := regularFileIn(dir, base)
		p.state.entries.RUnlock()
		if err == nil && exists {
			err = ErrExists
		}
		if err != nil {
			s.closeDir(dir)
			return nil, fmt.Errorf("create %q: %w", name, err)
		}
		// Where the file system can, the data goes to a file with no
		// name at all until it is linked in: nothing to clean after a
		// crash, and the directory is changed once instead of three times.
		if p.f, err = createAnonymousIn(dir); err == nil {
			p.anonymous = true
			return p, nil
		}
	}
	p.tmp = tempName()
	p.state.entries.Lock()
	p.f, err = createIn(dir, p.tmp)
	p.state.entries.Unlock()
	if err != nil {
		s.closeDir(dir)
		return nil, fmt.Errorf("create %q: %w", name, err)
	}
	return p, nil
}

// Open implements Storage.
func (s *DirStorage) Open(name string) (fs.File, error) {
	f, err := s.root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open %q: %w", name, ErrNotExist)
		}
		return nil, fmt.Errorf("open %q: %w", name, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %q: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open %q: not a regular file: %w", name, ErrNotExist)
	}
	return f, nil
}

// Exists reports whether a regular file is stored under name (like the
// reference's check, other kinds of entry do not count).
func (s *DirStorage) Exists(name string) (bool, error) {
	st, err := s.root.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("stat %q: %w", name, err)
	}
	return st.Mode().IsRegular(), nil
}

// Remove implements Storage.
func (s *DirStorage) Remove(name string) error {
	dir := path.Dir(name)
	st := s.dirState(dir)
	st.entries.Lock()
	err := s.root.Remove(name)
	st.entries.Unlock()
	if err != nil {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	return s.syncDir(dir, st)
}

// List implements Storage. The server's own temporary files are left out.
func (s *DirStorage) List(dir string) ([]string, error) {
	if dir == "" {
		dir = "."
	}
	entries, err := fs.ReadDir(s.root.FS(), dir)
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", dir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !isTempName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// syncDir opens dir to sync it; st is its state (see syncDirWith).
func (s *DirStorage) syncDir(dir string, st *dirState) error {
	if s.NoSync {
		return nil
	}
	d, err := s.openDir(dir)
	if err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	defer s.closeDir(d)
	return s.syncDirWith(dir, st, d)
}

// openDir opens dir, relative to the root, for calls relative to it. The
// top directory's handle is shared (see top); a subdirectory, a filter's,
// gets a handle of its own, so that one replaced meanwhile is looked up
// again. closeDir releases what openDir returned.
func (s *DirStorage) openDir(dir string) (*os.File, error) {
	if dir == "." {
		return s.top, nil
	}
	return s.root.Open(dir)
}

// closeDir closes a handle from openDir unless it is the shared one.
func (s *DirStorage) closeDir(d *os.File) {
	if d != s.top {
		d.Close()
	}
}

// syncDirWith makes the entries of dir durable, through its open handle d;
// st is dir's state, which the caller already holds.
// Concurrent callers share fsyncs (a group commit): one that arrives while
// a sync of the directory runs waits for the next one, which starts after
// its rename and so covers it; that next sync serves everyone who waited.
// With many agents writing to one directory this turns one directory sync
// per file into a few per batch, without weakening any file's guarantee.
func (s *DirStorage) syncDirWith(dir string, st *dirState, d *os.File) error {
	if s.NoSync {
		return nil
	}
	if err := st.sync.sync(d.Sync); err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	return nil
}

// dirState is what the operations on one directory share.
type dirState struct {
	// entries is held to change the directory's entries (link, rename,
	// create or remove a name), and read-held to look a name up. The
	// kernel takes the directory's own lock for the same calls, so this
	// orders nothing that was not ordered already: it moves the waiting
	// out of the kernel. There, each waiting upload is a thread that
	// spins and then sleeps on the lock; here it is a goroutine that
	// parks. With 64 uploads at once into one directory of a journaled
	// ext4, the kernel's waiting cost a tenth of the server's CPU, and
	// moving it here stored 14-17% more files per second (BENCHMARKS.md).
	entries sync.RWMutex
	sync    dirSync // group commits of the directory's fsyncs
}

// dirState returns the shared state of dir (relative to the root). The
// states live as long as the storage: there is one per directory that
// uploads have gone to, as many as the filters can name.
func (s *DirStorage) dirState(dir string) *dirState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.dirs[dir]
	if st == nil {
		if s.dirs == nil {
			s.dirs = make(map[string]*dirState)
		}
		st = &dirState{}
		st.sync.cond.L = &st.sync.mu
		s.dirs[dir] = st
	}
	return st
}

// dirSync serialises the fsyncs of one directory and lets waiting callers
// share the next one.
type dirSync struct {
	mu        sync.Mutex
	cond      sync.Cond
	running   bool
	started   uint64 // syncs begun
	finished  uint64 // the last sync that ended
	failedSeq uint64 // the last sync that failed, and how
	failure   error
}

// sync runs do, or waits for a run of it that starts after this call.
func (d *dirSync) sync(do func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	// A sync already running may have started before the caller's rename:
	// only the next one to start is sure to cover it.
	target := d.started + 1
	for d.finished < target {
		if d.running {
			d.cond.Wait()
			continue
		}
		d.running = true
		d.started++
		n := d.started
		d.mu.Unlock()
		err := do()
		d.mu.Lock()
		d.running = false
		d.finished = n
		if err != nil {
			d.failedSeq, d.failure = n, err
		}
		d.cond.Broadcast()
	}
	if d.failedSeq >= target {
		return d.failure
	}
	return nil
}

type pendingFile struct {
	s       *DirStorage
	f       *os.File  // the temporary file
	dir     *os.File  // its directory, opened inside the root
	dirName string    // that directory, relative to the root
	state   *dirState // that directory's shared state
	tmp     string    // the temporary file's name in dir ("" when anonymous)
	// overwrite lets Commit replace a file stored under name meanwhile.
	overwrite bool
	// anonymous is true for a file created without a name (O_TMPFILE):
	// Commit links it in, and refuses if the name was taken meanwhile.
	anonymous bool
	base      string // the final name in dir
	name      string // the final name, relative to the root
	done      bool
}

func (p *pendingFile) Write(b []byte) (int, error) { return p.f.Write(b) }

func (p *pendingFile) Commit() error {
	if p.done {
		return fmt.Errorf("commit %q: already ended", p.name)
	}
	if !p.s.NoSync {
		if err := p.f.Sync(); err != nil {
			return fmt.Errorf("sync %q: %w", p.name, err)
		}
	}
	if p.anonymous {
		p.state.entries.Lock()
		err := linkAnonymousIn(p.f, p.dir, p.base)
		p.state.entries.Unlock()
		if errors.Is(err, fs.ErrExist) {
			err = fmt.Errorf("commit %q: %w", p.name, ErrExists)
		} else if err != nil {
			err = fmt.Errorf("link into %q: %w", p.name, err)
		}
		if cerr := p.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %q: %w", p.name, cerr)
		}
		if err != nil {
			return err
		}
	} else {
		if err := p.f.Close(); err != nil {
			return fmt.Errorf("close %q: %w", p.name, err)
		}
		p.state.entries.Lock()
		err := p.publish()
		p.state.entries.Unlock()
		if err != nil {
			return err
		}
	}
	p.done = true
	defer p.s.closeDir(p.dir)
	return p.s.syncDirWith(p.dirName, p.state, p.dir)
}

// publish gives the data its final name.
func (p *pendingFile) publish() error {
	if p.overwrite {
		if err := renameIn(p.dir, p.tmp, p.base); err != nil {
			return fmt.Errorf("rename into %q: %w", p.name, err)
		}
		return nil
	}
	// A rename that refuses to replace (or a hard link) fails when the
	// name exists, so of two racing uploads of one name exactly one wins
	// and the other is refused.
	err := renameNoReplace(p.dir, p.tmp, p.base)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("commit %q: %w", p.name, ErrExists)
	case !errors.Is(err, errors.ErrUnsupported):
		return fmt.Errorf("rename into %q: %w", p.name, err)
	}
	tmpPath := path.Join(p.dirName, p.tmp)
	if err := p.s.root.Link(tmpPath, p.name); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("commit %q: %w", p.name, ErrExists)
		}
		// Some file systems have no hard links either: fall back to a
		// check and a rename, which only loses the race guarantee.
		if exists, serr := p.s.Exists(p.name); serr != nil || exists {
			if exists {
				return fmt.Errorf("commit %q: %w", p.name, ErrExists)
			}
			return fmt.Errorf("link into %q: %w", p.name, err)
		}
		if err := renameIn(p.dir, p.tmp, p.base); err != nil {
			return fmt.Errorf("rename into %q: %w", p.name, err)
		}
		return nil
	}
	if err := removeIn(p.dir, p.tmp); err != nil {
		return fmt.Errorf("remove temporary file of %q: %w", p.name, err)
	}
	return nil
}

func (p *pendingFile) Abort() error {
	if p.done {
		return nil
	}
	p.done = true
	defer p.s.closeDir(p.dir)
	p.f.Close()
	if p.anonymous {
		return nil // a file without a name vanishes when closed
	}
	p.state.entries.Lock()
	err := removeIn(p.dir, p.tmp)
	p.state.entries.Unlock()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove temporary file of %q: %w", p.name, err)
	}
	return nil
}
