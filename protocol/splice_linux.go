package protocol

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// spliceChunk is how much an upload moves between two pushes of the read
// deadline on the splice path: a client that stops sending is dropped after
// the timeout, while a moving transfer takes as long as it needs.
const spliceChunk = 1 << 20

// errNoSplice says that the splice path is not available for this transfer;
// nothing was read and the caller copies as before.
var errNoSplice = errors.New("splice not available")

// spliceUpload moves n bytes from the plain TCP connection tcp to the file
// f in the kernel (splice(2) through a pipe), never through user space. It
// does its own splicing instead of relying on (*os.File).ReadFrom because,
// when the file write fails, the standard library loses the bytes already
// taken off the socket into its pipe, and the session would be out of step.
// Here every byte taken off the socket is accounted for: after a write error
// the pipe is drained and the rest of the announced bytes discarded, so that
// the client gets its refusal line, as on the copying path.
//
// It returns the bytes stored, the storage's error (nil if none) and the
// connection's error (nil if the n bytes arrived).
func spliceUpload(f *os.File, tcp *net.TCPConn, n int64, timeout time.Duration) (stored int64, werr, cerr error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return 0, nil, errNoSplice
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	// A pipe as large as a chunk takes it in one splice; the default
	// (64 KiB) also works, in more calls.
	unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, spliceChunk)

	src, err := tcp.SyscallConn()
	if err != nil {
		return 0, nil, errNoSplice
	}
	dst, err := f.SyscallConn()
	if err != nil {
		return 0, nil, errNoSplice
	}
	var scratch []byte // drains the pipe after a write error
	for remain := n; remain > 0; {
		if timeout > 0 {
			tcp.SetReadDeadline(time.Now().Add(timeout))
		}
		// Socket to pipe: the pipe is empty here, so EAGAIN can only
		// be the socket's, and the poller then waits for data until
		// the read deadline.
		var in int64
		var serr error
		rerr := src.Read(func(fd uintptr) bool {
			m, err := unix.Splice(int(fd), nil, p[1], nil, int(min(remain, spliceChunk)), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
			if err == unix.EAGAIN {
				return false
			}
			if err != nil {
				m = 0 // splice returns -1 with the error
			}
			in, serr = m, err
			return true
		})
		switch {
		case rerr != nil:
			return stored, werr, rerr // the deadline
		case serr != nil:
			return stored, werr, os.NewSyscallError("splice", serr)
		case in == 0:
			return stored, werr, io.EOF
		}
		remain -= in
		// Pipe to file, until the chunk is in or the file fails.
		for in > 0 && werr == nil {
			var out int64
			var oerr error
			dst.Write(func(fd uintptr) bool {
				out, oerr = unix.Splice(p[0], nil, int(fd), nil, int(in), unix.SPLICE_F_MOVE)
				return true
			})
			switch {
			case oerr != nil:
				out = 0 // splice returns -1 with the error
				werr = os.NewSyscallError("splice", oerr)
			case out == 0:
				werr = io.ErrShortWrite
			}
			stored += out
			in -= out
		}
		// After a write error, what is left in the pipe is thrown away.
		for in > 0 {
			if scratch == nil {
				scratch = make([]byte, 64<<10)
			}
			m, err := unix.Read(p[0], scratch[:min(in, int64(len(scratch)))])
			if err != nil || m == 0 {
				return stored, werr, fmt.Errorf("drain the splice pipe: %w", err)
			}
			in -= int64(m)
		}
	}
	return stored, werr, nil
}
