package hostsaccess

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"sync"
)

// Default file locations, used when a Checker leaves a path empty. They
// are the paths libwrap reads on Linux, so a server started with -T obeys
// the files the administrator already has.
const (
	DefaultAllowPath = "/etc/hosts.allow"
	DefaultDenyPath  = "/etc/hosts.deny"
)

// maxFileSize bounds how much of a rules file is read. Lists kept by tools
// such as DenyHosts can be long, but a file this size would be a mistake
// (or /dev/zero), and reading it on every change would stall connections.
const maxFileSize = 16 << 20

// Checker decides whether a client address may connect, the way libwrap's
// hosts_ctl does, so the Go server honours the same hosts.allow and
// hosts.deny as the Perl one. Set the exported fields before the first
// call and do not change them afterwards. A Checker caches the parsed
// files, may be used by many goroutines at once, and must not be copied
// after first use.
type Checker struct {
	// Daemon is the process name the rules' daemon lists are matched
	// against, e.g. "tentacle_server". It must not be empty.
	Daemon string
	// AllowPath is the allow file; DefaultAllowPath when empty.
	AllowPath string
	// DenyPath is the deny file; DefaultDenyPath when empty.
	DenyPath string

	mu    sync.Mutex
	cache map[string]*cachedTable // keyed by path
}

// cachedTable is one parsed file together with the identity of the file
// version it came from. A syntax error is cached too, so a broken file is
// not parsed again for every connection.
type cachedTable struct {
	info  fs.FileInfo
	table *Table
	err   error
}

// Allowed reports whether a client at addr may connect. The allow file
// is consulted first, then the deny file, and a client matched by neither
// is allowed, as described in the package documentation.
//
// Both files are looked at on every call (one stat each) and parsed again
// only when their identity, size or modification time changed, so edits
// take effect on the next connection without restarting the server. A file
// that does not exist counts as empty. When either file cannot be read or
// contains a line this package cannot interpret, Allowed returns false and
// an error naming the file (and line); the caller should refuse the
// connection and log the error.
func (c *Checker) Allowed(addr netip.Addr) (bool, error) {
	if c.Daemon == "" {
		return false, errors.New("hostsaccess: Checker.Daemon is empty")
	}
	if !addr.IsValid() {
		return false, errors.New("hostsaccess: invalid client address")
	}
	allow, err := c.table(pathOr(c.AllowPath, DefaultAllowPath))
	if err != nil {
		return false, err
	}
	deny, err := c.table(pathOr(c.DenyPath, DefaultDenyPath))
	if err != nil {
		return false, err
	}
	if action, ok := allow.Match(c.Daemon, addr); ok {
		return action != ActionDeny, nil
	}
	if action, ok := deny.Match(c.Daemon, addr); ok {
		return action == ActionAllow, nil
	}
	return true, nil
}

func pathOr(path, def string) string {
	if path == "" {
		return def
	}
	return path
}

// table returns the parsed contents of path, from the cache when the file
// has not changed. A nil *Table with a nil error means the file does not
// exist; Table.Match treats nil as a table with no rules.
func (c *Checker) table(path string) (*Table, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hostsaccess: %w", err)
	}

	c.mu.Lock()
	cached := c.cache[path]
	c.mu.Unlock()
	if cached != nil && sameVersion(cached.info, info) {
		return cached.table, cached.err
	}

	// Parse outside the lock: concurrent callers may occasionally parse
	// the same new version twice, which is harmless, and nobody waits on
	// another caller's disk access.
	loaded, err := load(path)
	if err != nil {
		return nil, err // I/O problems are not cached; retry next time
	}
	if loaded == nil { // removed since the stat
		return nil, nil
	}
	c.mu.Lock()
	if c.cache == nil {
		c.cache = make(map[string]*cachedTable)
	}
	c.cache[path] = loaded
	c.mu.Unlock()
	return loaded.table, loaded.err
}

// sameVersion reports whether two stats describe the same file contents,
// as far as can be told cheaply: same file (device and inode on Unix, so a
// file replaced by rename is noticed), same size and same mtime.
func sameVersion(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// load reads and parses one file. The stat recorded is taken from the open
// file, so the cache key describes exactly the bytes that were parsed. It
// returns nil, nil when the file does not exist.
func load(path string) (*cachedTable, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hostsaccess: %w", err)
	}
	defer f.Close()

	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("hostsaccess: %w", err)
	}
	// Regular files, plus character devices so that a file pointed at
	// /dev/null reads as empty. Directories, pipes and sockets are
	// refused: a FIFO would block every connection check.
	if mode := info.Mode(); !mode.IsRegular() && mode&fs.ModeCharDevice == 0 {
		return nil, fmt.Errorf("hostsaccess: %s: not a regular file (mode %v)", path, mode)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("hostsaccess: read %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("hostsaccess: %s: larger than %d bytes", path, maxFileSize)
	}

	t, err := Parse(bytes.NewReader(data), path)
	if err != nil {
		err = fmt.Errorf("hostsaccess: %w", err)
	}
	return &cachedTable{info: info, table: t, err: err}, nil
}
