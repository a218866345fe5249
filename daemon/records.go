package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"

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

// LogRotation are the lumberjack settings of the transfer log.
type LogRotation struct {
	MaxSizeMB  int  // rotate when the file would grow past this
	MaxBackups int  // rotated files kept
	MaxAgeDays int  // rotated files older than this are removed
	Compress   bool // gzip rotated files
}

// TransferLog writes one JSON object per line for every transfer. Each
// record is a single Write under one lock, so records are never torn or
// interleaved, whatever the number of connections.
type TransferLog struct {
	mu   sync.Mutex
	file *lumberjack.Logger
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
	f.Close()
	l := &TransferLog{file: &lumberjack.Logger{Filename: path}}
	l.setRotation(rotation)
	if _, err := l.file.Write(nil); err != nil {
		return nil, fmt.Errorf("transfer log %s: %w", path, err)
	}
	return l, nil
}

func (l *TransferLog) setRotation(r LogRotation) {
	l.file.MaxSize = r.MaxSizeMB
	l.file.MaxBackups = r.MaxBackups
	l.file.MaxAge = r.MaxAgeDays
	l.file.Compress = r.Compress
}

// SetRotation applies new rotation settings (on reload) to the next writes.
func (l *TransferLog) SetRotation(r LogRotation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setRotation(r)
}

// Path is the file the log writes to.
func (l *TransferLog) Path() string { return l.file.Filename }

// Write appends one record.
func (l *TransferLog) Write(r Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = l.file.Write(line)
	return err
}

// Rotate starts a new file now (SIGUSR1), keeping the old one as a backup.
func (l *TransferLog) Rotate() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.file.Rotate()
}

// TextWriter writes plain lines to the log's file, with the same rotation:
// the service log of a detached daemon is one. Each Write is one message.
func (l *TransferLog) TextWriter() io.Writer { return textWriter{l} }

type textWriter struct{ l *TransferLog }

func (w textWriter) Write(p []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	return w.l.file.Write(p)
}

// Close closes the current file.
func (l *TransferLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.file.Close()
}
