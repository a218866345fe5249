package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWithoutFileEcho(t *testing.T) {
	file := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(file, []byte("TENTACLE_PORT=41121\nTENTACLE_USER=pandora\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := withoutFileEcho([]string{"TENTACLE_PORT=41121", "TENTACLE_USER=other", "PATH=/bin"}, file)
	if strings.Join(got, " ") != "TENTACLE_USER=other PATH=/bin" {
		t.Fatalf("kept %v: the copy of the file's port must go, the real override stay", got)
	}
}
