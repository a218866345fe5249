package hostsaccess_test

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"tentacle/hostsaccess"
)

const daemon = "tentacle_server"

// parse is a test helper that fails the test on a parse error.
func parse(t *testing.T, text string) *hostsaccess.Table {
	t.Helper()
	tab, err := hostsaccess.Parse(strings.NewReader(text), "test.rules")
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return tab
}

func TestClientPatterns(t *testing.T) {
	tests := []struct {
		name  string
		rules string
		addr  string
		want  bool
	}{
		{"ALL v4", "tentacle_server : ALL", "192.0.2.1", true},
		{"ALL v6", "tentacle_server : ALL", "2001:db8::1", true},
		{"all lower case", "tentacle_server : all", "192.0.2.1", true},
		// Names are never looked up, so every client's name is unknown,
		// and libwrap's KNOWN wants the name known, its UNKNOWN takes a
		// client whose name or address is unknown (see doc.go).
		{"KNOWN v4", "tentacle_server : KNOWN", "192.0.2.1", false},
		{"KNOWN v6", "tentacle_server : known", "2001:db8::1", false},
		{"UNKNOWN v4", "tentacle_server : UNKNOWN", "192.0.2.1", true},
		{"UNKNOWN v6", "tentacle_server : unknown", "2001:db8::1", true},
		{"UNKNOWN mapped", "tentacle_server : UNKNOWN", "::ffff:192.0.2.1", true},
		{"ALL EXCEPT UNKNOWN", "tentacle_server : ALL EXCEPT UNKNOWN", "192.0.2.1", false},
		{"ALL EXCEPT KNOWN", "tentacle_server : ALL EXCEPT KNOWN", "192.0.2.1", true},
		{"PARANOID", "tentacle_server : PARANOID", "192.0.2.1", false},
		{"LOCAL", "tentacle_server : LOCAL", "127.0.0.1", false},

		{"v4 exact hit", "tentacle_server : 10.0.0.1", "10.0.0.1", true},
		{"v4 exact miss", "tentacle_server : 10.0.0.1", "10.0.0.10", false},
		{"v4 exact vs v6 client", "tentacle_server : 10.0.0.1", "2001:db8::1", false},

		{"v4 prefix hit", "tentacle_server : 10.0.0.", "10.0.0.77", true},
		{"v4 prefix miss", "tentacle_server : 10.0.0.", "10.0.1.77", false},
		{"v4 one-octet prefix", "tentacle_server : 10.", "10.200.3.4", true},
		{"v4 prefix is per octet", "tentacle_server : 10.", "100.1.1.1", false},

		{"net/mask hit", "tentacle_server : 192.168.0.0/255.255.254.0", "192.168.1.200", true},
		{"net/mask miss", "tentacle_server : 192.168.0.0/255.255.254.0", "192.168.2.1", false},
		{"net/mask non-contiguous", "tentacle_server : 10.0.0.1/255.0.0.255", "10.9.9.1", true},
		{"net/mask non-contiguous miss", "tentacle_server : 10.0.0.1/255.0.0.255", "10.9.9.2", false},
		{"CIDR hit", "tentacle_server : 192.168.0.0/23", "192.168.1.200", true},
		{"CIDR miss", "tentacle_server : 192.168.0.0/23", "192.168.2.1", false},
		{"CIDR /32", "tentacle_server : 192.0.2.7/32", "192.0.2.7", true},
		{"CIDR /0 any v4", "tentacle_server : 0.0.0.0/0", "203.0.113.9", true},
		{"CIDR /0 not v6", "tentacle_server : 0.0.0.0/0", "2001:db8::1", false},

		{"v6 exact hit", "tentacle_server : [2001:db8::1]", "2001:db8::1", true},
		{"v6 exact other spelling", "tentacle_server : [2001:DB8:0:0:0:0:0:1]", "2001:db8::1", true},
		{"v6 exact miss", "tentacle_server : [2001:db8::1]", "2001:db8::2", false},
		{"v6 exact vs v4 client", "tentacle_server : [2001:db8::1]", "192.0.2.1", false},
		{"v6 loopback", "tentacle_server : [::1]", "::1", true},
		{"v6 prefix hit", "tentacle_server : [2001:db8::]/32", "2001:db8:ffff::1", true},
		{"v6 prefix miss", "tentacle_server : [2001:db8::]/32", "2001:db9::1", false},
		{"v6 prefix host bits ignored", "tentacle_server : [2001:db8::1]/64", "2001:db8::ab", true},
		{"v6 /0 not v4", "tentacle_server : [::]/0", "192.0.2.1", false},
		{"v6 zone required", "tentacle_server : [fe80::1%eth0]", "fe80::1%eth0", true},
		{"v6 zone differs", "tentacle_server : [fe80::1%eth0]", "fe80::1%eth1", false},
		{"v6 zone ignored when absent", "tentacle_server : [fe80::1]", "fe80::1%eth1", true},
		{"v6 prefix with zone", "tentacle_server : [fe80::%eth0]/64", "fe80::99%eth0", true},

		{"mapped client exact", "tentacle_server : 10.1.2.3", "::ffff:10.1.2.3", true},
		{"mapped client prefix", "tentacle_server : 10.1.", "::ffff:10.1.2.3", true},
		{"mapped client CIDR", "tentacle_server : 10.0.0.0/8", "::ffff:10.1.2.3", true},
		{"mapped client net/mask", "tentacle_server : 10.0.0.0/255.0.0.0", "::ffff:10.1.2.3", true},
		{"mapped client miss", "tentacle_server : 10.0.0.0/8", "::ffff:11.1.2.3", false},
		{"mapped pattern exact", "tentacle_server : [::ffff:10.1.2.3]", "10.1.2.3", true},
		{"mapped pattern prefix", "tentacle_server : [::ffff:10.0.0.0]/104", "10.5.5.5", true},
		{"mapped pattern prefix miss", "tentacle_server : [::ffff:10.0.0.0]/104", "11.5.5.5", false},

		{"host name", "tentacle_server : localhost", "127.0.0.1", false},
		{"domain suffix", "tentacle_server : .example.com", "192.0.2.1", false},
		{"numeric suffix quirk", "tentacle_server : .1", "10.0.0.1", true},
		{"numeric suffix quirk miss", "tentacle_server : .1", "10.0.0.11", false},
		{"netgroup", "tentacle_server : @trusted", "192.0.2.1", false},
		{"file pattern", "tentacle_server : /etc/tentacle.clients", "192.0.2.1", false},
		{"user@host", "tentacle_server : alice@192.0.2.1", "192.0.2.1", false},
		{"ALL@host", "tentacle_server : ALL@192.0.2.1", "192.0.2.1", false},
		{"user@v6", "tentacle_server : bob@[::1]", "::1", false},

		{"commas and blanks", "tentacle_server : 10.0.0.1,10.0.0.2 ,\t10.0.0.3", "10.0.0.3", true},
		{"list miss", "tentacle_server : 10.0.0.1,10.0.0.2", "10.0.0.3", false},
		{"mixed families", "tentacle_server : [::1], 127.0.0.1", "::1", true},

		{"EXCEPT excluded", "tentacle_server : ALL EXCEPT 10.0.0.0/8", "10.1.1.1", false},
		{"EXCEPT not excluded", "tentacle_server : ALL EXCEPT 10.0.0.0/8", "11.1.1.1", true},
		{"except lower case", "tentacle_server : ALL except 10.0.0.0/8", "10.1.1.1", false},
		{"nested EXCEPT put back", "tentacle_server : 10.0.0.0/8 EXCEPT 10.1.0.0/16 EXCEPT 10.1.2.3", "10.1.2.3", true},
		{"nested EXCEPT carved out", "tentacle_server : 10.0.0.0/8 EXCEPT 10.1.0.0/16 EXCEPT 10.1.2.3", "10.1.2.4", false},
		{"nested EXCEPT outer", "tentacle_server : 10.0.0.0/8 EXCEPT 10.1.0.0/16 EXCEPT 10.1.2.3", "10.2.0.1", true},
		{"nested EXCEPT outside", "tentacle_server : 10.0.0.0/8 EXCEPT 10.1.0.0/16 EXCEPT 10.1.2.3", "11.0.0.1", false},
		{"EXCEPT v6", "tentacle_server : [2001:db8::]/32 EXCEPT [2001:db8::bad]", "2001:db8::bad", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := parse(t, tt.rules+"\n")
			_, got := tab.Match(daemon, netip.MustParseAddr(tt.addr))
			if got != tt.want {
				t.Errorf("rules %q, client %s: matched = %v, want %v", tt.rules, tt.addr, got, tt.want)
			}
		})
	}
}

