//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// notifySignals turns SIGHUP, SIGUSR1 and SIGTERM/SIGINT into the daemon's
// reload, rotate and stop.
func notifySignals() (reload, rotate, stop <-chan struct{}) {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	rl, rt, st := make(chan struct{}, 1), make(chan struct{}, 1), make(chan struct{})
	go func() {
		for s := range sigs {
			switch s {
			case syscall.SIGHUP:
				nonBlocking(rl)
			case syscall.SIGUSR1:
				nonBlocking(rt)
			default:
				close(st)
				signal.Stop(sigs)
				return
			}
		}
	}()
	return rl, rt, st
}

// nonBlocking sends on a one-slot channel; a pending request already covers
// a second signal.
func nonBlocking(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
