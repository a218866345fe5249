//go:build linux

package protocol

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tentacle/internal/testharness"
)

// mountTmpfs mounts a tmpfs of the given size on dir ("" for a fresh
// directory), to fill a real disk without filling the machine's; it is
// unmounted when t ends.
func mountTmpfs(t *testing.T, dir, size string) string {
	t.Helper()
	testharness.NeedRoot(t, "mounts a tmpfs")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		// Not logged as a skip CI must not have: root in a container
		// may lack CAP_SYS_ADMIN.
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			// Something still holds it: say so, but leave no mount behind.
			t.Errorf("unmount %s: %v", dir, err)
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	return dir
}

// freeBytes is what an unprivileged writer can still put on dir's file
// system.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// TestFullDisk stores into a real file system that has no room for the
// upload: SEND and ZSEND (whether the archive itself or only its inflated
// file does not fit) are refused with "ERR (storage error)" on a
// connection that stays usable, no file or temporary file remains, and
// once space is freed uploads are stored again.
func TestFullDisk(t *testing.T) {
	for _, overwrite := range []bool{false, true} { // O_TMPFILE, or named temporary files
		t.Run(map[bool]string{false: "anonymous", true: "named"}[overwrite], func(t *testing.T) {
			mnt := mountTmpfs(t, "", "4m")
			spool, tmp, filler := filepath.Join(mnt, "spool"), filepath.Join(mnt, "tmp"), filepath.Join(mnt, "filler")
			mkdirs(t, mnt, "spool", "tmp")
			const room = 256 << 10
			if err := os.WriteFile(filler, make([]byte, freeBytes(t, mnt)-room), 0o644); err != nil {
				t.Fatal(err)
			}

			st, err := OpenDirStorage(spool)
			if err != nil {
				t.Fatal(err)
			}
			log := &memLog{}
			// A generous timeout: the client says nothing while it
			// compresses a ZSEND, which under -race on a loaded machine
			// took over 5 s.
			srv := &Server{Storage: st, TempDir: tmp, MaxSize: 4 << 20, Overwrite: overwrite, Logger: log, Timeout: testharness.WaitTimeout}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(l) }()
			t.Cleanup(func() {
				srv.Close()
				if err := <-served; !errors.Is(err, ErrServerClosed) {
					t.Errorf("Serve: %v", err)
				}
				st.Close()
			})
			c, err := (&Dialer{Timeout: 10 * time.Second}).Dial(t.Context(), l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()

			big := randomBytes(t, 2*room)
			zeros := make([]byte, 4*room) // a tiny archive that inflates past the room
			uploads := []struct {
				what string
				verb string
				data []byte
				name string // once space is freed
			}{
				{"a file bigger than the room", VerbSend, big, "big.data"},
				{"an archive bigger than the room", VerbZSend, big, "big-archive.data"},
				{"an archive that inflates past the room", VerbZSend, zeros, "zeros.data"},
			}
			send := func(verb, name string, data []byte) error {
				if verb == VerbZSend {
					return c.ZSend(name, bytes.NewReader(data))
				}
				return c.Send(name, bytes.NewReader(data), int64(len(data)))
			}
			for _, u := range uploads {
				err := send(u.verb, "full.data", u.data)
				var reply *ReplyError
				if !errors.As(err, &reply) || !errors.Is(err, ErrStorage) || reply.Line != u.verb+" ERR (storage error)" {
					t.Fatalf("%s %s: %v, want %q", u.verb, u.what, err, u.verb+" ERR (storage error)")
				}
				for _, d := range []string{spool, tmp} {
					if got := entries(t, d); len(got) != 0 {
						t.Fatalf("%s %s: %s holds %v after the refusal", u.verb, u.what, d, got)
					}
				}
			}
			if !log.contains("no space left on device") {
				t.Errorf("no log line names the cause: %q", logLines(log))
			}

			// The connection goes on, and so do uploads that fit.
			if err := send(VerbSend, "small.data", []byte("fits")); err != nil {
				t.Fatalf("small upload on the same connection: %v", err)
			}
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			for _, u := range uploads {
				if err := send(u.verb, u.name, u.data); err != nil {
					t.Fatalf("%s %s once space was freed: %v", u.verb, u.what, err)
				}
			}
			want := []string{"big-archive.data", "big.data", "small.data", "zeros.data"}
			if got := entries(t, spool); !slices.Equal(got, want) {
				t.Errorf("storage holds %v, want %v", got, want)
			}
			if err := c.Quit(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestReplacedByOtherFileSystem renames the storage directory away under
// an upload in flight and mounts another file system where it was: the
// upload cannot be moved there, so it is refused and lands nowhere, and
// the next upload goes to the new file system.
func TestReplacedByOtherFileSystem(t *testing.T) {
	for _, overwrite := range []bool{false, true} {
		t.Run(map[bool]string{false: "anonymous", true: "named"}[overwrite], func(t *testing.T) {
			top, s := openStorageWithSub(t)
			p, err := s.Create("a.data", overwrite)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Abort()
			p.Write([]byte("a"))
			old := replaceDir(t, top, "renamed")
			t.Cleanup(func() { os.RemoveAll(old) })
			mountTmpfs(t, top, "1m")
			t.Cleanup(func() { s.Close() }) // before the unmount
			if err := p.Commit(); err == nil || errors.Is(err, ErrExists) {
				t.Fatalf("Commit across file systems: %v, want a storage error", err)
			}
			if err := p.Abort(); err != nil {
				t.Fatal(err)
			}
			if got := entries(t, old); !slices.Equal(got, []string{"sub"}) {
				t.Errorf("old directory holds %v", got)
			}
			if got := entries(t, top); len(got) != 0 {
				t.Errorf("new directory holds %v", got)
			}
			if err := storeFile(s, "b.data", "b", overwrite); err != nil {
				t.Fatalf("upload to the new file system: %v", err)
			}
			if got := readFile(t, filepath.Join(top, "b.data")); got != "b" {
				t.Errorf("b.data holds %q", got)
			}
		})
	}
}
