package protocol

import (
	"errors"
	"strings"
)

// Refusals a server sends and a client receives. They are values so that a
// caller can tell a refused transfer from a broken connection with errors.Is,
// and so that server and client agree on the words the wire carries.
var (
	// ErrInvalidName refuses a file name with a forbidden character, a path,
	// or one of the names that are never files (".", "..", empty, too long).
	ErrInvalidName = errors.New("invalid file name")
	// ErrTooBig refuses an upload whose announced size is below 1 byte or
	// above the server's maximum, or an archive that inflates beyond it.
	ErrTooBig = errors.New("file is too big")
	// ErrExists refuses an upload to a name that is already stored while
	// overwriting is off.
	ErrExists = errors.New("file already exists")
	// ErrNotExist answers a download of a name that is not stored.
	ErrNotExist = errors.New("file does not exist")
	// ErrBadArchive refuses a compressed upload that is not a readable ZIP
	// archive with at least one member.
	ErrBadArchive = errors.New("bad compressed data")
	// ErrAuth means the server did not accept the password: the reference
	// server simply closes the connection, so this is what the client infers.
	ErrAuth = errors.New("authentication failed")
	// ErrStorage is a server-side failure to store or read a file; the
	// client only learns that the transfer was refused.
	ErrStorage = errors.New("storage error")
	// ErrRefused is any other refusal line, such as the bare "SEND ERR" of
	// older servers.
	ErrRefused = errors.New("refused")
	// ErrInternal records a transfer cut short by a fault of the server
	// itself (a recovered panic): the connection is closed, nothing is
	// stored, and the record says the transfer failed.
	ErrInternal = errors.New("internal server error")
	// ErrServerClosed is returned by Serve after Shutdown or Close.
	ErrServerClosed = errors.New("tentacle: server closed")
)

// refusalReasons maps the parenthesised reason of an "ERR (...)" reply to
// the error it stands for. The RECV wording differs from SEND's, as in the
// reference.
var refusalReasons = map[string]error{
	"invalid file name":             ErrInvalidName,
	"file has an invalid file name": ErrInvalidName,
	"file is too big":               ErrTooBig,
	"file already exists":           ErrExists,
	"file does not exist":           ErrNotExist,
	"storage error":                 ErrStorage,
	"bad compressed data":           ErrBadArchive,
	"authentication failed":         ErrAuth,
}

// ReplyError is a reply from the server that refuses what the client asked.
// It keeps the line as received, for messages such as the reference client's
// "Server responded SEND ERR (file already exists)", and unwraps to one of the
// Err* values above.
type ReplyError struct {
	Command string // the verb the client sent: SEND, RECV, ...
	Line    string // the server's reply, without its LF
}

// Error quotes the server's line, as the reference client reports it.
func (e *ReplyError) Error() string {
	return "server responded " + e.Line
}

// Unwrap returns the refusal the reply stands for, so that
// errors.Is(err, ErrExists) and the like work on a client's errors.
func (e *ReplyError) Unwrap() error {
	if i := strings.IndexByte(e.Line, '('); i >= 0 && strings.HasSuffix(e.Line, ")") {
		if err, ok := refusalReasons[e.Line[i+1:len(e.Line)-1]]; ok {
			return err
		}
	}
	return ErrRefused
}
