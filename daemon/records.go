package daemon

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"

	"tentacle/privileges"
	"tentacle/protocol"
)

// Record is one line of the transfer log: enough for an administrator to
// answer "did agent X's file arrive, where did it go, and if not, why" with
// grep or jq, whatever the human log said.
type Record struct {
	Time       time.Time `json:"time"`
	Client     string    `json:"client"`
	Port       int       `json:"port"`
	TLSSubject string    `json:"tls_subject,omitempty"`
	Command    string    `json:"command"`
	File       string    `json:"file"`
	Path       string    `json:"path,omitempty"`
	Bytes      int64     `json:"bytes"`
	DurationMS float64   `json:"duration_ms"`
	Result     string    `json:"result"` // ok, refused or failed
	Reason     string    `json:"reason,omitempty"`
}

// Results of a transfer, as records name them.
const (
	ResultOK      = "ok"
	ResultRefused = "refused" // the server said no: name, size, exists, ...
	ResultFailed  = "failed"  // the connection broke or the disk failed
)

// NewRecord describes a finished transfer. storageDir makes Path absolute,
// so that records stay meaningful after the storage directory moves.
func NewRecord(t protocol.Transfer, storageDir string) Record {
	r := Record{
		Time:       t.Start.Add(t.Duration),
		TLSSubject: t.TLSSubject,
		Command:    t.Command,
		File:       t.Name,
		Bytes:      t.Bytes,
		DurationMS: float64(t.Duration.Microseconds()) / 1000,
		Result:     ResultOK,
	}
	if t.Path != "" && storageDir != "" {
		r.Path = filepath.Join(storageDir, filepath.FromSlash(t.Path))
	}
	if t.Remote != nil {
		host, port, err := net.SplitHostPort(t.Remote.String())
		if err == nil {
			r.Client = host
			r.Port, _ = strconv.Atoi(port)
		} else {
			r.Client = t.Remote.String()
		}
	}
	if t.Err != nil {
		r.Result, r.Reason = ResultFailed, t.Err.Error()
		for _, refusal := range []error{protocol.ErrInvalidName, protocol.ErrTooBig, protocol.ErrExists, protocol.ErrNotExist, protocol.ErrBadArchive, protocol.ErrRefused} {
			if errors.Is(t.Err, refusal) {
				r.Result = ResultRefused
				break
			}
		}
	}
	return r
}

// LogRotation are the rotation settings of the transfer log.
type LogRotation struct {
	MaxSizeMB  int  // rotate when the file would grow past this
	MaxBackups int  // rotated files kept
	MaxAgeDays int  // rotated files older than this are removed
	Compress   bool // gzip rotated files
}

// maxBytes is MaxSizeMB in bytes; 0 means lumberjack's default, 100 MB.
func (r LogRotation) maxBytes() int64 {
	if r.MaxSizeMB <= 0 {
		return 100 << 20
	}
	return int64(r.MaxSizeMB) << 20
}

// Rotated files are named as lumberjack names them: transfers.log becomes
// transfers-2006-01-02T15-04-05.000.log (UTC), then .log.gz once compressed.
const (
	backupTimeFormat = "2006-01-02T15-04-05.000"
	compressSuffix   = ".gz"
)

// TransferLog writes one JSON object per line for every transfer. Each
// record is a single Write under one lock, so records are never torn or
// interleaved, whatever the number of connections.
//
// lumberjack only renames and reopens the file. The size limit and the
// cleanup of rotated files (removal, compression) are done here, because
// lumberjack's cleanup goroutine reads its settings without a lock, so that
// a reload could not change them without a data race; nor could a second
// lumberjack.Logger take over, since the old one's cleanup goroutine cannot
// be stopped or waited for, and two of them compressing the same file can
// delete it. Here one goroutine per TransferLog cleans up, reading the
// settings under the lock, and Close stops it.
type TransferLog struct {
	path string // never changes: read without the lock

	mu       sync.Mutex
	file     *lumberjack.Logger // its own cleanup has nothing to do
	rotation LogRotation
	size     int64  // bytes in the current file, as lumberjack counts them
	stamp    string // backup name stamp of the last rotation
	milled   bool   // a cleanup pass was asked for since the log opened

	millCh    chan struct{} // asks the cleanup goroutine for a pass
	done      chan struct{} // closed by Close: the cleanup goroutine ends
	millDone  chan struct{} // closed by the cleanup goroutine as it ends
	closeOnce sync.Once
}

