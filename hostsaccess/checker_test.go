package hostsaccess_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tentacle/hostsaccess"
)

// baseTime is an arbitrary fixed modification time; tests move a file's
// mtime relative to it instead of sleeping.
var baseTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// writeRules writes content to path and sets its mtime to mtime.
func writeRules(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// newChecker returns a Checker whose files live in a fresh temporary
// directory. A nil content leaves that file absent.
func newChecker(t *testing.T, allow, deny *string) *hostsaccess.Checker {
	t.Helper()
	dir := t.TempDir()
	c := &hostsaccess.Checker{
		Daemon:    daemon,
		AllowPath: filepath.Join(dir, "hosts.allow"),
		DenyPath:  filepath.Join(dir, "hosts.deny"),
	}
	if allow != nil {
		writeRules(t, c.AllowPath, *allow, baseTime)
	}
	if deny != nil {
		writeRules(t, c.DenyPath, *deny, baseTime)
	}
	return c
}

func text(s string) *string { return &s }

func allowed(t *testing.T, c *hostsaccess.Checker, addr string) bool {
	t.Helper()
	ok, err := c.Allowed(netip.MustParseAddr(addr))
	if err != nil {
		t.Fatalf("Allowed(%s): %v", addr, err)
	}
	return ok
}

func TestCheckerDecision(t *testing.T) {
	tests := []struct {
		name  string
		allow *string
		deny  *string
		want  map[string]bool // client address -> expected verdict
	}{
		{
			name: "neither file present",
			want: map[string]bool{"192.0.2.1": true, "2001:db8::1": true},
		},
		{
			name:  "both files empty",
			allow: text(""),
			deny:  text("# nothing\n"),
			want:  map[string]bool{"192.0.2.1": true},
		},
		{
			// A client known only by its address has an unknown name, to
			// libwrap as here: KNOWN lets nobody in, UNKNOWN takes all.
			name:  "known only by address",
			allow: text("tentacle_server : KNOWN\n"),
			deny:  text("ALL : UNKNOWN\n"),
			want:  map[string]bool{"192.0.2.1": false, "2001:db8::1": false},
		},
		{
			name: "deny all but the unknown, who are every client",
			deny: text("ALL : ALL EXCEPT UNKNOWN\n"),
			want: map[string]bool{"192.0.2.1": true},
		},
		{
			name:  "allow wins over deny",
			allow: text("tentacle_server : 10.0.0.1 [2001:db8::1]\n"),
			deny:  text("ALL : ALL\n"),
			want: map[string]bool{
				"10.0.0.1":    true,
				"10.0.0.2":    false,
				"2001:db8::1": true,
				"2001:db8::2": false,
			},
		},
		{
			name: "deny only",
			deny: text("tentacle_server : 10.0.0.0/8\n"),
			want: map[string]bool{"10.1.1.1": false, "::ffff:10.1.1.1": false, "192.168.1.1": true},
		},
		{
			name:  "allow only",
			allow: text("tentacle_server : 10.0.0.0/8\n"),
			want:  map[string]bool{"10.1.1.1": true, "192.168.1.1": true},
		},
		{
			name: "deny rule for another daemon",
			deny: text("sshd : ALL\n"),
			want: map[string]bool{"192.0.2.1": true},
		},
		{
			name:  "allow rule for another daemon",
			allow: text("sshd : 10.0.0.1\n"),
			deny:  text("ALL : ALL\n"),
			want:  map[string]bool{"10.0.0.1": false},
		},
		{
			name: "deny all except us",
			deny: text("ALL EXCEPT tentacle_server : ALL\n"),
			want: map[string]bool{"192.0.2.1": true},
		},
		{
			name: "deny all but a subnet",
			deny: text("tentacle_server : ALL EXCEPT 192.168.0.0/16 [fd00::]/8\n"),
			want: map[string]bool{"192.168.3.4": true, "fd12::1": true, "10.0.0.1": false, "2001:db8::1": false},
		},
		{
			name:  "DENY option in the allow file",
			allow: text("tentacle_server : 10.0.0.0/8 : DENY\n"),
			want:  map[string]bool{"10.1.1.1": false, "11.1.1.1": true},
		},
		{
			name:  "ALLOW/DENY options in one file",
			allow: text("tentacle_server : 10.0.0.1 : ALLOW\ntentacle_server : ALL : DENY\n"),
			want:  map[string]bool{"10.0.0.1": true, "10.0.0.2": false},
		},
		{
			name: "ALLOW option in the deny file",
			deny: text("ALL : 10.0.0.1 : allow\nALL : ALL\n"),
			want: map[string]bool{"10.0.0.1": true, "10.0.0.2": false},
		},
		{
			name:  "twist in the allow file refuses",
			allow: text("tentacle_server : 10.0.0.1 : twist /bin/echo no\n"),
			want:  map[string]bool{"10.0.0.1": false, "10.0.0.2": true},
		},
		{
			name:  "spawn is ignored",
			allow: text("tentacle_server : 10.0.0.1 : spawn /bin/false\n"),
			deny:  text("ALL : ALL\n"),
			want:  map[string]bool{"10.0.0.1": true, "10.0.0.2": false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChecker(t, tt.allow, tt.deny)
			for addr, want := range tt.want {
				if got := allowed(t, c, addr); got != want {
					t.Errorf("Allowed(%s) = %v, want %v", addr, got, want)
				}
			}
		})
	}
}

func TestCheckerSyntaxError(t *testing.T) {
	const broken = "# header\nALL : 10.0.0.1\ntentacle_server 10.0.0.2\n"
	tests := []struct {
		name        string
		allow, deny *string
		file        string
	}{
		{"in allow file", text(broken), text("ALL : ALL\n"), "hosts.allow"},
		{"in deny file", text("ALL : ALL\n"), text(broken), "hosts.deny"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChecker(t, tt.allow, tt.deny)
			path := filepath.Join(filepath.Dir(c.AllowPath), tt.file)
			for range 2 { // the second call is answered from the cache
				ok, err := c.Allowed(netip.MustParseAddr("10.0.0.1"))
				if ok || err == nil {
					t.Fatalf("Allowed = %v, %v; want false and an error", ok, err)
				}
				var se *hostsaccess.SyntaxError
				if !errors.As(err, &se) || se.File != path || se.Line != 3 {
					t.Fatalf("error %v: want a *SyntaxError at %s:3", err, path)
				}
				if !strings.Contains(err.Error(), path+":3: ") {
					t.Errorf("error %q does not name %s:3", err, path)
				}
			}
		})
	}
}

