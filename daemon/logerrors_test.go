package daemon

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tentacle/privileges"
)

// TestLogAccessErrors checks the start-up messages for a transfer log the
// serving user cannot write: each names the user and the fix, and keeps
// the cause for errors.Is. The binary's test (cmd/tentacle_serverd) makes
// these failures for real, as root.
func TestLogAccessErrors(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.log")
	if err := os.WriteFile(existing, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.log")
	pandora := &privileges.Identity{Name: "pandora", UID: 999, GID: 999}
	me, _ := servingUser(nil)
	denied := func(op, path string) error { return &fs.PathError{Op: op, Path: path, Err: fs.ErrPermission} }
	other := errors.New("disk on fire")
	tests := []struct {
		name  string
		err   error
		want  []string
		cause error
	}{
		{"root cannot chown", logHandOverError(existing, pandora, denied("chown", existing)),
			[]string{"TENTACLE_LOG_FILE " + existing + ": root cannot make the file user pandora's (uid 999)", "chown pandora " + existing, "(permission denied)"}, fs.ErrPermission},
		{"root cannot open", logOpenError(existing, pandora, denied("open", existing)),
			[]string{"root cannot make the file user pandora's", "chown pandora " + existing}, fs.ErrPermission},
		{"user cannot create in the directory", logDirError(missing, pandora, denied("open", filepath.Join(dir, ".tentacle-check-1"))),
			[]string{"directory " + dir + " is not writable by user pandora (uid 999)", "chown pandora " + dir + ",", "TENTACLE_LOG_FILE to a file in a directory pandora can write"}, fs.ErrPermission},
		{"started as the user, file not writable", logOpenError(existing, nil, denied("open", existing)),
			[]string{"the file is not writable by user " + me, "chown " + me + " " + existing}, fs.ErrPermission},
		{"started as the user, directory not writable", logOpenError(missing, nil, denied("open", missing)),
			[]string{"directory " + dir + " is not writable by user " + me, "chown " + me + " " + dir}, fs.ErrPermission},
		{"other open error", logOpenError(missing, pandora, other), []string{"TENTACLE_LOG_FILE: disk on fire"}, other},
		{"other chown error", logHandOverError(missing, pandora, other), []string{"TENTACLE_LOG_FILE: disk on fire"}, other},
		{"other directory error", logDirError(missing, pandora, other), []string{"could not be rotated: disk on fire"}, other},
	}
	for _, tt := range tests {
		for _, want := range tt.want {
			if !strings.Contains(tt.err.Error(), want) {
				t.Errorf("%s: %q\nwant %q in it", tt.name, tt.err, want)
			}
		}
		if !errors.Is(tt.err, tt.cause) {
			t.Errorf("%s: %v does not wrap %v", tt.name, tt.err, tt.cause)
		}
	}
}