// OpenTransferLog opens (creating it if needed) the log at path now, rather
// than at the first transfer, so that a started-as-root daemon opens it
// before it gives root up, and a wrong path fails the start.
func OpenTransferLog(path string, rotation LogRotation) (*TransferLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("transfer log %s: %w", path, err)
	}
	// Create the file ourselves: lumberjack would make it 0600, and keeps
	// the mode of the file it rotates. Administrators in the group read it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("transfer log %s: %w", path, err)
	}
	info, err := f.Stat()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("transfer log %s: %w", path, err)
	}
	l := &TransferLog{
		path: path,
		// lumberjack must never rotate by itself (Write does it, and then
		// cleans up), nor clean up: these settings never change.
		file:     &lumberjack.Logger{Filename: path, MaxSize: math.MaxInt32},
		rotation: rotation,
		size:     info.Size(),
		millCh:   make(chan struct{}, 1),
		done:     make(chan struct{}),
		millDone: make(chan struct{}),
	}
	if _, err := l.file.Write(nil); err != nil {
		return nil, fmt.Errorf("transfer log %s: %w", path, err)
	}
	go l.millRun()
	return l, nil
}

// SetRotation applies new rotation settings (on reload): the size limit to
// the next writes, the retention to the rotated files now.
func (l *TransferLog) SetRotation(r LogRotation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r == l.rotation {
		return
	}
	l.rotation = r
	l.mill()
}

// Path is the file the log writes to.
func (l *TransferLog) Path() string { return l.path }

// Write appends one record.
func (l *TransferLog) Write(r Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.milled {
		// Apply the retention once after opening, at the first record
		// rather than at open: a daemon started as root opens the log
		// before it gives root up, and the compressed files must not be
		// root's. Records only come once root is gone.
		l.mill()
	}
	_, err = l.write(line)
	return err
}

// write appends p to the current file, rotating first when p would take
// it past the size limit. A record longer than the limit still goes, alone
// in its file. Callers hold l.mu.
func (l *TransferLog) write(p []byte) (int, error) {
	if l.size > 0 && l.size+int64(len(p)) > l.rotation.maxBytes() {
		if err := l.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := l.file.Write(p)
	l.size += int64(n)
	return n, err
}

// Rotate starts a new file now (SIGUSR1), keeping the old one as a backup.
func (l *TransferLog) Rotate() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rotate()
}

// rotate has lumberjack move the current file aside, then asks for a
// cleanup. Callers hold l.mu.
func (l *TransferLog) rotate() error {
	// lumberjack names the backup after the current millisecond, and a
	// second rotation within it would rename over the first backup: wait
	// for the next one (SIGUSR1 twice, or a record bigger than the limit
	// right after a rotation).
	for time.Now().UTC().Format(backupTimeFormat) <= l.stamp {
		time.Sleep(100 * time.Microsecond)
	}
	err := l.file.Rotate()
	// Read the clock after lumberjack did, so that the next rotation
	// compares with a time no earlier than the name it chose.
	l.stamp = time.Now().UTC().Format(backupTimeFormat)
	if err != nil {
		return err
	}
	l.size = 0
	l.mill()
	return nil
}

// mill asks the cleanup goroutine for a pass, without waiting for it: asks
// made while one is pending are one pass. Callers hold l.mu.
func (l *TransferLog) mill() {
	l.milled = true
	select {
	case l.millCh <- struct{}{}:
	default:
	}
}

// millRun is the cleanup goroutine: one pass per ask, until Close.
func (l *TransferLog) millRun() {
	defer close(l.millDone)
	for {
		select {
		case <-l.done:
			return
		case <-l.millCh:
			l.mu.Lock()
			r := l.rotation
			l.mu.Unlock()
			// What would it do with the error, log it? The next pass
			// tries again.
			_ = l.millOnce(r)
		}
	}
}

