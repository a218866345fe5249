//go:build linux

package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// machineInfo describes where the bench ran, for the report.
type machineInfo struct {
	cpus   int
	model  string
	memory string
	kernel string
	osName string
	fs     string
	load   string
}

func describeMachine(dir string) machineInfo {
	m := machineInfo{cpus: runtime.NumCPU(), model: "unknown", memory: "unknown", kernel: "unknown", osName: "unknown"}
	if v := fileField("/proc/cpuinfo", "model name", ":"); v != "" {
		m.model = v
	}
	if v := fileField("/proc/meminfo", "MemTotal", ":"); v != "" {
		if kb, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64); err == nil {
			m.memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	if v := fileField("/etc/os-release", "PRETTY_NAME", "="); v != "" {
		m.osName = strings.Trim(v, `"`)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.load = strings.Join(f[:3], " ")
		}
	}
	m.fs = describeFileSystem(dir)
	return m
}

// fileField returns the value of the first line of path that starts with
// key followed by sep (blanks around sep allowed), or "".
func fileField(path, key, sep string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), sep)
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// describeFileSystem names the file system that holds dir, from the mount
// table entry with dir's device and the longest mount point above dir.
func describeFileSystem(dir string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return "unknown"
	}
	dev := uint64(st.Dev)
	major := (dev>>8)&0xfff | (dev>>32)&^uint64(0xfff)
	minor := dev&0xff | (dev>>12)&^uint64(0xff)
	want := fmt.Sprintf("%d:%d", major, minor)
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	best, bestLen := "unknown", -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		a, b := strings.Fields(pre), strings.Fields(post)
		if len(a) < 6 || len(b) < 2 || a[2] != want {
			continue
		}
		mnt := a[4]
		if !strings.HasPrefix(dir, mnt) || len(mnt) <= bestLen {
			continue
		}
		opts := a[5]
		if len(b) >= 3 {
			opts += "," + b[2]
		}
		best, bestLen = fmt.Sprintf("%s on %s, mounted at %s (%s)", b[0], b[1], mnt, opts), len(mnt)
		if b[0] == "ext4" && strings.HasPrefix(b[1], "/dev/") {
			// A journaled ext4 has a jbd2 entry named after its device.
			if m, _ := filepath.Glob("/proc/fs/jbd2/" + strings.TrimPrefix(b[1], "/dev/") + "-*"); len(m) == 0 {
				best += ", without a journal"
			}
		}
	}
	return best
}

// binaryInfo identifies a program measured, for the report.
type binaryInfo struct {
	path    string
	size    int64
	modTime time.Time
	sha256  string
}

func describeBinary(path string) *binaryInfo {
	info := &binaryInfo{path: path}
	f, err := os.Open(path)
	if err != nil {
		return info
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		info.size, info.modTime = st.Size(), st.ModTime()
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err == nil {
		info.sha256 = hex.EncodeToString(h.Sum(nil))[:16]
	}
	return info
}
