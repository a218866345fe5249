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
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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
//
// The storage follows its path, not the directory it first opened.
// Operators clear a backlog with "mv data_in data_in.old && mkdir data_in"
// or "rm -rf data_in && mkdir data_in", and expect the next files in the new
// directory: neither refused until a restart nor added to the old backlog.
// So each upload compares what the path names with the directory held (a
// stat) when it starts and again when it commits, and the storage reopens
// the path when they differ (see OnReopen). An upload that began in the old
// directory is moved into the new one at Commit, which works within one
// file system and is refused otherwise: it never lands where the path no
// longer leads. Filter subdirectories are looked up by path for each upload
// and checked again at Commit the same way. A held directory that was
// removed may have a successor with its inode number (ext4 reuses them):
// the ENOENT that a call in it then gets makes the upload look again. A
// path that names nothing refuses uploads until it is made again.
type DirStorage struct {
	// root is the storage directory's path, made absolute: what the
	// storage follows. Its Name method answers as an os.Root's would.
	root rootPath
	// cur is the current opening of the path; nil after Close. Uploads
	// hold a reference to the opening they work in, so that one replaced
	// under them stays open until the last of them ends.
	cur atomic.Pointer[openRoot]
	// reopening serialises reopens, so that the uploads that notice a
	// replacement together open the new directory once.
	reopening sync.Mutex

	mu   sync.Mutex
	dirs map[dirKey]*dirState // per subdirectory, by identity (dirID.key)

	// NoSync skips the fsync calls. It is for benchmarks and tests on
	// throwaway directories only: it gives up durability across a crash.
	NoSync bool

	// OnReopen, when set, is called each time the storage opens its path
	// again because the directory there is no longer the one it held (an
	// operator replaced it), with the path: a daemon logs it, so that the
	// administrator sees that the replacement was noticed. It runs on the
	// goroutine of the upload that noticed, while other uploads that
	// noticed too wait for it: it must not block. Set it before use.
	OnReopen func(dir string)
}

// rootPath is a storage directory's path.
type rootPath string

// Name returns the path, as os.Root.Name does for an opened directory.
func (p rootPath) Name() string { return string(p) }

// openRoot is one opening of the storage directory.
type openRoot struct {
	root *os.Root
	// top is the storage directory itself, opened once: most uploads go
	// there, and opening a handle for each would cost seven system calls
	// (the runtime tries, and fails, to poll a directory). It is the
	// directory the root holds, so it is as safe as opening "." each time.
	top   *os.File
	id    dirID     // which directory top is
	state *dirState // top's state
	// refs counts one while this is the storage's current opening, and one
	// for each upload or call that holds it; the last release closes it.
	refs atomic.Int64
}

// openRootAt opens dir, with the one reference of the current opening.
func openRootAt(dir string) (*openRoot, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	top, err := root.Open(".")
	if err == nil {
		var id dirID
		if id, err = fileID(top); err == nil {
			r := &openRoot{root: root, top: top, id: id, state: newDirState()}
			r.refs.Store(1)
			return r, nil
		}
		top.Close()
	}
	root.Close()
	return nil, err
}

// release drops a reference and closes the directory with the last one.
func (r *openRoot) release() error {
	if r.refs.Add(-1) != 0 {
		return nil
	}
	r.top.Close()
	return r.root.Close()
}

// errStorageClosed refuses work after Close.
var errStorageClosed = errors.New("storage closed")

// OpenDirStorage opens dir as a DirStorage.
func OpenDirStorage(dir string) (*DirStorage, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open storage directory: %w", err)
	}
	r, err := openRootAt(abs)
	if err != nil {
		return nil, fmt.Errorf("open storage directory: %w", err)
	}
	s := &DirStorage{root: rootPath(abs)}
	s.cur.Store(r)
	return s, nil
}

// Close releases the directory. Uploads in flight keep what they hold
// until they end; new calls fail.
func (s *DirStorage) Close() error {
	r := s.cur.Swap(nil)
	if r == nil {
		return nil
	}
	return r.release()
}

// hold returns the current opening with a reference for the caller, or nil
// after Close. It takes no lock: an opening's count only reaches zero once
// it is no longer current, and is never raised from zero.
func (s *DirStorage) hold() *openRoot {
	for {
		r := s.cur.Load()
		if r == nil {
			return nil
		}
		for n := r.refs.Load(); n > 0; n = r.refs.Load() {
			if r.refs.CompareAndSwap(n, n+1) {
				return r
			}
		}
		// Replaced and released meanwhile: cur has moved on.
	}
}