// backup is a rotated file and the time its name gives.
type backup struct {
	name string
	when time.Time
}

// millOnce removes the rotated files beyond r.MaxBackups or older than
// r.MaxAgeDays, and compresses the others if r.Compress, as lumberjack
// does. It stops between files once Close is called.
func (l *TransferLog) millOnce(r LogRotation) error {
	if r.MaxBackups == 0 && r.MaxAgeDays == 0 && !r.Compress {
		return nil
	}
	dir := filepath.Dir(l.path)
	backups, err := l.backups()
	if err != nil {
		return err
	}
	var remove []string
	// A file and its compressed copy (a compression cut short) are one
	// backup. backups is newest first.
	kept := map[string]bool{}
	var compress []string
	var cutoff time.Time
	if r.MaxAgeDays > 0 {
		cutoff = time.Now().Add(-time.Duration(r.MaxAgeDays) * 24 * time.Hour)
	}
	for _, b := range backups {
		plain := strings.TrimSuffix(b.name, compressSuffix)
		tooMany := !kept[plain] && r.MaxBackups > 0 && len(kept) >= r.MaxBackups
		tooOld := r.MaxAgeDays > 0 && b.when.Before(cutoff)
		if tooMany || tooOld {
			remove = append(remove, b.name)
			continue
		}
		kept[plain] = true
		if r.Compress && plain == b.name {
			compress = append(compress, b.name)
		}
	}
	for _, name := range remove {
		if err2 := os.Remove(filepath.Join(dir, name)); err2 != nil && !errors.Is(err2, os.ErrNotExist) && err == nil {
			err = err2
		}
	}
	for _, name := range compress {
		select {
		case <-l.done:
			return err
		default:
		}
		if err2 := compressFile(filepath.Join(dir, name)); err2 != nil && err == nil {
			err = err2
		}
	}
	return err
}

// backups lists the rotated files of the log, newest first.
func (l *TransferLog) backups() ([]backup, error) {
	entries, err := os.ReadDir(filepath.Dir(l.path))
	if err != nil {
		return nil, fmt.Errorf("transfer log %s: %w", l.path, err)
	}
	base := filepath.Base(l.path)
	ext := filepath.Ext(base)
	prefix := strings.TrimSuffix(base, ext) + "-"
	var found []backup
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		stamp := strings.TrimPrefix(e.Name(), prefix)
		stamp = strings.TrimSuffix(stamp, compressSuffix)
		if !strings.HasSuffix(stamp, ext) {
			continue
		}
		when, err := time.Parse(backupTimeFormat, strings.TrimSuffix(stamp, ext))
		if err != nil {
			continue // not a name lumberjack gives
		}
		found = append(found, backup{e.Name(), when})
	}
	sort.Slice(found, func(i, j int) bool { return found[i].when.After(found[j].when) })
	return found, nil
}

// compressFile gzips src into src.gz, with src's mode, and removes src once
// src.gz is whole. A failure before that leaves src as it was and no
// src.gz; a src.gz left by a pass cut short is overwritten.
func compressFile(src string) error {
	dst := src + compressSuffix
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("compress %s: %w", src, err)
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return fmt.Errorf("compress %s: %w", src, err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return fmt.Errorf("compress %s: %w", src, err)
	}
	// Whatever the umask: the group that reads the log reads its backups.
	err = out.Chmod(info.Mode().Perm())
	gz := gzip.NewWriter(out)
	if err == nil {
		_, err = io.Copy(gz, in)
	}
	if err == nil {
		err = gz.Close()
	}
	if err == nil {
		err = out.Sync()
	}
	if err2 := out.Close(); err == nil {
		err = err2
	}
	if err != nil {
		os.Remove(dst)
		return fmt.Errorf("compress %s: %w", src, err)
	}
	// src.gz is whole: whatever happens now, it stays. A src that stays
	// too is compressed again by the next pass.
	if err := os.Remove(src); err != nil {
		return fmt.Errorf("compress %s: %w", src, err)
	}
	return nil
}

