// Package passwordprompt asks for a private key's password on the terminal
// without echoing it, twice, as the reference programs do for -w: a typo in
// a password that is never shown would otherwise only surface as a failed
// key load.
package passwordprompt

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// ErrMismatch is returned when the two entries differ.
var ErrMismatch = errors.New("passwords do not match")

// Ask prints prompt on out, reads a password from in (without echo when in
// is a terminal), asks again for confirmation, and returns it.
func Ask(in *os.File, out io.Writer, prompt string) (string, error) {
	read := readerFor(in)
	fmt.Fprint(out, prompt)
	first, err := read()
	fmt.Fprintln(out)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	fmt.Fprint(out, prompt+" (again, to confirm): ")
	second, err := read()
	fmt.Fprintln(out)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if first != second {
		return "", ErrMismatch
	}
	return first, nil
}

// readerFor reads one line from in: through the terminal without echo when
// in is one, or as plain text otherwise (a pipe, for scripts and tests).
func readerFor(in *os.File) func() (string, error) {
	if term.IsTerminal(int(in.Fd())) {
		return func() (string, error) {
			b, err := term.ReadPassword(int(in.Fd()))
			return string(b), err
		}
	}
	br := bufio.NewReader(in)
	return func() (string, error) {
		line, err := br.ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
}