func TestDaemonPatterns(t *testing.T) {
	tests := []struct {
		name   string
		rules  string
		daemon string
		want   bool
	}{
		{"ALL", "ALL : ALL", daemon, true},
		{"exact", "tentacle_server : ALL", daemon, true},
		{"exact ignores case", "TENTACLE_SERVER : ALL", daemon, true},
		{"other daemon", "sshd : ALL", daemon, false},
		{"in a list", "sshd, tentacle_server : ALL", daemon, true},
		{"not in a list", "sshd vsftpd : ALL", daemon, false},
		{"ALL EXCEPT us", "ALL EXCEPT tentacle_server : ALL", daemon, false},
		{"ALL EXCEPT other", "ALL EXCEPT sshd : ALL", daemon, true},
		{"nested EXCEPT", "ALL EXCEPT tentacle_server sshd EXCEPT tentacle_server : ALL", daemon, true},
		{"daemon@host", "tentacle_server@192.0.2.1 : ALL", daemon, false},
		{"KNOWN", "KNOWN : ALL", daemon, true},
		{"prefix", "in. : ALL", "in.tentacle", true},
		{"prefix miss", "in. : ALL", "tentacle_server", false},
		{"suffix", ".tentacle : ALL", "in.tentacle", true},
		{"name is not a prefix", "tentacle : ALL", daemon, false},
		{"empty name is unknown", "KNOWN : ALL", "", false},
		{"empty name matches ALL", "ALL : ALL", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := parse(t, tt.rules+"\n")
			_, got := tab.Match(tt.daemon, netip.MustParseAddr("192.0.2.1"))
			if got != tt.want {
				t.Errorf("rules %q, daemon %q: matched = %v, want %v", tt.rules, tt.daemon, got, tt.want)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name  string
		rules string
		want  hostsaccess.Action
	}{
		{"none", "ALL : ALL", hostsaccess.ActionDefault},
		{"DENY", "ALL : ALL : DENY", hostsaccess.ActionDeny},
		{"ALLOW", "ALL : ALL : ALLOW", hostsaccess.ActionAllow},
		{"lower case", "ALL : ALL : deny", hostsaccess.ActionDeny},
		{"after other options", "ALL : ALL : severity auth.info : spawn (echo %a) & : ALLOW", hostsaccess.ActionAllow},
		{"escaped colon in option", `ALL : ALL : setenv X a\:b : DENY`, hostsaccess.ActionDeny},
		{"name=value", "ALL : ALL : severity = warning : DENY", hostsaccess.ActionDeny},
		{"twist refuses", "ALL : ALL : twist /bin/echo go away", hostsaccess.ActionDeny},
		{"ignored options only", "ALL : ALL : spawn /bin/false : keepalive : nice", hostsaccess.ActionDefault},
		{"trailing colon", "ALL : ALL :", hostsaccess.ActionDefault},
		{"trailing colon after option", "ALL : ALL : DENY :", hostsaccess.ActionDeny},
		{"v6 client before options", "ALL : [::1] : ALLOW", hostsaccess.ActionAllow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := parse(t, tt.rules+"\n")
			addr := netip.MustParseAddr("192.0.2.1")
			if strings.Contains(tt.rules, "[::1]") {
				addr = netip.MustParseAddr("::1")
			}
			got, ok := tab.Match(daemon, addr)
			if !ok || got != tt.want {
				t.Errorf("rules %q: Match = %v, %v; want %v, true", tt.rules, got, ok, tt.want)
			}
		})
	}
}

func TestFirstRuleWins(t *testing.T) {
	tab := parse(t, "tentacle_server : 10.0.0.1 : DENY\nALL : ALL : ALLOW\nALL : 10.0.0.2 : DENY\n")
	for addr, want := range map[string]hostsaccess.Action{
		"10.0.0.1": hostsaccess.ActionDeny,
		"10.0.0.2": hostsaccess.ActionAllow,
	} {
		got, ok := tab.Match(daemon, netip.MustParseAddr(addr))
		if !ok || got != want {
			t.Errorf("%s: Match = %v, %v; want %v, true", addr, got, ok, want)
		}
	}
}

func TestLayout(t *testing.T) {
	const file = "# leading comment\n" +
		"   # indented comment\n" +
		"\n" +
		"\t \n" +
		"tentacle_server : 10.0.0.1, \\\n" +
		"    10.0.0.2 # trailing comment\n" +
		"sshd : ALL\n" +
		"tentacle_server : 192.168.\\\n" +
		"1.5\n" +
		"tentacle_server : 10.0.0.9 # : DENY is inside the comment\n" +
		"tentacle_server : 10.0.0.10\r\n" +
		"tentacle_server \\\n" +
		": 10.0.0.11\n" +
		"tentacle_server : 10.0.0.12 \\" // continuation, then end of input
	tab := parse(t, file)
	tests := []struct {
		addr string
		want bool
		act  hostsaccess.Action
	}{
		{"10.0.0.1", true, hostsaccess.ActionDefault},
		{"10.0.0.2", true, hostsaccess.ActionDefault},
		{"10.0.0.3", false, hostsaccess.ActionDefault},
		{"192.168.1.5", true, hostsaccess.ActionDefault},
		{"10.0.0.9", true, hostsaccess.ActionDefault},
		{"10.0.0.10", true, hostsaccess.ActionDefault},
		{"10.0.0.11", true, hostsaccess.ActionDefault},
		{"10.0.0.12", true, hostsaccess.ActionDefault},
	}
	for _, tt := range tests {
		act, ok := tab.Match(daemon, netip.MustParseAddr(tt.addr))
		if ok != tt.want || act != tt.act {
			t.Errorf("%s: Match = %v, %v; want %v, %v", tt.addr, act, ok, tt.act, tt.want)
		}
	}
}

func TestEmptyInput(t *testing.T) {
	for _, text := range []string{"", "\n\n", "# only a comment\n", "  \\\n\n", " \\"} {
		tab := parse(t, text)
		if _, ok := tab.Match(daemon, netip.MustParseAddr("192.0.2.1")); ok {
			t.Errorf("%q: an empty table matched", text)
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		line int
		msg  string
	}{
		{"no colon", "tentacle_server 10.0.0.1\n", 1, `missing ":"`},
		{"no colon later", "# c\n\nALL : ALL\nbroken line\n", 4, `missing ":"`},
		{"after continuation", "ALL : 10.0.0.1,\\\n  10.0.0.2\nbad\n", 3, `missing ":"`},
		{"error on continued line", "ALL : ALL\nALL : 10.0.0.1,\\\n 10.0.0.300\n", 2, "not an IPv4 address"},
		{"empty daemon list", " : ALL\n", 1, "list is empty"},
		{"empty client list", "ALL : \n", 1, "list is empty"},
		{"commas only", "ALL : , ,\n", 1, "list is empty"},
		{"EXCEPT first", "ALL : EXCEPT 10.0.0.1\n", 1, "EXCEPT must follow"},
		{"EXCEPT last", "ALL : 10.0.0.1 EXCEPT\n", 1, "EXCEPT must be followed"},
		{"EXCEPT twice", "ALL : 1.1.1.1 EXCEPT EXCEPT 2.2.2.2\n", 1, "EXCEPT must follow"},
		{"EXCEPT daemon", "EXCEPT sshd : ALL\n", 1, "daemon list"},
		{"octet too big", "ALL : 10.0.0.256\n", 1, "not an IPv4 address"},
		{"three octets no dot", "ALL : 10.0.0\n", 1, "not an IPv4 address"},
		{"leading zero", "ALL : 010.0.0.1\n", 1, "not an IPv4 address"},
		{"four-octet prefix", "ALL : 1.2.3.4.\n", 1, "more than three octets"},
		{"bad prefix octet", "ALL : 1.300.\n", 1, "bad octet"},
		{"host bits", "ALL : 10.0.0.1/8\n", 1, "bits set outside mask"},
		{"host bits mask", "ALL : 10.0.0.1/255.255.255.0\n", 1, "bits set outside mask"},
		{"prefix too long", "ALL : 10.0.0.0/33\n", 1, "out of range"},
		{"bad mask", "ALL : 10.0.0.0/255.0.0.256\n", 1, "bad netmask"},
		{"bad mask word", "ALL : 10.0.0.0/abc\n", 1, "bad prefix length"},
		{"name/mask", "ALL : foo/8\n", 1, "bad network"},
		{"unclosed bracket", "ALL : [::1\n", 1, "[address]"},
		{"v4 in brackets", "ALL : [192.0.2.1]\n", 1, "IPv6"},
		{"bad v6", "ALL : [zz::1]\n", 1, "bad IPv6 address"},
		{"v6 prefix too long", "ALL : [::1]/129\n", 1, "out of range"},
		{"unknown option", "ALL : ALL : bogus\n", 1, "unknown option"},
		{"DENY not last", "ALL : ALL : DENY : spawn /bin/true\n", 1, "must be the last"},
		{"ALLOW with value", "ALL : ALL : allow=yes\n", 1, "takes no value"},
		{"spawn without value", "ALL : ALL : spawn\n", 1, "needs a value"},
		{"empty option", "ALL : ALL : : DENY\n", 1, "missing option name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := hostsaccess.Parse(strings.NewReader(tt.text), "/etc/hosts.test")
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want an error", tt.text)
			}
			var se *hostsaccess.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *SyntaxError", err, err)
			}
			if se.File != "/etc/hosts.test" || se.Line != tt.line {
				t.Errorf("error at %s:%d, want /etc/hosts.test:%d", se.File, se.Line, tt.line)
			}
			prefix := "/etc/hosts.test:" + strconv.Itoa(tt.line) + ": "
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q: want prefix %q and text %q", err, prefix, tt.msg)
			}
		})
	}
}