// TextWriter writes plain lines to the log's file, with the same rotation:
// the service log of a detached daemon is one. Each Write is one message.
func (l *TransferLog) TextWriter() io.Writer { return textWriter{l} }

type textWriter struct{ l *TransferLog }

func (w textWriter) Write(p []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	return w.l.write(p)
}

// Close closes the current file and stops the cleanup of rotated files,
// waiting for the file it is compressing, if any: once Close returns,
// nothing of this log touches the directory, and another TransferLog may
// take the same path over. Close may be called more than once.
func (l *TransferLog) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		<-l.millDone
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.file.Close()
}

// The daemon writes and rotates the transfer log as TENTACLE_USER once root
// is gone, which means creating files in the log's directory. When that
// user cannot, the start fails, and the message names the user and the
// fix: the usual cause is a directory or file that root made, which says
// nothing in a bare "permission denied".

// logOpenError explains why the transfer log at path could not be opened.
// id is the user the daemon will serve as once root is gone; nil when it
// did not start as root and serves as itself.
func logOpenError(path string, id *privileges.Identity, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("TENTACLE_LOG_FILE: %w", err)
	}
	if id != nil {
		// Root opens any file of a local file system: this is one that root
		// may not change.
		return logHandOverError(path, id, err)
	}
	name, uid := servingUser(nil)
	if _, statErr := os.Stat(path); statErr == nil {
		return fmt.Errorf("TENTACLE_LOG_FILE %s: the file is not writable by user %s (uid %d), who writes and rotates it (%w): chown %s %s, or set TENTACLE_LOG_FILE to a file in a directory %s can write",
			path, name, uid, syscallError(err), name, path, name)
	}
	return logDirError(path, nil, err)
}

// logHandOverError explains why root could not give the transfer log at
// path to the user id, who must write and rotate it once root is gone.
func logHandOverError(path string, id *privileges.Identity, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("TENTACLE_LOG_FILE: %w", err)
	}
	return fmt.Errorf("TENTACLE_LOG_FILE %s: root cannot make the file user %s's (uid %d), who writes and rotates it (%w); an append-only or immutable file (lsattr) or an NFS share that squashes root does that: chown %s %s where that is allowed, or set TENTACLE_LOG_FILE to a file in a local directory %s can write",
		path, id.Name, id.UID, syscallError(err), id.Name, path, id.Name)
}

// logDirError explains why the serving user (id, or the process's own
// when nil) cannot create files in the directory of the transfer log at
// path, as rotation does; err is the failure to.
func logDirError(path string, id *privileges.Identity, err error) error {
	dir := filepath.Dir(path)
	if !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("TENTACLE_LOG_FILE %s: the transfer log could not be rotated: %w", path, err)
	}
	name, uid := servingUser(id)
	if _, statErr := os.Stat(dir); errors.Is(statErr, fs.ErrPermission) {
		return fmt.Errorf("TENTACLE_LOG_FILE %s: directory %s is out of reach of user %s (uid %d), who rotates the log there: a directory above it does not let %s through (%w): chmod o+x the directories above it, or set TENTACLE_LOG_FILE to a file in a directory %s can write",
			path, dir, name, uid, name, syscallError(statErr), name)
	}
	return fmt.Errorf("TENTACLE_LOG_FILE %s: directory %s is not writable by user %s (uid %d), who rotates the log there (%w): chown %s %s, or set TENTACLE_LOG_FILE to a file in a directory %s can write",
		path, dir, name, uid, syscallError(err), name, dir, name)
}

// servingUser names the user the daemon serves as: id, or the process's
// own user when id is nil.
func servingUser(id *privileges.Identity) (name string, uid int) {
	if id != nil {
		return id.Name, id.UID
	}
	uid = os.Getuid()
	if u, err := user.Current(); err == nil {
		return u.Username, uid
	}
	return "uid " + strconv.Itoa(uid), uid
}

// syscallError is what the system said, without the path a message
// already names: "permission denied" rather than "open /x/y: permission
// denied".
func syscallError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
