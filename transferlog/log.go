package transferlog

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"
)

// Rotation are the rotation settings of the transfer log.
type Rotation struct {
	MaxSizeMB  int  // rotate when the file would grow past this
	MaxBackups int  // rotated files kept
	MaxAgeDays int  // rotated files older than this are removed
	Compress   bool // gzip rotated files
}

// maxBytes is MaxSizeMB in bytes; 0 means lumberjack's default, 100 MB.
func (r Rotation) maxBytes() int64 {
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

// Log writes one JSON object per line for every transfer. Each record is a
// single Write under one lock, so records are never torn or interleaved,
// whatever the number of connections.
//
// lumberjack only renames and reopens the file. The size limit and the
// cleanup of rotated files (removal, compression) are done here, because
// lumberjack's cleanup goroutine reads its settings without a lock, so that
// a reload could not change them without a data race; nor could a second
// lumberjack.Logger take over, since the old one's cleanup goroutine cannot
// be stopped or waited for, and two of them compressing the same file can
// delete it. Here one goroutine per Log cleans up, reading the settings
// under the lock, and Close stops it.
type Log struct {
	path string // never changes: read without the lock

	mu       sync.Mutex
	file     *lumberjack.Logger // its own cleanup has nothing to do
	rotation Rotation
	size     int64  // bytes in the current file, as lumberjack counts them
	stamp    string // backup name stamp of the last rotation
	milled   bool   // a cleanup pass was asked for since the log opened

	millCh    chan struct{} // asks the cleanup goroutine for a pass
	done      chan struct{} // closed by Close: the cleanup goroutine ends
	millDone  chan struct{} // closed by the cleanup goroutine as it ends
	closeOnce sync.Once
}

// Open opens (creating it if needed) the log at path now, rather than at
// the first transfer, so that a started-as-root daemon opens it before it
// gives root up, and a wrong path fails the start.
func Open(path string, rotation Rotation) (*Log, error) {
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
	l := &Log{
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
func (l *Log) SetRotation(r Rotation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r == l.rotation {
		return
	}
	l.rotation = r
	l.mill()
}

// Write appends one record.
func (l *Log) Write(r Record) error {
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
func (l *Log) write(p []byte) (int, error) {
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
func (l *Log) Rotate() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rotate()
}

// Reopen closes the file and opens it by its name again, creating it 0640
// when it is gone: after logrotate (or an administrator) renamed it, new
// lines go to a new file under the log's name instead of following the
// renamed one. Unlike Rotate it moves nothing aside itself, so that it
// never makes an empty backup of the file the rotator just left.
func (l *Log) Reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.file.Close(); err != nil {
		return fmt.Errorf("log %s: %w", l.path, err)
	}
	// Create it here, not through lumberjack, which would make it 0600.
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("log %s: %w", l.path, err)
	}
	info, err := f.Stat()
	f.Close()
	if err != nil {
		return fmt.Errorf("log %s: %w", l.path, err)
	}
	l.size = info.Size()
	if _, err := l.file.Write(nil); err != nil {
		return fmt.Errorf("log %s: %w", l.path, err)
	}
	return nil
}

// rotate has lumberjack move the current file aside, then asks for a
// cleanup. Callers hold l.mu.
func (l *Log) rotate() error {
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
func (l *Log) mill() {
	l.milled = true
	select {
	case l.millCh <- struct{}{}:
	default:
	}
}

// millRun is the cleanup goroutine: one pass per ask, until Close.
func (l *Log) millRun() {
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

// TextWriter writes plain lines to the log's file, with the same rotation:
// the service log of a detached daemon is one. Each Write is one message.
func (l *Log) TextWriter() io.Writer { return textWriter{l} }

type textWriter struct{ l *Log }

func (w textWriter) Write(p []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	return w.l.write(p)
}

// Close closes the current file and stops the cleanup of rotated files,
// waiting for the file it is compressing, if any: once Close returns,
// nothing of this log touches the directory, and another Log may
// take the same path over. Close may be called more than once.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		<-l.millDone
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.file.Close()
}