// holdRoot returns, with a reference, the opening of the directory that the
// storage path names now, reopening the path when that is not the directory
// held. recheck also takes a held directory that was removed for replaced:
// the path may name a new directory that reuses its inode number.
func (s *DirStorage) holdRoot(recheck bool) (*openRoot, error) {
	id, err := pathID(s.root.Name())
	if err != nil {
		return nil, fmt.Errorf("storage directory: %w", err)
	}
	r := s.hold()
	if r == nil {
		return nil, errStorageClosed
	}
	if r.id.same(id) && !(recheck && removedDir(r.top)) {
		return r, nil
	}
	defer r.release()
	return s.reopen(r)
}

// reopen makes a new opening of the path the current one in place of old,
// unless another caller did already, and returns the current opening with
// a reference for the caller. old stays open for those that hold it.
func (s *DirStorage) reopen(old *openRoot) (*openRoot, error) {
	s.reopening.Lock()
	defer s.reopening.Unlock()
	if s.cur.Load() != old {
		if r := s.hold(); r != nil {
			return r, nil
		}
		return nil, errStorageClosed
	}
	r, err := openRootAt(s.root.Name())
	if err != nil {
		return nil, fmt.Errorf("reopen storage directory: %w", err)
	}
	r.refs.Add(1) // the caller's
	if !s.cur.CompareAndSwap(old, r) {
		// Closed meanwhile.
		r.release()
		r.release()
		return nil, errStorageClosed
	}
	old.release()
	if s.OnReopen != nil {
		s.OnReopen(s.root.Name())
	}
	return r, nil
}

// RemoveTemporaryFiles deletes the temporary files that uploads cut short by
// a crash left behind, anywhere below the directory, and returns their
// paths. Run it at start, before serving. On Linux a file that an upload
// in progress holds locked, in another server sharing the directory, is
// left alone; elsewhere it would go too.
func (s *DirStorage) RemoveTemporaryFiles() ([]string, error) {
	r, err := s.holdRoot(false)
	if err != nil {
		return nil, err
	}
	defer r.release()
	var removed []string
	err = fs.WalkDir(r.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return nil // an unreadable subdirectory is not ours to judge
		}
		if !d.Type().IsRegular() || !isTempName(d.Name()) {
			return nil
		}
		// Hold the lock while removing, so that the file is surely
		// nobody's: a crash released it.
		if f, err := r.root.OpenFile(p, os.O_RDWR, 0); err == nil {
			defer f.Close()
			if inUse(f) {
				return nil
			}
		}
		if err := r.root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove leftover %q: %w", p, err)
		}
		removed = append(removed, p)
		return nil
	})
	return removed, err
}

// CheckWritable proves that files can be created in the directory, so that
// a server started with the wrong owner fails at start with a clear error
// rather than refusing every upload. It makes and drops the named
// temporary file of an upload, on the upload's own path: the file is locked
// while it exists, so that another server starting on the same storage
// does not take it for a crash's leftover (see createIn and Abort).
func (s *DirStorage) CheckWritable() error {
	p, err := s.create(".", "", "the write check", true, false)
	if err != nil {
		return err
	}
	return p.Abort()
}

// Create implements Storage. The upload keeps its directory open, inside
// the root, until it ends: every later step names a plain file in that
// handle, which is both safe (nothing can lead outside) and cheaper than
// resolving the path again at each step (see holdDir).
func (s *DirStorage) Create(name string, overwrite bool) (PendingFile, error) {
	dirName, base := path.Dir(name), path.Base(name)
	p, err := s.create(dirName, base, name, overwrite, false)
	if errors.Is(err, fs.ErrNotExist) {
		// The directory went away under the handle, and its path may
		// name a new one with the same identity: look again, once.
		p, err = s.create(dirName, base, name, overwrite, true)
	}
	if err != nil {
		return nil, fmt.Errorf("create %q: %w", name, err)
	}
	return p, nil
}

func (s *DirStorage) create(dirName, base, name string, overwrite, recheck bool) (*pendingFile, error) {
	dir, err := s.holdDir(dirName, recheck)
	if err != nil {
		return nil, err
	}
	p := &pendingFile{s: s, dir: dir, dirName: dirName, base: base, name: name, overwrite: overwrite}
	if !overwrite {
		dir.state.entries.RLock()
		exists, err := regularFileIn(dir.f, base)
		dir.state.entries.RUnlock()
		if err == nil && exists {
			err = ErrExists
		}
		if err != nil {
			s.releaseDir(dir)
			return nil, err
		}
		// Where the file system can, the data goes to a file with no
		// name at all until it is linked in: nothing to clean after a
		// crash, and the directory is changed once instead of three times.
		if p.f, err = createAnonymousIn(dir.f); err == nil {
			p.anonymous = true
			return p, nil
		}
	}
	p.tmp = tempName()
	dir.state.entries.Lock()
	p.f, err = createIn(dir.f, p.tmp)
	dir.state.entries.Unlock()
	if err != nil {
		s.releaseDir(dir)
		return nil, err
	}
	return p, nil
}

