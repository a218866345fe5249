//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// workDir is the bench's temporary directory: each server and each raw
// baseline gets a subdirectory of it, so all write to one file system.
type workDir struct {
	root string
}

func newWorkDir(parent string) (*workDir, error) {
	root, err := os.MkdirTemp(parent, "tentacle-bench-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	// A server that runs as nobody must be able to reach its subdirectory.
	if err := os.Chmod(root, 0o755); err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	return &workDir{root: root}, nil
}

// fresh returns an empty subdirectory called name, emptying it if needed.
func (w *workDir) fresh(name string) (string, error) {
	dir := filepath.Join(w.root, name)
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

func (w *workDir) remove() {
	if err := os.RemoveAll(w.root); err != nil {
		progress("cannot remove %s: %v", w.root, err)
	}
}

// emptyDir deletes what dir holds, keeps dir, and flushes the file system
// so that the deletions' journal work does not spill into the next phase.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	syscall.Sync()
	return nil
}

// countFiles counts the regular files in dir whose names start with prefix.
func countFiles(dir, prefix string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), prefix) {
			n++
		}
	}
	return n, nil
}
