//go:build linux

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"tentacle/internal/testharness"
)

// TestLogNotWritableByUser: when the user the daemon serves as cannot write
// or rotate the transfer log, the start fails with a message that names the
// user and the fix, not a bare "permission denied". The daemon starts as
// root and drops to the user, or starts as the user itself (systemd's
// User=); the first is how the packages run it.
func TestLogNotWritableByUser(t *testing.T) {
	testharness.NeedRoot(t, "makes a directory or file the serving user cannot write, and switches users")
	tests := []struct {
		name string
		// asUser starts the daemon as the user rather than as root.
		asUser bool
		// setup breaks the set-up and returns the TENTACLE_LOG_FILE to use.
		setup func(t *testing.T, e *env) string
		want  func(e *env, logFile string) []string
	}{
		{
			name: "directory root's",
			setup: func(t *testing.T, e *env) string {
				setOwner(t, e.logs, 0, 0o755)
				return filepath.Join(e.logs, "transfers.log")
			},
			want: func(e *env, logFile string) []string {
				return []string{"directory " + e.logs + " is not writable by user nobody", "chown nobody " + e.logs}
			},
		},
		{
			name: "directory out of reach",
			setup: func(t *testing.T, e *env) string {
				closed := filepath.Join(e.dir, "closed")
				ownedDir(t, closed, 0, 0o700)
				logs := filepath.Join(closed, "log")
				ownedDir(t, logs, e.user.UID, 0o750)
				return filepath.Join(logs, "transfers.log")
			},
			want: func(e *env, logFile string) []string {
				return []string{"out of reach of user nobody", "chmod o+x"}
			},
		},
		{
			name: "append-only file root cannot hand over",
			setup: func(t *testing.T, e *env) string {
				file := filepath.Join(e.logs, "transfers.log")
				if err := os.WriteFile(file, nil, 0o640); err != nil {
					t.Fatal(err)
				}
				chattr := testharness.NeedTool(t, "chattr", "e2fsprogs")
				if out, err := exec.Command(chattr, "+a", file).CombinedOutput(); err != nil {
					// Not logged as a skip CI must not have: even root
					// cannot set the flag on every file system (tmpfs
					// before Linux 6.0, say), nor without
					// CAP_LINUX_IMMUTABLE, which containers often drop.
					t.Skipf("chattr +a, to make a file root cannot chown: %v %s", err, out)
				}
				t.Cleanup(func() { exec.Command("chattr", "-a", file).Run() })
				return file
			},
			want: func(e *env, logFile string) []string {
				return []string{"root cannot make the file user nobody's", "chown nobody " + logFile}
			},
		},
		{
			name:   "started as the user, directory root's",
			asUser: true,
			setup: func(t *testing.T, e *env) string {
				setOwner(t, e.logs, 0, 0o755)
				return filepath.Join(e.logs, "transfers.log")
			},
			want: func(e *env, logFile string) []string {
				return []string{"directory " + e.logs + " is not writable by user nobody", "chown nobody " + e.logs}
			},
		},
		{
			name:   "started as the user, file root's",
			asUser: true,
			setup: func(t *testing.T, e *env) string {
				file := filepath.Join(e.logs, "transfers.log")
				if err := os.WriteFile(file, nil, 0o640); err != nil {
					t.Fatal(err)
				}
				return file
			},
			want: func(e *env, logFile string) []string {
				return []string{"the file is not writable by user nobody", "chown nobody " + logFile}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "nobody")
			logFile := tt.setup(t, e)
			var lines []string
			for _, line := range strings.Split(strings.TrimSpace(readEnv(t, e)), "\n") {
				if !strings.HasPrefix(line, "TENTACLE_LOG_FILE=") {
					lines = append(lines, line)
				}
			}
			e.write(append(lines, "TENTACLE_LOG_FILE="+logFile)...)
			ctx, cancel := context.WithTimeout(context.Background(), testharness.WaitTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, daemonBin, "--env-file", e.file)
			if tt.asUser {
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(e.user.UID), Gid: uint32(e.user.GID)}}
			}
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "[err]") {
				t.Fatalf("exit %v, output:\n%s\nwant exit 1 and an [err]", err, out)
			}
			for _, want := range tt.want(e, logFile) {
				if !strings.Contains(string(out), want) {
					t.Errorf("output:\n%s\nwant %q in it", out, want)
				}
			}
		})
	}
}

// ownedDir makes dir, owned by uid (its group too, for root) with mode.
func ownedDir(t *testing.T, dir string, uid int, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	setOwner(t, dir, uid, mode)
}

// setOwner gives path to uid (the group stays) and sets its mode, whatever
// the umask.
func setOwner(t *testing.T, path string, uid int, mode os.FileMode) {
	t.Helper()
	if err := os.Chown(path, uid, -1); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// TestUserNotAppliedWhenNotRoot starts the daemon as a user, as systemd's
// User= does, with TENTACLE_USER naming another: the daemon serves as
// itself and says that TENTACLE_USER is not applied, and why.
func TestUserNotAppliedWhenNotRoot(t *testing.T) {
	testharness.NeedRoot(t, "starts the daemon as nobody")
	e := newEnv(t, "nobody", "TENTACLE_USER=daemon")
	cmd := exec.Command(daemonBin, "--env-file", e.file)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(e.user.UID), Gid: uint32(e.user.GID)}}
	out := startServing(t, cmd)
	if want := "TENTACLE_USER=daemon is not applied: the daemon was started as nobody"; !strings.Contains(out.String(), want) {
		t.Errorf("no %q in:\n%s", want, out)
	}
}