// Open implements Storage.
func (s *DirStorage) Open(name string) (fs.File, error) {
	r, err := s.holdRoot(false)
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", name, err)
	}
	defer r.release()
	f, err := r.root.Open(name)
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
	r, err := s.holdRoot(false)
	if err != nil {
		return false, fmt.Errorf("stat %q: %w", name, err)
	}
	defer r.release()
	st, err := r.root.Stat(name)
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
	dirName := path.Dir(name)
	dir, err := s.holdDir(dirName, false)
	if err != nil {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	defer s.releaseDir(dir)
	dir.state.entries.Lock()
	err = removeIn(dir.f, path.Base(name))
	dir.state.entries.Unlock()
	if err != nil {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	return s.syncDirWith(dirName, dir.state, dir.f)
}

// List implements Storage. The server's own temporary files are left out.
func (s *DirStorage) List(dir string) ([]string, error) {
	if dir == "" {
		dir = "."
	}
	r, err := s.holdRoot(false)
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", dir, err)
	}
	defer r.release()
	entries, err := fs.ReadDir(r.root.FS(), dir)
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

// heldDir is a directory that an upload or a removal works in, and what
// keeps it open.
type heldDir struct {
	r     *openRoot // the opening it was found through, with a reference
	f     *os.File  // the directory: r.top, or a subdirectory's own handle
	id    dirID     // which directory f is
	state *dirState // its shared state
}

// holdDir opens dir, relative to what the storage path names now (see
// holdRoot), for calls relative to it; releaseDir undoes it. The top
// directory's handle is shared (see openRoot.top); a subdirectory, a filter's, gets
// a handle of its own, so that one replaced meanwhile is looked up again.
func (s *DirStorage) holdDir(dir string, recheck bool) (heldDir, error) {
	r, err := s.holdRoot(recheck)
	if err != nil {
		return heldDir{}, err
	}
	if dir == "." {
		return heldDir{r: r, f: r.top, id: r.id, state: r.state}, nil
	}
	f, err := r.root.Open(dir)
	if err == nil {
		var id dirID
		if id, err = fileID(f); err == nil {
			return heldDir{r: r, f: f, id: id, state: s.subdirState(id)}, nil
		}
		f.Close()
	}
	r.release()
	return heldDir{}, err
}

// releaseDir releases what holdDir returned.
func (s *DirStorage) releaseDir(d heldDir) {
	if d.f != d.r.top {
		d.f.Close()
	}
	d.r.release()
}

// currentDir returns the directory that dir (relative to the storage path)
// names now: held itself while the storage path, and dir in it, still name
// the directories it holds, which costs a stat or two; else a new hold
// (see holdDir), and fresh says that the caller must release it.
func (s *DirStorage) currentDir(held heldDir, dir string) (now heldDir, fresh bool, err error) {
	id, err := pathID(s.root.Name())
	if err != nil {
		return heldDir{}, false, fmt.Errorf("storage directory: %w", err)
	}
	if id.same(held.r.id) && s.cur.Load() == held.r {
		if dir == "." {
			return held, false, nil
		}
		if sub, err := idIn(held.r.top, dir); err == nil && sub.same(held.id) {
			return held, false, nil
		}
	}
	now, err = s.holdDir(dir, false)
	return now, err == nil, err
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
	// parks, which is cheaper when many uploads share a directory
	// (BENCHMARKS.md, "the directory lock").
	entries sync.RWMutex
	sync    dirSync // group commits of the directory's fsyncs
}

// newDirState returns the state of a directory that nothing used yet.
func newDirState() *dirState {
	st := &dirState{}
	st.sync.cond.L = &st.sync.mu
	return st
}

// subdirState returns the shared state of the subdirectory id. States are
// filed by the directory's identity, not its path: uploads that hold a
// replaced directory and its successor must not share one group commit,
// as a sync of the old directory would not cover a link into the new. The
// states live as long as the storage: there is one per directory that
// uploads have gone to, as many as the filters can name, and one more each
// time an operator replaces one. The top directory's is its opening's.
func (s *DirStorage) subdirState(id dirID) *dirState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.dirs[id.key()]
	if st == nil {
		if s.dirs == nil {
			s.dirs = make(map[dirKey]*dirState)
		}
		st = newDirState()
		s.dirs[id.key()] = st
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
	waiting   int // callers waiting for a sync, which tests observe
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
			d.waiting++
			d.cond.Wait()
			d.waiting--
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
	f       *os.File // the temporary file
	dir     heldDir  // its directory, opened inside the root
	dirName string   // that directory, relative to the root
	tmp     string   // the temporary file's name in dir ("" when anonymous)
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

// File is the temporary file that Write writes to: the server splices
// uploads into it (see FileBacked).
func (p *pendingFile) File() *os.File { return p.f }

// Commit puts the file in the directory its path names now: usually the
// one it was created in, but if an operator replaced that directory
// meanwhile, the new one (see DirStorage).
func (p *pendingFile) Commit() error {
	if p.done {
		return fmt.Errorf("commit %q: already ended", p.name)
	}
	if !p.s.NoSync {
		if err := p.f.Sync(); err != nil {
			return fmt.Errorf("sync %q: %w", p.name, err)
		}
	}
	to, fresh, err := p.s.currentDir(p.dir, p.dirName)
	if err != nil {
		return fmt.Errorf("commit %q: %w", p.name, err)
	}
	release := func() {
		if fresh {
			p.s.releaseDir(to)
			fresh = false
		}
	}
	defer release()
	err = p.place(to)
	if errors.Is(err, fs.ErrNotExist) {
		// The directory went away under the handle, and its path may
		// name a new one with the same identity: look again, once. (If
		// what went was a named temporary file, with the directory that
		// held it, the data is lost and the upload is refused.)
		if again, herr := p.s.holdDir(p.dirName, true); herr == nil {
			release()
			to, fresh = again, true
			err = p.place(to)
		}
	}
	if p.anonymous {
		if cerr := p.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %q: %w", p.name, cerr)
		}
		p.f = nil
	}
	if err != nil {
		return err
	}
	p.done = true
	defer p.s.releaseDir(p.dir)
	return p.s.syncDirWith(p.dirName, to.state, to.f)
}

// place gives the data its final name in to (usually the directory that
// holds the temporary file). Only to's entries lock is taken: the other
// directory, if any, is one an operator replaced, where the lock orders
// nothing worth waiting for.
func (p *pendingFile) place(to heldDir) error {
	if p.anonymous {
		to.state.entries.Lock()
		err := linkAnonymousIn(p.f, to.f, p.base)
		to.state.entries.Unlock()
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("commit %q: %w", p.name, ErrExists)
		} else if err != nil {
			return fmt.Errorf("link into %q: %w", p.name, err)
		}
		return nil
	}
	if p.f != nil && !renameOpenFiles {
		f := p.f
		p.f = nil
		if err := f.Close(); err != nil {
			return fmt.Errorf("close %q: %w", p.name, err)
		}
	}
	to.state.entries.Lock()
	err := p.publish(to.f)
	to.state.entries.Unlock()
	// Where the file stayed open through the rename, its lock kept other
	// servers' clean-up away until it had its final name. Commit synced
	// its data (unless NoSync): the close has nothing left to write.
	if p.f != nil {
		f := p.f
		p.f = nil
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %q: %w", p.name, cerr)
		}
	}
	return err
}