func TestCheckerReload(t *testing.T) {
	c := newChecker(t, text("tentacle_server : 10.0.0.1\n"), text("ALL : ALL\n"))
	check := func(step string, want map[string]bool) {
		t.Helper()
		for addr, w := range want {
			if got := allowed(t, c, addr); got != w {
				t.Errorf("%s: Allowed(%s) = %v, want %v", step, addr, got, w)
			}
		}
	}
	check("initial", map[string]bool{"10.0.0.1": true, "10.0.0.2": false})

	// Same size, same mtime, same inode: the cached rules are kept. This
	// shows the cache is really used (and documents its limit).
	writeRules(t, c.AllowPath, "tentacle_server : 10.0.0.2\n", baseTime)
	check("unchanged stat", map[string]bool{"10.0.0.1": true, "10.0.0.2": false})

	// Same size, newer mtime: picked up on the next call.
	writeRules(t, c.AllowPath, "tentacle_server : 10.0.0.2\n", baseTime.Add(time.Hour))
	check("new mtime", map[string]bool{"10.0.0.1": false, "10.0.0.2": true})

	// Different size, even with the mtime moved back.
	writeRules(t, c.AllowPath, "tentacle_server : 10.0.0.3 10.0.0.1\n", baseTime)
	check("new size", map[string]bool{"10.0.0.1": true, "10.0.0.3": true, "10.0.0.2": false})

	// Replaced by rename with identical size and mtime: a different file.
	tmp := c.AllowPath + ".new"
	writeRules(t, tmp, "tentacle_server : 10.0.0.4 10.0.0.1\n", baseTime)
	if err := os.Rename(tmp, c.AllowPath); err != nil {
		t.Fatal(err)
	}
	check("renamed over", map[string]bool{"10.0.0.4": true, "10.0.0.3": false})

	// Removed: counts as empty.
	if err := os.Remove(c.AllowPath); err != nil {
		t.Fatal(err)
	}
	check("allow removed", map[string]bool{"10.0.0.1": false})

	// Broken, then fixed again.
	writeRules(t, c.AllowPath, "this is not a rule\n", baseTime.Add(2*time.Hour))
	if ok, err := c.Allowed(netip.MustParseAddr("10.0.0.1")); ok || err == nil {
		t.Errorf("broken file: Allowed = %v, %v; want false and an error", ok, err)
	}
	writeRules(t, c.AllowPath, "tentacle_server : 10.0.0.5\n", baseTime.Add(3*time.Hour))
	check("fixed", map[string]bool{"10.0.0.5": true, "10.0.0.1": false})

	// Deny file edited too.
	writeRules(t, c.DenyPath, "sshd : ALL\n", baseTime.Add(time.Hour))
	check("deny edited", map[string]bool{"10.0.0.1": true})
}

