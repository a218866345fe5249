package protocol

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxLineLength bounds a command or reply line, LF excluded. The reference
// reads lines in blocks of 1024 bytes and drops a peer that sends more
// without a line end; a longer line here is a protocol error too.
const MaxLineLength = 1024

// lineBufferSize sizes the buffered readers of both ends so that a line
// that cannot end within MaxLineLength (plus CR LF) fills the buffer, and is
// refused at once rather than when the peer goes quiet.
const lineBufferSize = MaxLineLength + 2

// Verbs of the protocol, as they start a command line.
const (
	VerbSend  = "SEND"
	VerbZSend = "ZSEND"
	VerbRecv  = "RECV"
	VerbZRecv = "ZRECV"
	VerbLS    = "LS"
	VerbMV    = "MV"
	VerbQuit  = "QUIT"
	VerbPass  = "PASS"
)

// Command is one parsed command line.
type Command struct {
	Verb string // one of the Verb* constants
	Name string // the text between < and >, for file commands
	Size int64  // the announced size, for SEND and ZSEND (math.MaxInt64 when it overflows)
	Arg  string // the password digest, for PASS
}

// errUnknownCommand marks a line that is no command this server knows; the
// server logs it and closes the connection, as the reference does.
var errUnknownCommand = errors.New("unknown command")

// ParseCommand parses one command line without its LF, the way the reference
// matches them: names are whatever stands between the first "<" and the last
// ">" (CheckName then decides whether they are acceptable), and sizes are
// decimal digits. A size too large for int64 is kept as math.MaxInt64 so that
// it is refused as too big rather than as a malformed command.
func ParseCommand(line string) (Command, error) {
	verb, rest, _ := strings.Cut(line, " ")
	switch verb {
	case VerbSend, VerbZSend:
		i := strings.LastIndex(rest, "> SIZE ")
		if !strings.HasPrefix(rest, "<") || i < 0 {
			break
		}
		size, ok := parseSize(rest[i+len("> SIZE "):])
		if !ok {
			break
		}
		return Command{Verb: verb, Name: rest[1:i], Size: size}, nil
	case VerbRecv, VerbZRecv, VerbLS, VerbMV:
		if len(rest) < 2 || rest[0] != '<' || rest[len(rest)-1] != '>' {
			break
		}
		return Command{Verb: verb, Name: rest[1 : len(rest)-1]}, nil
	case VerbQuit:
		if line == VerbQuit {
			return Command{Verb: verb}, nil
		}
	case VerbPass:
		if strings.HasPrefix(line, "PASS ") {
			return Command{Verb: verb, Arg: rest}, nil
		}
	}
	return Command{}, fmt.Errorf("%w %q", errUnknownCommand, line)
}

// parseSize reads a run of ASCII digits as a non-negative size.
func parseSize(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return math.MaxInt64, true
	}
	return n, true
}
