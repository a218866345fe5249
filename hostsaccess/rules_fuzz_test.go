package hostsaccess

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse parses arbitrary text as a hosts.allow or hosts.deny file and
// matches what parses against addresses. The files are the administrator's,
// but a typo must not crash a server that reads them for every connection,
// and the documented reading must hold whatever the text:
//
//   - Parse never panics; it fails with a *SyntaxError naming the file and
//     a line of the text, and keeps rules in order with their lines;
//   - Match never panics, for any daemon name and any address (the zero
//     address included), and says ActionDefault when no rule applies;
//   - an IPv4-mapped client (::ffff:a.b.c.d) is matched as a.b.c.d;
//   - daemon names compare ignoring ASCII case;
//   - only the first applicable rule counts: a final "ALL : ALL : DENY"
//     changes only what matched nothing;
//   - "\r\n" line ends read as "\n" ones (files edited on Windows).
func FuzzParse(f *testing.F) {
	for _, s := range []struct{ rules, daemon, addr string }{
		{"tentacle_server : 10.0.0.1", "tentacle_server", "10.0.0.1"},
		{"ALL : ALL EXCEPT 192.168.0.0/255.255.0.0 EXCEPT 192.168.1.", "tentacle_server", "192.168.1.7"},
		{"tentacle_server, sshd : [2001:db8::]/32 [fe80::1%eth0] : ALLOW", "sshd", "2001:db8::5"},
		{"ALL EXCEPT tentacle_server : ALL : spawn /bin/echo %a\\: x : DENY", "in.telnetd", "::ffff:10.1.2.3"},
		{"# comment\n\ntentacle_ : .1 .example.com KNOWN LOCAL @group /etc/file user@host\n", "tentacle_server", "10.0.0.1"},
		{"tentacle_server : 10.0.0.0/8 \\\n  172.16.0.0/12 # a comment\r\n", "TENTACLE_SERVER", "172.20.0.1"},
		{"tentacle_server : [::ffff:10.0.0.0]/104 : twist /bin/false", "tentacle_server", "10.9.9.9"},
		{".server : 0.0.0.0/0 : rfc931 : nice 5 : severity auth.info : keepalive", "tentacle_server", "203.0.113.9"},
		{"tentacle_server@127.0.0.1 : ALL", "tentacle_server", "127.0.0.1"},
		{"KNOWN : UNKNOWN PARANOID", "", "192.0.2.1"},
		{"tentacle_server : 10.0.0.1/255.0.0.0", "tentacle_server", "10.0.0.1"},
		{"tentacle_server :", "tentacle_server", "10.0.0.1"},
		{"tentacle_server : EXCEPT ALL", "tentacle_server", "10.0.0.1"},
		{"tentacle_server : [10.0.0.1]", "tentacle_server", "10.0.0.1"},
		{"tentacle_server : ALL : bogus", "tentacle_server", "10.0.0.1"},
	} {
		var addr []byte
		if a, err := netip.ParseAddr(s.addr); err == nil {
			addr, _ = a.MarshalBinary()
		}
		f.Add(s.rules, s.daemon, addr)
	}
	f.Fuzz(func(t *testing.T, rules, daemon string, addr []byte) {
		const name = "fuzz.rules"
		tab, err := Parse(strings.NewReader(rules), name)
		lines := strings.Count(rules, "\n") + 1
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.File != name || se.Line < 1 || se.Line > lines || tab != nil {
				t.Fatalf("Parse(%q) = %v, %v: want a *SyntaxError for %s at a line of the text", rules, tab, err, name)
			}
			return
		}
		for i, r := range tab.rules {
			if r.line < 1 || r.line > lines || i > 0 && r.line <= tab.rules[i-1].line {
				t.Fatalf("Parse(%q): rule %d on line %d", rules, i, r.line)
			}
		}

		// ALL : ALL after whatever the text ends with, even a backslash.
		denyAll, err := Parse(strings.NewReader(rules+"\n\nALL : ALL : DENY\n"), name)
		if err != nil {
			t.Fatalf("Parse(%q) with ALL : ALL : DENY appended: %v", rules, err)
		}
		if !strings.Contains(rules, "\r") {
			crlf, err := Parse(strings.NewReader(strings.ReplaceAll(rules, "\n", "\r\n")), name)
			if err != nil || !reflect.DeepEqual(crlf, tab) {
				t.Fatalf("Parse(%q) with \\r\\n line ends: %v, %v; with \\n: %v", rules, crlf, err, tab)
			}
		}

		for _, a := range fuzzAddrs(rules, addr) {
			for _, d := range []string{daemon, "", "tentacle_server"} {
				action, ok := tab.Match(d, a)
				if action < ActionDefault || action > ActionDeny || !ok && action != ActionDefault {
					t.Fatalf("Match(%q, %v) = %v, %v", d, a, action, ok)
				}
				if a.Is4() {
					mapped := netip.AddrFrom16(a.As16())
					if ma, mok := tab.Match(d, mapped); ma != action || mok != ok {
						t.Fatalf("rules %q: Match(%q, %v) = %v, %v but %v gives %v, %v", rules, d, a, action, ok, mapped, ma, mok)
					}
				}
				if sa, sok := tab.Match(swapASCIICase(d), a); sa != action || sok != ok {
					t.Fatalf("rules %q: Match(%q, %v) = %v, %v but %q gives %v, %v", rules, d, a, action, ok, swapASCIICase(d), sa, sok)
				}
				wantAction := action
				if !ok {
					wantAction = ActionDeny
				}
				if da, dok := denyAll.Match(d, a); da != wantAction || !dok {
					t.Fatalf("rules %q: Match(%q, %v) = %v, %v but with ALL : ALL : DENY appended %v, %v", rules, d, a, action, ok, da, dok)
				}
			}
		}
	})
}

// fuzzAddrs returns the addresses to match a fuzzed table against: the
// fuzzer's own (4 or 16 bytes, with a zone after them), the invalid zero
// address, and every address written in the rules, so that address
// patterns get clients that can hit them.
func fuzzAddrs(rules string, raw []byte) []netip.Addr {
	addrs := []netip.Addr{{}}
	switch {
	case len(raw) >= 16:
		addrs = append(addrs, netip.AddrFrom16([16]byte(raw)).WithZone(string(raw[16:])))
	case len(raw) >= 4:
		addrs = append(addrs, netip.AddrFrom4([4]byte(raw)))
	}
	for _, w := range strings.FieldsFunc(rules, func(r rune) bool { return strings.ContainsRune(listSeparators+"[]/\\", r) }) {
		// An IPv6 address has colons; an IPv4 one may end a daemon list.
		for _, c := range append(strings.Split(w, ":"), w) {
			if a, err := netip.ParseAddr(c); err == nil && len(addrs) < 64 {
				addrs = append(addrs, a, a.Next(), a.Prev())
			}
		}
	}
	return addrs
}

// swapASCIICase swaps the case of ASCII letters only: the daemon names a
// rule is matched with ignore case, and this change of case keeps every
// byte where it was.
func swapASCIICase(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
			b[i] = c ^ 0x20
		}
	}
	return string(b)
}