// publish gives the named temporary file its final name in the directory
// to.
func (p *pendingFile) publish(to *os.File) error {
	from := p.dir.f
	if p.overwrite {
		if err := renameBetween(from, p.tmp, to, p.base); err != nil {
			return fmt.Errorf("rename into %q: %w", p.name, err)
		}
		return nil
	}
	// A rename that refuses to replace (or a hard link) fails when the
	// name exists, so of two racing uploads of one name exactly one wins
	// and the other is refused.
	err := renameNoReplace(from, p.tmp, to, p.base)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("commit %q: %w", p.name, ErrExists)
	case !errors.Is(err, errors.ErrUnsupported):
		return fmt.Errorf("rename into %q: %w", p.name, err)
	}
	if err := linkBetween(from, p.tmp, to, p.base); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("commit %q: %w", p.name, ErrExists)
		}
		// Some file systems have no hard links either: fall back to a
		// check and a rename, which only loses the race guarantee.
		if exists, serr := regularFileIn(to, p.base); serr != nil || exists {
			if exists {
				return fmt.Errorf("commit %q: %w", p.name, ErrExists)
			}
			return fmt.Errorf("link into %q: %w", p.name, err)
		}
		if err := renameBetween(from, p.tmp, to, p.base); err != nil {
			return fmt.Errorf("rename into %q: %w", p.name, err)
		}
		return nil
	}
	if err := removeIn(from, p.tmp); err != nil {
		return fmt.Errorf("remove temporary file of %q: %w", p.name, err)
	}
	return nil
}

func (p *pendingFile) Abort() error {
	if p.done {
		return nil
	}
	p.done = true
	defer p.s.releaseDir(p.dir)
	if p.f != nil {
		p.f.Close()
	}
	if p.anonymous {
		return nil // a file without a name vanishes when closed
	}
	p.dir.state.entries.Lock()
	err := removeIn(p.dir.f, p.tmp)
	p.dir.state.entries.Unlock()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove temporary file of %q: %w", p.name, err)
	}
	return nil
}
