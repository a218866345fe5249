package protocol

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Level says how much a log message matters. The levels are the reference's:
// errors are shown unless quiet, "log" lines with -v, "info" lines with -V.
type Level int

const (
	// LevelError is a failure: a refused password, a broken connection, a
	// file that could not be stored.
	LevelError Level = iota
	// LevelLog is a notable event: a refusal, a completed download, a start.
	LevelLog
	// LevelInfo is the chatter of every connection and command.
	LevelInfo
	// LevelNotice is an event of the server's own life that an
	// administrator always wants to see (start, reload, stop, clean-up),
	// even without -v. It prints as a "log" line.
	LevelNotice
)

// Logger receives the server's messages. A nil Logger discards them. A
// Logger that also has a method Enabled(Level) bool is asked first, and
// messages it does not want are not even formatted.
type Logger interface {
	Log(level Level, msg string)
}

// levelFilter is the optional part of a Logger.
type levelFilter interface {
	Enabled(level Level) bool
}

// TextLogger writes messages the way the reference server does, so that
// scripts that read its output keep working:
//
//	2006-01-02 15:04:05[log]message.
//	2006-01-02 15:04:05[err]message
//
// It is safe for concurrent use; each message is one Write.
type TextLogger struct {
	Out       io.Writer // where "log" and "info" lines go
	Err       io.Writer // where errors go; nil means Out
	Verbosity int       // 0: errors only; 1: also "log"; 2: also "info"
	Quiet     bool      // drop errors too

	mu sync.Mutex
}

// Enabled reports whether messages of level are written, so that callers
// can skip formatting what would be dropped: a busy server formats several
// messages per file.
func (l *TextLogger) Enabled(level Level) bool {
	switch level {
	case LevelError:
		return !l.Quiet
	case LevelLog:
		return l.Verbosity >= 1
	case LevelInfo:
		return l.Verbosity >= 2
	}
	return true
}

// Log implements Logger.
func (l *TextLogger) Log(level Level, msg string) {
	if !l.Enabled(level) {
		return
	}
	tag, end, w := "[log]", ".", l.Out
	switch level {
	case LevelError:
		tag, end = "[err]", ""
		if l.Err != nil {
			w = l.Err
		}
	case LevelInfo:
		tag = "[info]"
	}
	if w == nil {
		return
	}
	line := fmt.Sprintf("%s%s%s%s\n", time.Now().Format(time.DateTime), tag, msg, end)
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(w, line)
}
