// Command tentacle_client sends files to a Tentacle server, or with -g
// fetches them, taking the options of the Perl tentacle_client it replaces:
// Pandora FMS agents call it as
//
//	tentacle_client -v -a SERVER -p PORT [server_opts] FILE
//
// and judge the transfer by its exit status alone: 0 only when every file
// was transferred.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"tentacle/internal/passwordprompt"
	"tentacle/options"
	"tentacle/protocol"
	"tentacle/tlsconfig"
)

// version is set at build time from git.
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// session holds what the run needs to report as the reference does.
type session struct {
	o      *options.Client
	stdout io.Writer
	stderr io.Writer
	// progress is on when stderr is a terminal: agents read their client's
	// output, so nothing but the reference's lines may go to a pipe.
	progress bool
	// width is the terminal's width, asked at each redraw of the bar.
	width func() int
}

// logf prints a -v line.
func (s *session) logf(format string, args ...any) {
	if s.o.Verbose {
		fmt.Fprintf(s.stdout, "[log] "+format+"\n", args...)
	}
}

// errorf prints an [err] line (unless -q) and returns the exit status 1.
func (s *session) errorf(format string, args ...any) int {
	if s.o == nil || !s.o.Quiet {
		fmt.Fprintf(s.stderr, "[err] "+format+"\n", args...)
	}
	return 1
}

func run(args []string, stdout, stderr io.Writer) int {
	s := &session{stdout: stdout, stderr: stderr}
	o, err := options.ParseClient(args)
	var usage *options.UsageError
	switch {
	case errors.As(err, &usage):
		s.errorf("%v", err)
		fmt.Fprint(stderr, options.ClientUsage("tentacle_client"))
		return 1
	case errors.Is(err, options.ErrNoFiles):
		return s.errorf("No files to send.")
	case err != nil:
		return s.errorf("%v", err)
	case o.Help:
		fmt.Fprintf(stdout, "Tentacle client %s\n\n%s", version, options.ClientUsage("tentacle_client"))
		return 1
	}
	s.o = o
	s.progress = isTerminal(os.Stderr)
	s.width = terminalWidth(os.Stderr)

	// Every file is checked before the first byte goes out, so that a typo
	// in the last name does not leave the others half done.
	if !o.Get {
		for _, f := range o.Files {
			if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
				return s.errorf("File '%s' does not exist.", f)
			}
		}
	}

	client, code := s.connect()
	if client == nil {
		return code
	}
	defer client.Close()

	failed := false
	for _, f := range o.Files {
		var err error
		if o.Get {
			err = s.get(client, f)
		} else {
			err = s.put(client, f)
		}
		if err == nil {
			continue
		}
		failed = true
		s.errorf("%s", s.sentence(err))
		var refusal *protocol.ReplyError
		if !errors.As(err, &refusal) {
			return 1 // the connection is gone or out of step
		}
		// A refusal leaves the session in step: go on with the others.
	}
	client.Quit()
	if failed {
		return 1
	}
	return 0
}

// connect dials, starts TLS and authenticates, printing the reference's
// lines; on failure it returns a nil client and the exit status.
func (s *session) connect() (*protocol.Client, int) {
	o := s.o
	d := &protocol.Dialer{
		Timeout:   time.Duration(o.Timeout) * time.Duration(o.Retries+1) * time.Second,
		LocalAddr: o.BindAddress,
	}
	if o.ProxyHost != "" {
		d.Proxy = &protocol.HTTPProxy{Addr: net.JoinHostPort(o.ProxyHost, strconv.Itoa(o.ProxyPort)), User: o.ProxyUser, Password: o.ProxyPassword}
	}
	if o.TLS {
		password := ""
		if o.KeyPasswordPrompt {
			var err error
			if password, err = passwordprompt.Ask(os.Stdin, s.stdout, "Enter private key file password: "); err != nil {
				return nil, s.errorf("%v.", err)
			}
		}
		cfg, err := tlsconfig.Client(tlsconfig.Options{CertFile: o.Cert, KeyFile: o.Key, CAFile: o.CA, KeyPassword: password})
		if err != nil {
			return nil, s.errorf("%v.", err)
		}
		d.TLSConfig = cfg
	}
	addr := net.JoinHostPort(o.Address, strconv.Itoa(o.Port))
	client, err := d.Dial(context.Background(), addr)
	if err != nil {
		return nil, s.errorf("Cannot connect to %s on port %d: %v.", o.Address, o.Port, err)
	}
	if d.Proxy != nil {
		s.logf("Connected to proxy server %s port %d", o.ProxyHost, o.ProxyPort)
	}
	s.logf("Connected to %s port %d", o.Address, o.Port)
	if o.Password != "" {
		if err := client.Auth(o.Password); err != nil {
			client.Close()
			return nil, s.errorf("Authentication failed.")
		}
	}
	return client, 0
}