func TestSyntaxErrorUnwrap(t *testing.T) {
	_, err := hostsaccess.Parse(strings.NewReader("ALL : [zz::1]\n"), "f")
	var se *hostsaccess.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a *SyntaxError", err)
	}
	if errors.Unwrap(se) == nil {
		t.Errorf("%v: Unwrap returned nil, want the address parse error", se)
	}
}

// failingReader returns an I/O error after some data, to check that read
// errors are reported and are not mistaken for syntax errors.
type failingReader struct{ data string }

var errDisk = errors.New("disk on fire")

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, errDisk
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestParseReadError(t *testing.T) {
	_, err := hostsaccess.Parse(&failingReader{data: "ALL : ALL\n"}, "x")
	if !errors.Is(err, errDisk) {
		t.Fatalf("err = %v, want it to wrap %v", err, errDisk)
	}
	var se *hostsaccess.SyntaxError
	if errors.As(err, &se) {
		t.Errorf("read error reported as a syntax error: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "x:2: ") {
		t.Errorf("err = %q, want it to name the file and line", err)
	}
}

func TestActionString(t *testing.T) {
	for a, want := range map[hostsaccess.Action]string{
		hostsaccess.ActionDefault: "default",
		hostsaccess.ActionAllow:   "allow",
		hostsaccess.ActionDeny:    "deny",
		hostsaccess.Action(42):    "Action(42)",
	} {
		if got := a.String(); got != want {
			t.Errorf("Action(%d).String() = %q, want %q", int(a), got, want)
		}
	}
}
