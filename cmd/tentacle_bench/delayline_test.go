//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"
)

// slack is how much later than its delay the line may deliver on a loaded
// machine under -race before a test calls it broken: generous, since the
// lower bounds are what the line is for.
const slack = 2 * time.Second

// target is a server behind the line: it records when it accepts each
// connection and hands the connection to the test.
type target struct {
	ln       net.Listener
	accepted chan acceptedConn
}

// acceptedConn is a connection the target accepted, and when.
type acceptedConn struct {
	conn *net.TCPConn
	at   time.Time
}

// newTarget listens on a free loopback port until the test ends.
func newTarget(t *testing.T) *target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{ln: ln, accepted: make(chan acceptedConn, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tg.accepted <- acceptedConn{c.(*net.TCPConn), time.Now()}
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return tg
}

// next waits for the target's next connection, for at most slack.
func (tg *target) next(t *testing.T) acceptedConn {
	t.Helper()
	select {
	case a := <-tg.accepted:
		t.Cleanup(func() { a.conn.Close() })
		return a
	case <-time.After(slack):
		t.Fatal("the target saw no connection")
		return acceptedConn{}
	}
}

// newLine starts a delay line to addr that is closed when the test ends.
func newLine(t *testing.T, addr string, cfg delayLineConfig) *delayLine {
	t.Helper()
	d, err := startDelayLine(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.close)
	return d
}

// dialLine connects to the line, with deadlines that fail a hung test.
func dialLine(t *testing.T, d *delayLine) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", d.addr(), slack)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return c.(*net.TCPConn)
}

// within fails the test unless low ≤ got ≤ low+slack.
func within(t *testing.T, what string, got, low time.Duration) {
	t.Helper()
	if got < low || got > low+slack {
		t.Errorf("%s took %v, want at least %v and at most %v more", what, got, low, slack)
	}
}

// TestDelayLineDelays checks the line's function: the server sees the
// connection one handshake after the dial, and a round trip through it
// takes two one-way delays, for several settings.
func TestDelayLineDelays(t *testing.T) {
	tests := []struct {
		name             string
		delay, handshake time.Duration
	}{
		{"wan", 25 * time.Millisecond, 50 * time.Millisecond},
		{"no handshake", 20 * time.Millisecond, 0},
		{"long", 60 * time.Millisecond, 120 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := newTarget(t)
			d := newLine(t, tg.ln.Addr().String(), delayLineConfig{delay: tt.delay, handshake: tt.handshake, window: 64 << 10})
			start := time.Now()
			c := dialLine(t, d)
			srv := tg.next(t)
			within(t, "the connection reaching the server", srv.at.Sub(start), tt.handshake)

			go io.Copy(srv.conn, srv.conn) // echo
			buf := make([]byte, 4)
			for i := range 3 {
				sent := time.Now()
				if _, err := c.Write([]byte("ping")); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					t.Fatal(err)
				}
				within(t, fmt.Sprintf("round trip %d", i+1), time.Since(sent), 2*tt.delay)
			}
			if s := d.stats(); s.n != 1 || s.errs != 0 || s.slow != 0 {
				t.Errorf("stats %+v, want one quick connect onward", s)
			}
		})
	}
}

// TestDelayLineKeepsOrder sends a few MiB of random bytes both ways at
// once through a small window, so that the queues fill and drain many
// times, and checks that every byte arrives in order.
func TestDelayLineKeepsOrder(t *testing.T) {
	tg := newTarget(t)
	d := newLine(t, tg.ln.Addr().String(), delayLineConfig{delay: 2 * time.Millisecond, window: 64 << 10})
	c := dialLine(t, d)
	srv := tg.next(t).conn
	srv.SetDeadline(time.Now().Add(30 * time.Second))

	const size = 4<<20 + 123
	up, down := make([]byte, size), make([]byte, size)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(up)
	rng.Read(down)
	errs := make(chan error, 2)
	send := func(w *net.TCPConn, b []byte) {
		_, err := w.Write(b)
		if err == nil {
			err = w.CloseWrite()
		}
		errs <- err
	}
	go send(c, up)
	go send(srv, down)
	for _, tt := range []struct {
		name string
		r    io.Reader
		want []byte
	}{{"client to server", srv, up}, {"server to client", c, down}} {
		got, err := io.ReadAll(tt.r)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !bytes.Equal(got, tt.want) {
			t.Errorf("%s: %d bytes arrived, differing from the %d sent", tt.name, len(got), len(tt.want))
		}
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestDelayLineBackpressure checks that a receiver that does not read
// stops the sender after a bounded number of bytes, instead of the line
// buffering them all.
func TestDelayLineBackpressure(t *testing.T) {
	tg := newTarget(t)
	d := newLine(t, tg.ln.Addr().String(), delayLineConfig{delay: time.Millisecond, window: 64 << 10})
	c := dialLine(t, d)
	tg.next(t) // never read

	const total = 256 << 20 // far more than the window and the socket buffers
	c.SetWriteDeadline(time.Now().Add(time.Second))
	n, err := c.Write(make([]byte, total))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("wrote %d bytes, error %v; want the write to block", n, err)
	}
	if n >= total/2 {
		t.Errorf("the line took %d bytes from a sender whose receiver reads nothing", n)
	}
	t.Logf("%d bytes written before the sender blocked (window and socket buffers)", n)
}

// TestDelayLineClose checks that an end of stream reaches the other side
// after the data before it and after the delay, and that a failed connect
// onward closes the client.
func TestDelayLineClose(t *testing.T) {
	const delay = 30 * time.Millisecond
	t.Run("half-close both ways", func(t *testing.T) {
		tg := newTarget(t)
		d := newLine(t, tg.ln.Addr().String(), delayLineConfig{delay: delay, window: 64 << 10})
		c := dialLine(t, d)
		srv := tg.next(t).conn
		srv.SetDeadline(time.Now().Add(30 * time.Second))

		closed := time.Now()
		c.Write([]byte("last words"))
		c.CloseWrite()
		got, err := io.ReadAll(srv)
		if err != nil || string(got) != "last words" {
			t.Fatalf("server read %q, %v", got, err)
		}
		within(t, "the end of stream reaching the server", time.Since(closed), delay)

		closed = time.Now()
		srv.Write([]byte("bye"))
		srv.Close()
		got, err = io.ReadAll(c)
		if err != nil || string(got) != "bye" {
			t.Fatalf("client read %q, %v", got, err)
		}
		within(t, "the close reaching the client", time.Since(closed), delay)
	})
	t.Run("target gone", func(t *testing.T) {
		tg := newTarget(t)
		tg.ln.Close()
		d := newLine(t, tg.ln.Addr().String(), delayLineConfig{delay: delay, window: 64 << 10})
		c := dialLine(t, d)
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("read %d bytes from a line whose target is gone", n)
		}
		if s := d.stats(); s.errs != 1 || s.firstErr == "" {
			t.Errorf("stats %+v, want one failed connect onward", s)
		}
	})
}