// put sends one file.
func (s *session) put(c *protocol.Client, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot open file '%s' for reading: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cannot open file '%s' for reading: %w", path, err)
	}
	name := filepath.Base(path)
	// The file goes to the client as it is, an *os.File, so that on a
	// plain connection the kernel sends it (sendfile); the progress bar
	// watches the file's offset from its own goroutine instead of sitting
	// between the file and the socket.
	if s.o.Compress {
		// Deflating a large file takes longer than sending it: it gets
		// a bar of its own, over the file read so far.
		zbar := s.bar(name+" (compressing)", st.Size(), fileOffset(f))
		var a *protocol.Archive
		a, err = protocol.NewArchive(name, f)
		zbar.done(err == nil)
		if err != nil {
			return err
		}
		defer a.Close()
		// The reference announces the size on the wire: the archive's.
		s.logf("Request to send file '%s' size %db (compressed)", name, a.Size())
		bar := s.bar(name, a.Size(), a.Sent)
		err = c.SendArchive(a)
		bar.done(err == nil)
	} else {
		s.logf("Request to send file '%s' size %db", name, st.Size())
		bar := s.bar(name, st.Size(), fileOffset(f))
		err = c.Send(name, f, st.Size())
		bar.done(err == nil)
	}
	if err != nil {
		return err
	}
	if s.o.Compress {
		s.logf("Server responded ZSEND OK")
	} else {
		s.logf("Server responded SEND OK")
	}
	s.logf("File sent")
	return nil
}

// get fetches one file into the current directory under its base name. It
// is written to a hidden temporary file first and renamed into place only
// once complete, so a failed download never leaves a truncated file behind
// or destroys an older copy.
func (s *session) get(c *protocol.Client, name string) error {
	target := filepath.Base(name)
	tmp, err := os.CreateTemp(".", ".tentacle-get-*")
	if err != nil {
		return fmt.Errorf("cannot open file '%s' for writing: %w", target, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	bar := s.bar(target, -1, fileOffset(tmp))
	if s.o.Compress {
		_, err = c.ZRecv(name, tmp)
	} else {
		_, err = c.Recv(name, tmp)
	}
	bar.done(err == nil)
	if err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("cannot write file '%s': %w", target, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot write file '%s': %w", target, err)
	}
	// CreateTemp makes the file private; give it the usual mode.
	if err := os.Chmod(tmp.Name(), os.FileMode(0o666&^currentUmask())); err != nil {
		return fmt.Errorf("cannot write file '%s': %w", target, err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("cannot write file '%s': %w", target, err)
	}
	if s.o.Compress {
		s.logf("Received compressed file '%s'", target)
	} else {
		s.logf("Received file '%s'", target)
	}
	return nil
}

// sentence renders an error the way the reference client words them:
// "Server responded SEND ERR (file already exists)."
func (s *session) sentence(err error) string {
	var refusal *protocol.ReplyError
	if errors.As(err, &refusal) {
		return "Server responded " + refusal.Line + "."
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Sprintf("Connection from %s unexpectedly closed.", s.o.Address)
	}
	msg := err.Error()
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}
