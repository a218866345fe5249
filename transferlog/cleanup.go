package transferlog

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// backup is a rotated file and the time its name gives.
type backup struct {
	name string
	when time.Time
}

// millOnce removes the rotated files beyond r.MaxBackups or older than
// r.MaxAgeDays, and compresses the others if r.Compress, as lumberjack
// does. It stops between files once Close is called.
func (l *Log) millOnce(r Rotation) error {
	if r.MaxBackups == 0 && r.MaxAgeDays == 0 && !r.Compress {
		return nil
	}
	dir := filepath.Dir(l.path)
	backups, err := l.backups()
	if err != nil {
		return err
	}
	var remove []string
	// A file and its compressed copy (a compression cut short) are one
	// backup. backups is newest first.
	kept := map[string]bool{}
	var compress []string
	var cutoff time.Time
	if r.MaxAgeDays > 0 {
		cutoff = time.Now().Add(-time.Duration(r.MaxAgeDays) * 24 * time.Hour)
	}
	for _, b := range backups {
		plain := strings.TrimSuffix(b.name, compressSuffix)
		tooMany := !kept[plain] && r.MaxBackups > 0 && len(kept) >= r.MaxBackups
		tooOld := r.MaxAgeDays > 0 && b.when.Before(cutoff)
		if tooMany || tooOld {
			remove = append(remove, b.name)
			continue
		}
		kept[plain] = true
		if r.Compress && plain == b.name {
			compress = append(compress, b.name)
		}
	}
	for _, name := range remove {
		if err2 := os.Remove(filepath.Join(dir, name)); err2 != nil && !errors.Is(err2, os.ErrNotExist) && err == nil {
			err = err2
		}
	}
	for _, name := range compress {
		select {
		case <-l.done:
			return err
		default:
		}
		if err2 := compressFile(filepath.Join(dir, name)); err2 != nil && err == nil {
			err = err2
		}
	}
	return err
}

// backups lists the rotated files of the log, newest first.
func (l *Log) backups() ([]backup, error) {
	entries, err := os.ReadDir(filepath.Dir(l.path))
	if err != nil {
		return nil, fmt.Errorf("transfer log %s: %w", l.path, err)
	}
	base := filepath.Base(l.path)
	ext := filepath.Ext(base)
	prefix := strings.TrimSuffix(base, ext) + "-"
	var found []backup
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		stamp := strings.TrimPrefix(e.Name(), prefix)
		stamp = strings.TrimSuffix(stamp, compressSuffix)
		if !strings.HasSuffix(stamp, ext) {
			continue
		}
		when, err := time.Parse(backupTimeFormat, strings.TrimSuffix(stamp, ext))
		if err != nil {
			continue // not a name lumberjack gives
		}
		found = append(found, backup{e.Name(), when})
	}
	sort.Slice(found, func(i, j int) bool { return found[i].when.After(found[j].when) })
	return found, nil
}

// compressFile gzips src into src.gz, with src's mode, and removes src once
// src.gz is whole. A failure before that leaves src as it was and no
// src.gz; a src.gz left by a pass cut short is overwritten.
func compressFile(src string) error {
	dst := src + compressSuffix
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("compress %s: %w", src, err)
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return fmt.Errorf("compress %s: %w", src, err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return fmt.Errorf("compress %s: %w", src, err)
	}
	// Whatever the umask: the group that reads the log reads its backups.
	err = out.Chmod(info.Mode().Perm())
	gz := gzip.NewWriter(out)
	if err == nil {
		_, err = io.Copy(gz, in)
	}
	if err == nil {
		err = gz.Close()
	}
	if err == nil {
		err = out.Sync()
	}
	if err2 := out.Close(); err == nil {
		err = err2
	}
	if err != nil {
		os.Remove(dst)
		return fmt.Errorf("compress %s: %w", src, err)
	}
	// src.gz is whole: whatever happens now, it stays. A src that stays
	// too is compressed again by the next pass.
	if err := os.Remove(src); err != nil {
		return fmt.Errorf("compress %s: %w", src, err)
	}
	return nil
}