func TestCheckerBadInput(t *testing.T) {
	c := newChecker(t, nil, nil)
	if ok, err := c.Allowed(netip.Addr{}); ok || err == nil {
		t.Errorf("zero address: Allowed = %v, %v; want false and an error", ok, err)
	}
	noName := &hostsaccess.Checker{AllowPath: c.AllowPath, DenyPath: c.DenyPath}
	if ok, err := noName.Allowed(netip.MustParseAddr("192.0.2.1")); ok || err == nil {
		t.Errorf("empty Daemon: Allowed = %v, %v; want false and an error", ok, err)
	}
}

func TestCheckerUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	c := &hostsaccess.Checker{
		Daemon:    daemon,
		AllowPath: filepath.Join(dir, "missing"),
		DenyPath:  dir, // a directory cannot be a rules file
	}
	ok, err := c.Allowed(netip.MustParseAddr("192.0.2.1"))
	if ok || err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("Allowed = %v, %v; want false and an error naming %s", ok, err, dir)
	}
}

func TestCheckerDevNull(t *testing.T) {
	if _, err := os.Stat(os.DevNull); err != nil {
		t.Skip(err)
	}
	c := &hostsaccess.Checker{Daemon: daemon, AllowPath: os.DevNull, DenyPath: os.DevNull}
	if !allowed(t, c, "192.0.2.1") {
		t.Error("empty files refused a client")
	}
}

// TestCheckerConcurrent runs many checks at once while the allow file is
// replaced repeatedly; run it with -race. Every version of the file agrees
// on the clients that are checked, so each answer is known.
func TestCheckerConcurrent(t *testing.T) {
	c := newChecker(t, text("tentacle_server : 10.0.0.0/8\n"), text("ALL : ALL\n"))
	versions := []string{
		"tentacle_server : 10.0.0.0/8\n",
		"tentacle_server : 10.0.0.0/255.0.0.0, 172.16.0.0/12\n",
		"# comment\ntentacle_server : 10. [2001:db8::]/32\n",
	}

	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// Replace atomically so readers never see a half-written file.
			tmp := fmt.Sprintf("%s.%d", c.AllowPath, i)
			if err := os.WriteFile(tmp, []byte(versions[i%len(versions)]), 0o644); err != nil {
				t.Error(err)
				return
			}
			mtime := baseTime.Add(time.Duration(i) * time.Second)
			if err := os.Chtimes(tmp, mtime, mtime); err != nil {
				t.Error(err)
				return
			}
			if err := os.Rename(tmp, c.AllowPath); err != nil {
				t.Error(err)
				return
			}
		}
	})

	var readers sync.WaitGroup
	for g := range 16 {
		readers.Go(func() {
			for i := range 300 {
				addr := netip.AddrFrom4([4]byte{10, byte(g), byte(i), 1})
				want := true
				if i%2 == 1 {
					addr = netip.AddrFrom4([4]byte{192, 168, byte(g), byte(i)})
					want = false
				}
				got, err := c.Allowed(addr)
				if err != nil || got != want {
					t.Errorf("Allowed(%s) = %v, %v; want %v, nil", addr, got, err, want)
					return
				}
			}
		})
	}
	readers.Wait()
	close(stop)
	writer.Wait()
}
