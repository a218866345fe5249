package setup

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// logSink is where an Instance's messages go: the -l file when there is
// one, else the standard streams. Every logger of the instance, those of
// servers a reload retired included, writes through it, so that reopening
// the file (SIGUSR1, after logrotate moved it) or naming another one
// (SIGHUP) moves every writer at once, without a race on a logger's fields.
type logSink struct {
	stdout, stderr io.Writer

	mu   sync.Mutex
	path string   // "" without -l
	file *os.File // nil without -l
}

// openLog opens an -l file for appending, creating it 0640 as the
// reference does.
func openLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("-l %s: %w", path, err)
	}
	return f, nil
}

func (s *logSink) write(toErr bool, p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.file != nil:
		return s.file.Write(p)
	case toErr:
		return s.stderr.Write(p)
	}
	return s.stdout.Write(p)
}

// set makes path the destination: "" for the standard streams. The same
// path again is left as it is; reopen opens it anew. On error the old
// destination stays.
func (s *logSink) set(path string) error {
	s.mu.Lock()
	same := path == s.path
	s.mu.Unlock()
	if same {
		return nil
	}
	return s.open(path)
}

// reopen opens the current -l file by its name again, for a log rotator
// that moved it aside: new lines go to a new file at that name.
func (s *logSink) reopen() error {
	s.mu.Lock()
	path := s.path
	s.mu.Unlock()
	if path == "" {
		return nil
	}
	return s.open(path)
}

func (s *logSink) open(path string) error {
	var f *os.File
	if path != "" {
		var err error
		if f, err = openLog(path); err != nil {
			return err
		}
	}
	s.mu.Lock()
	old := s.file
	s.path, s.file = path, f
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (s *logSink) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
}

// sinkWriter is one of the two streams of a logSink.
type sinkWriter struct {
	s     *logSink
	toErr bool
}

func (w sinkWriter) Write(p []byte) (int, error) { return w.s.write(w.toErr, p) }

// ReopenLog opens the -l file by its name again (SIGUSR1): after a log
// rotator renamed it, new messages go to a new file under that name
// instead of following the renamed one. Without -l it does nothing.
func (in *Instance) ReopenLog() error { return in.log.reopen() }

// SetLogFile sends the messages to path from now on, or to the standard
// streams given to New when path is "" (a reload that changed -l). The
// same path as now is left open as it is. On error nothing changes.
func (in *Instance) SetLogFile(path string) error { return in.log.set(path) }

// SetStreams replaces the standard streams given to New, where messages go
// without -l: a detached daemon's reload that drops -l points them at its
// service log instead of the /dev/null it was started with.
func (in *Instance) SetStreams(stdout, stderr io.Writer) {
	in.log.mu.Lock()
	defer in.log.mu.Unlock()
	in.log.stdout, in.log.stderr = stdout, stderr
}
