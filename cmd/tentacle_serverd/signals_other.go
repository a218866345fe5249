//go:build !unix

package main

import (
	"os"
	"os/signal"
)

// notifySignals: only an interrupt stops the daemon here.
func notifySignals() (reload, rotate, stop <-chan struct{}) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	st := make(chan struct{})
	go func() { <-sigs; close(st) }()
	return make(chan struct{}), make(chan struct{}), st
}
