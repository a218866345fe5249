package options

import (
	"errors"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// testEnv holds files that option values can name. Arguments and
// configuration text use placeholders for them: {dir} (a storage
// directory), {cert}, {key}, {ca} (regular files), {conf} (the
// configuration file of the test case) and {missing} (a path that does not
// exist).
type testEnv struct {
	root string
	r    *strings.Replacer
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"store"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"cert.pem", "key.pem", "ca.pem"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &testEnv{root: root, r: strings.NewReplacer(
		"{dir}", filepath.Join(root, "store"),
		"{cert}", filepath.Join(root, "cert.pem"),
		"{key}", filepath.Join(root, "key.pem"),
		"{ca}", filepath.Join(root, "ca.pem"),
		"{conf}", filepath.Join(root, "tentacle.conf"),
		"{missing}", filepath.Join(root, "missing"),
		"{root}", root,
	)}
}

func (e *testEnv) expand(s string) string { return e.r.Replace(s) }

func (e *testEnv) args(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = e.expand(a)
	}
	return out
}

// writeConf writes the case's configuration file (if any).
func (e *testEnv) writeConf(t *testing.T, conf string) {
	t.Helper()
	if conf == "" {
		return
	}
	if err := os.WriteFile(e.expand("{conf}"), []byte(e.expand(conf)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseServerDefaults(t *testing.T) {
	env := newTestEnv(t)
	s, err := ParseServer(env.args([]string{"-s", "{dir}"}))
	if err != nil {
		t.Fatal(err)
	}
	want := &Server{
		Port:           41121,
		Directory:      env.expand("{dir}"),
		MaxSize:        2000000,
		MaxConnections: 0, // the default, bounded at start by the open-file limit
		Timeout:        1,
		Retries:        3,
		ProxyPort:      41121,
		BlockSize:      1024,
		InvalidChars:   `?[]/\=+<>:;',*~`,
		User:           "pandora",
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", s, want)
	}
}

func TestParseServer(t *testing.T) {
	tests := []struct {
		name string
		args []string
		conf string
		// want edits a Server holding the defaults and Directory {dir}.
		want func(s *Server)
	}{
		{"storage directory only", []string{"-s", "{dir}"}, "", func(s *Server) {}},
		{"trailing slashes removed", []string{"-s", "{dir}//"}, "", func(s *Server) {}},
		{"root stays root", []string{"-s", "/"}, "", func(s *Server) { s.Directory = "/" }},
		{"addresses", []string{"-s", "{dir}", "-a", " 127.0.0.1 , ::1,\tlocalhost ,fe80::1%eth0,0"}, "",
			func(s *Server) { s.Addresses = []string{"127.0.0.1", "::1", "localhost", "fe80::1%eth0", "0"} }},
		{"address 0 kept", []string{"-s", "{dir}", "-a", "0"}, "", func(s *Server) { s.Addresses = []string{"0"} }},
		{"address any", []string{"-s", "{dir}", "-a0.0.0.0,::"}, "", func(s *Server) { s.Addresses = []string{"0.0.0.0", "::"} }},
		{"host names", []string{"-s", "{dir}", "-a", "tentacle-1.example.com,my_host,a.,x"}, "",
			func(s *Server) { s.Addresses = []string{"tentacle-1.example.com", "my_host", "a.", "x"} }},
		{"longest host name", []string{"-s", "{dir}", "-a", strings.Repeat("a", 63) + "." + strings.Repeat("b.", 93) + "com"}, "",
			func(s *Server) {
				s.Addresses = []string{strings.Repeat("a", 63) + "." + strings.Repeat("b.", 93) + "com"}
			}},
		{"port", []string{"-s", "{dir}", "-p", "1"}, "", func(s *Server) { s.Port = 1 }},
		{"port max, attached", []string{"-s", "{dir}", "-p65535"}, "", func(s *Server) { s.Port = 65535 }},
		{"port leading zeros are decimal", []string{"-s", "{dir}", "-p", "0080"}, "", func(s *Server) { s.Port = 80 }},
		{"max size", []string{"-s", "{dir}", "-m", "10000000000"}, "", func(s *Server) { s.MaxSize = 10000000000 }},
		{"overwrite", []string{"-s", "{dir}", "-o"}, "", func(s *Server) { s.Overwrite = true }},
		{"max connections", []string{"-s", "{dir}", "-c", "200"}, "", func(s *Server) { s.MaxConnections = 200 }},
		{"timeout", []string{"-s", "{dir}", "-t", "30"}, "", func(s *Server) { s.Timeout = 30 }},
		{"retries", []string{"-s", "{dir}", "-r", "1"}, "", func(s *Server) { s.Retries = 1 }},
		{"password", []string{"-s", "{dir}", "-x", "sec ret"}, "", func(s *Server) { s.Password = "sec ret" }},
		{"password that looks like an option", []string{"-s", "{dir}", "-x", "-v"}, "", func(s *Server) { s.Password = "-v" }},
		{"TLS", []string{"-s", "{dir}", "-e", "{cert}", "-k", "{key}", "-f", "{ca}", "-w", "-z", "TLSv1_2", "-u", "AES256-SHA"}, "",
			func(s *Server) {
				s.SSLCert, s.SSLKey, s.SSLCA = "{cert}", "{key}", "{ca}"
				s.SSLPasswordPrompt, s.SSLVersion, s.SSLCipher = true, "TLSv1_2", "AES256-SHA"
			}},
		{"filters kept raw", []string{"-s", "{dir}", "-i", `.*\.conf:conf;.*\.md5:md5`}, "", func(s *Server) { s.Filters = `.*\.conf:conf;.*\.md5:md5` }},
		{"insecure", []string{"-s", "{dir}", "-I"}, "", func(s *Server) { s.Insecure = true }},
		{"relay without storage", []string{"-b", "10.0.0.1", "-g", "41122"}, "",
			func(s *Server) { s.Directory, s.ProxyAddress, s.ProxyPort = "", "10.0.0.1", 41122 }},
		{"relay with storage", []string{"-s", "{dir}", "-b", "up.example.com"}, "", func(s *Server) { s.ProxyAddress = "up.example.com" }},
		{"daemon", []string{"-s", "{dir}", "-d"}, "", func(s *Server) { s.Daemon = true }},
		{"log file", []string{"-s", "{dir}", "-l", "/var/log/tentacle.log"}, "", func(s *Server) { s.LogFile = "/var/log/tentacle.log" }},
		{"-v", []string{"-s", "{dir}", "-v"}, "", func(s *Server) { s.Verbosity = 1 }},
		{"-V", []string{"-s", "{dir}", "-V"}, "", func(s *Server) { s.Verbosity = 2 }},
		{"-V wins over a later -v", []string{"-s", "{dir}", "-V", "-v"}, "", func(s *Server) { s.Verbosity = 2 }},
		{"quiet", []string{"-s", "{dir}", "-q"}, "", func(s *Server) { s.Quiet = true }},
		{"libwrap", []string{"-s", "{dir}", "-T"}, "", func(s *Server) { s.UseLibwrap = true }},
		{"balancers", []string{"-s", "{dir}", "-P", " 192.0.2.1 , 10.0.0.0/8,172.16.0.0/255.240.0.0,\t2001:db8::1,[2001:db8::2], [2001:db8:1::]/48,2001:db8:2::/64,::ffff:192.0.2.9,0.0.0.0/0"}, "",
			func(s *Server) {
				s.ProxyFrom = prefixes("192.0.2.1/32", "10.0.0.0/8", "172.16.0.0/12", "2001:db8::1/128", "2001:db8::2/128",
					"2001:db8:1::/48", "2001:db8:2::/64", "192.0.2.9/32", "0.0.0.0/0")
			}},
		{"balancers, the command line wins", []string{"-F", "{conf}", "-P", "127.0.0.1"}, "directory {dir}\nproxy_protocol_from 10.0.0.1\n",
			func(s *Server) { s.ConfigFile, s.ProxyFrom = "{conf}", prefixes("127.0.0.1/32") }},
		{"service install", []string{"-S", "install", "-s", "{dir}"}, "", func(s *Server) { s.Service = "install" }},
		{"service run", []string{"-S", "run", "-s", "{dir}"}, "", func(s *Server) { s.Service = "run" }},
		{"service uninstall needs no directory", []string{"-S", "uninstall"}, "", func(s *Server) { s.Service, s.Directory = "uninstall", "" }},
		{"user", []string{"-s", "{dir}", "-U", "tentacle"}, "", func(s *Server) { s.User = "tentacle" }},
		{"bundled", []string{"-dvIoqs{dir}", "-p41122"}, "", func(s *Server) {
			s.Daemon, s.Verbosity, s.Insecure, s.Overwrite, s.Quiet, s.Port = true, 1, true, true, true, 41122
		}},
		{"double dash", []string{"-s", "{dir}", "--"}, "", func(s *Server) {}},
		{"help skips validation", []string{"-p", "nope", "-h"}, "", func(s *Server) { *s = *newServer(); s.Help = true }},
		{"long help", []string{"--help"}, "", func(s *Server) { *s = *newServer(); s.Help = true }},

		// Configuration file.
		{"config file", []string{"-F", "{conf}"}, `
# Tentacle Server Parameters
addresses 127.0.0.1, ::1
port 41122
max_connections 20
daemon 1
insecure 1
filters .*\.conf:conf;.*\.md5:md5
max_size 5000
overwrite 1
quiet 1
retries 5
directory {dir}/
proxy_ip 192.168.1.1
proxy_port 41123
timeout 7
verbose 1
log_file /var/log/tentacle.log
password PASSWORD
ssl_cert {cert}
ssl_ca {ca}
ssl_key {key}
ssl_password 1
ssl_version TLSv1_3
ssl_cipher HIGH
use_libwrap 1
proxy_protocol_from 10.0.0.1, 10.0.1.0/24
block_size 4096
invalid_chars \?\/
`, func(s *Server) {
			s.ConfigFile = "{conf}"
			s.Addresses = []string{"127.0.0.1", "::1"}
			s.Port, s.MaxConnections, s.Daemon, s.Insecure = 41122, 20, true, true
			s.Filters, s.MaxSize, s.Overwrite, s.Quiet, s.Retries = `.*\.conf:conf;.*\.md5:md5`, 5000, true, true, 5
			s.ProxyAddress, s.ProxyPort, s.Timeout, s.Verbosity = "192.168.1.1", 41123, 7, 1
			s.LogFile, s.Password = "/var/log/tentacle.log", "PASSWORD"
			s.SSLCert, s.SSLCA, s.SSLKey, s.SSLPasswordPrompt = "{cert}", "{ca}", "{key}", true
			s.SSLVersion, s.SSLCipher, s.UseLibwrap = "TLSv1_3", "HIGH", true
			s.ProxyFrom = prefixes("10.0.0.1/32", "10.0.1.0/24")
			s.BlockSize, s.InvalidChars = 4096, "?/"
		}},
		{"Pandora's sample file", []string{"-F", "{conf}"}, `##########################################################################
# Tentacle Server Parameters
##########################################################################

# [-a] IPv4 address to listen on. Several IPs cam be selected separating if by comma.
addresses 0.0.0.0

# [-p] Port to listen on
port 41121

# [-c] Maximum number of simultaneous connections
# max_connections 10

# [-d] Run as daemon. 1 true, 0 false
daemon 1

# Filters (regexp:dir;regexp:dir...)
filters .*\.conf:conf;.*\.md5:md5;.*\.zip:collections;.*\.lock:trans

#max_size 2000000

# [-s] Storage directory
directory {dir}

# verbose 0

# [-l] Log file
log_file /dev/null

# [-w] SSL password. Set to 1 to ask for password by command line
# ssl_password 0
`, func(s *Server) {
			s.ConfigFile, s.Addresses, s.Daemon, s.LogFile = "{conf}", []string{"0.0.0.0"}, true, "/dev/null"
			s.Filters = `.*\.conf:conf;.*\.md5:md5;.*\.zip:collections;.*\.lock:trans`
		}},
		{"CRLF line ends", []string{"-F", "{conf}"}, "directory {dir}\r\nport 41122\r\ndaemon 1\r\npassword pw\r\n",
			func(s *Server) { s.ConfigFile, s.Port, s.Daemon, s.Password = "{conf}", 41122, true, "pw" }},
		{"no final newline", []string{"-F", "{conf}"}, "directory {dir}\nport 41122",
			func(s *Server) { s.ConfigFile, s.Port = "{conf}", 41122 }},
		{"tabs and runs of blanks separate", []string{"-F", "{conf}"}, "directory\t{dir}\nport \t  41122\n",
			func(s *Server) { s.ConfigFile, s.Port = "{conf}", 41122 }},
		{"value keeps inner blanks", []string{"-F", "{conf}"}, "directory {dir}\npassword two  words\n",
			func(s *Server) { s.ConfigFile, s.Password = "{conf}", "two  words" }},
		{"lines not starting with a letter are ignored", []string{"-F", "{conf}"},
			"directory {dir}\n#port 1\n port 2\n\tport 3\n1port 4\n;port 5\n\n",
			func(s *Server) { s.ConfigFile = "{conf}" }},
		{"empty values are ignored", []string{"-F", "{conf}"}, "directory {dir}\nport 41122\nport \nport\nport\t\t\npassword\n",
			func(s *Server) { s.ConfigFile, s.Port = "{conf}", 41122 }},
		{"last value wins", []string{"-F", "{conf}"}, "directory {dir}\nport 1\nport 2\n",
			func(s *Server) { s.ConfigFile, s.Port = "{conf}", 2 }},
		{"booleans are on only with 1", []string{"-F", "{conf}"}, "directory {dir}\ndaemon 0\ninsecure 1\noverwrite 2\n",
			func(s *Server) {
				s.ConfigFile, s.Insecure = "{conf}", true
				s.Warnings = []string{`config {conf}: line 4: overwrite "2": only 1 turns this setting on (0 turns it off); taken as off`}
			}},
		{"boolean with trailing blank is off", []string{"-F", "{conf}"}, "directory {dir}\nquiet 1 \n",
			func(s *Server) {
				s.ConfigFile = "{conf}"
				s.Warnings = []string{`config {conf}: line 2: quiet "1 ": only 1 turns this setting on (0 turns it off); taken as off`}
			}},
		{"byte order mark", []string{"-F", "{conf}"}, "\xef\xbb\xbfdirectory {dir}\n",
			func(s *Server) { s.ConfigFile = "{conf}" }},
		{"unknown keys are warnings", []string{"-F", "{conf}"}, "directory {dir}\nuser pandora\nPort 1\nport=41122\nssl-cert x\n",
			func(s *Server) {
				s.ConfigFile = "{conf}"
				s.Warnings = []string{
					`config {conf}: line 2: unknown key "user" ignored`,
					`config {conf}: line 3: unknown key "Port" ignored`,
					`config {conf}: line 4: "port=41122" is not a "key value" line (the key must be followed by a blank); line ignored`,
					`config {conf}: line 5: unknown key "ssl-cert" ignored`,
				}
			}},
		{"verbose 2", []string{"-F", "{conf}"}, "directory {dir}\nverbose 2\n",
			func(s *Server) { s.ConfigFile, s.Verbosity = "{conf}", 2 }},
		{"verbose 0", []string{"-F", "{conf}"}, "directory {dir}\nverbose 0\n",
			func(s *Server) { s.ConfigFile = "{conf}" }},
		{"verbose other", []string{"-F", "{conf}"}, "directory {dir}\nverbose 3\n",
			func(s *Server) {
				s.ConfigFile = "{conf}"
				s.Warnings = []string{`config {conf}: line 2: verbose "3": the level is 0, 1 or 2; taken as 0`}
			}},
		{"-v wins over verbose 2", []string{"-F", "{conf}", "-v"}, "directory {dir}\nverbose 2\n",
			func(s *Server) { s.ConfigFile, s.Verbosity = "{conf}", 1 }},
		{"-V wins over verbose 1", []string{"-V", "-F", "{conf}"}, "directory {dir}\nverbose 1\n",
			func(s *Server) { s.ConfigFile, s.Verbosity = "{conf}", 2 }},
		{"command line wins over the file", []string{"-F", "{conf}", "-p", "41125", "-x", "", "-a", "::1", "-m", "7"},
			"directory {dir}\nport 1\npassword secret\naddresses 1.2.3.4\nmax_size 9\n",
			func(s *Server) {
				s.ConfigFile, s.Port, s.Addresses, s.MaxSize = "{conf}", 41125, []string{"::1"}, 7
			}},
		{"command line wins even for bad file values", []string{"-F", "{conf}", "-s", "{dir}", "-c", "3"}, "directory {missing}\nmax_connections x\n",
			func(s *Server) { s.ConfigFile, s.MaxConnections = "{conf}", 3 }},
		{"file booleans add to command-line ones", []string{"-F", "{conf}", "-o"}, "directory {dir}\ndaemon 1\noverwrite 0\n",
			func(s *Server) { s.ConfigFile, s.Daemon, s.Overwrite = "{conf}", true, true }},
		{"relay from the file", []string{"-F", "{conf}"}, "proxy_ip 10.1.1.1\n",
			func(s *Server) { s.ConfigFile, s.Directory, s.ProxyAddress = "{conf}", "", "10.1.1.1" }},
		{"invalid_chars as the reference writes it", []string{"-F", "{conf}"}, "directory {dir}\ninvalid_chars \\?\\[\\]\\/\\\\\\=\\+\\<\\>\\:\\;\\'\\,\\*\\~\n",
			func(s *Server) { s.ConfigFile = "{conf}" }},
		{"invalid_chars ranges and escapes", []string{"-F", "{conf}"}, "directory {dir}\ninvalid_chars \\x00-\\x1f\\x7f/\\\\ \n",
			func(s *Server) {
				s.ConfigFile = "{conf}"
				s.InvalidChars = string(append(runeRange(0, 0x1f), 0x7f, '/', '\\', ' '))
			}},
		{"-F given twice: the last one", []string{"-F", "{missing}", "-F", "{conf}"}, "directory {dir}\n",
			func(s *Server) { s.ConfigFile = "{conf}" }},

		// Notes about settings without effect.
		{"TLS settings without certificate", []string{"-s", "{dir}", "-k", "{key}", "-f", "{ca}", "-w", "-z", "TLSv1_2", "-u", "HIGH"}, "",
			func(s *Server) {
				s.SSLKey, s.SSLCA, s.SSLPasswordPrompt, s.SSLVersion, s.SSLCipher = "{key}", "{ca}", true, "TLSv1_2", "HIGH"
				s.Warnings = []string{
					"-k (ssl_key) has no effect without a certificate (-e, ssl_cert): TLS is off",
					"-f (ssl_ca) has no effect without a certificate (-e, ssl_cert): TLS is off",
					"-w (ssl_password) has no effect without a certificate (-e, ssl_cert): TLS is off",
					"-z (ssl_version) has no effect without a certificate (-e, ssl_cert): TLS is off",
					"-u (ssl_cipher) has no effect without a certificate (-e, ssl_cert): TLS is off",
				}
			}},
		{"ssl_password 0 is no note", []string{"-F", "{conf}"}, "directory {dir}\nssl_password 0\n",
			func(s *Server) { s.ConfigFile = "{conf}" }},
		{"relay port without relay", []string{"-s", "{dir}", "-g", "1"}, "",
			func(s *Server) {
				s.ProxyPort = 1
				s.Warnings = []string{"-g (proxy_port) has no effect without a relay address (-b, proxy_ip)"}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t)
			env.writeConf(t, tt.conf)
			got, err := ParseServer(env.args(tt.args))
			if err != nil {
				t.Fatalf("ParseServer(%q): %v", tt.args, err)
			}
			want := newServer()
			want.Directory = "{dir}"
			tt.want(want)
			expandServer(env, want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ParseServer(%q):\n got %+v\nwant %+v", tt.args, got, want)
			}
		})
	}
}

func prefixes(nets ...string) []netip.Prefix {
	var ps []netip.Prefix
	for _, n := range nets {
		ps = append(ps, netip.MustParsePrefix(n))
	}
	return ps
}

// expandServer replaces the placeholders in the string fields of a
// wanted Server.
func expandServer(env *testEnv, s *Server) {
	for _, p := range []*string{&s.Directory, &s.ConfigFile, &s.SSLCert, &s.SSLKey, &s.SSLCA} {
		*p = env.expand(*p)
	}
	for i := range s.Warnings {
		s.Warnings[i] = env.expand(s.Warnings[i])
	}
}

func TestParseServerErrors(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		conf  string
		usage bool   // a *UsageError, else a *ValueError
		msg   string // the message starts with this (after expansion)
		also  string // and contains this
	}{
		// Usage errors.
		{"unknown option", []string{"-s", "{dir}", "-y"}, "", true, "-y: unknown option", ""},
		{"missing value", []string{"-s"}, "", true, "-s: missing value", "-s DIRECTORY"},
		{"neither storage nor relay", nil, "", true, "-s: a storage directory is required", "-b ADDRESS"},
		{"neither storage nor relay in the file", []string{"-F", "{conf}"}, "port 41121\n", true, "-s: a storage directory is required", ""},
		{"flags only", []string{"-v"}, "", true, "-s: a storage directory is required", ""},
		{"argument after the options", []string{"-s", "{dir}", "extra"}, "", true, "unexpected argument extra", "only options"},
		{"options after an argument are not read", []string{"file", "-s", "{dir}"}, "", true, "unexpected argument file", ""},
		{"argument after double dash", []string{"-s", "{dir}", "--", "-v"}, "", true, "unexpected argument -v", ""},
		{"unknown option beats help", []string{"-h", "-j"}, "", true, "-j: unknown option", ""},

		// Values on the command line.
		{"address", []string{"-s", "{dir}", "-a", "1.2.3.256"}, "", false, "-a 1.2.3.256: listen address 1.2.3.256: not an IPv4 address", ""},
		{"address with leading zero", []string{"-s", "{dir}", "-a", "010.0.0.1"}, "", false, "-a 010.0.0.1: listen address", "or 0 for all"},
		{"address in a list", []string{"-s", "{dir}", "-a", "127.0.0.1, bad host"}, "", false, `-a "127.0.0.1, bad host": listen address "bad host"`, ""},
		{"empty address in a list", []string{"-s", "{dir}", "-a", "127.0.0.1,,::1"}, "", false, "-a 127.0.0.1,,::1: empty address", ""},
		{"empty address", []string{"-s", "{dir}", "-a", ""}, "", false, `-a "": empty address`, ""},
		{"bad IPv6", []string{"-s", "{dir}", "-a", "fe80:::1"}, "", false, "-a fe80:::1: listen address", ""},
		{"host name with dash at the end", []string{"-s", "{dir}", "-a", "host-"}, "", false, "-a host-: listen address", ""},
		{"port 0", []string{"-s", "{dir}", "-p", "0"}, "", false, "-p 0: port must be a whole number from 1 to 65535", ""},
		{"port too big", []string{"-s", "{dir}", "-p", "65536"}, "", false, "-p 65536: port must be a whole number from 1 to 65535", ""},
		{"port huge", []string{"-s", "{dir}", "-p", "99999999999999999999999"}, "", false, "-p 99999999999999999999999: port must be", ""},
		{"port with sign", []string{"-s", "{dir}", "-p", "+80"}, "", false, "-p +80: port must be", ""},
		{"port with blank", []string{"-s", "{dir}", "-p", "80 "}, "", false, `-p "80 ": port must be`, ""},
		{"port not a number", []string{"-s", "{dir}", "-p", "http"}, "", false, "-p http: port must be", ""},
		{"empty port", []string{"-s", "{dir}", "-p", ""}, "", false, `-p "": port must be`, ""},
		{"max connections 0", []string{"-s", "{dir}", "-c", "0"}, "", false, "-c 0: maximum connections must be a whole number ≥ 1", ""},
		{"max connections negative", []string{"-s", "{dir}", "-c", "-1"}, "", false, "-c -1: maximum connections must be a whole number ≥ 1", ""},
		{"max connections too large", []string{"-s", "{dir}", "-c", "2147483648"}, "", false, "-c 2147483648: maximum connections is too large (at most 2147483647)", ""},
		{"max size 0", []string{"-s", "{dir}", "-m", "0"}, "", false, "-m 0: maximum file size in bytes must be a whole number ≥ 1", ""},
		{"max size 1.5", []string{"-s", "{dir}", "-m", "1.5"}, "", false, "-m 1.5: maximum file size", ""},
		{"max size overflow", []string{"-s", "{dir}", "-m", "9223372036854775808"}, "", false, "-m 9223372036854775808: maximum file size in bytes is too large", ""},
		{"timeout 0", []string{"-s", "{dir}", "-t", "0"}, "", false, "-t 0: timeout in seconds must be a whole number ≥ 1", ""},
		{"timeout fraction", []string{"-s", "{dir}", "-t", "0.5"}, "", false, "-t 0.5: timeout", ""},
		{"retries 0", []string{"-s", "{dir}", "-r", "0"}, "", false, "-r 0: number of retries must be a whole number ≥ 1", ""},
		{"storage missing", []string{"-s", "{missing}"}, "", false, "-s {missing}: the storage directory does not exist", ""},
		{"storage is a file", []string{"-s", "{cert}"}, "", false, "-s {cert}: the storage directory is not a directory", ""},
		{"storage empty", []string{"-s", ""}, "", false, `-s "": the storage directory does not exist`, ""},
		{"certificate missing", []string{"-s", "{dir}", "-e", "{missing}"}, "", false, "-e {missing}: certificate file does not exist", ""},
		{"certificate is a directory", []string{"-s", "{dir}", "-e", "{dir}"}, "", false, "-e {dir}: certificate file is not a regular file", ""},
		{"certificate under a file", []string{"-s", "{dir}", "-e", "{cert}/x"}, "", false, "-e {cert}/x: cannot check the certificate file: not a directory", ""},
		{"storage under a file", []string{"-s", "{cert}/x"}, "", false, "-s {cert}/x: cannot check the storage directory: not a directory", ""},
		{"host name label too long", []string{"-s", "{dir}", "-a", strings.Repeat("a", 64) + ".com"}, "", false, "-a aaaa", "listen address"},
		{"host name too long", []string{"-s", "{dir}", "-a", strings.Repeat("a.", 127) + "com"}, "", false, "-a a.a.", "listen address"},
		{"key missing", []string{"-s", "{dir}", "-e", "{cert}", "-k", "{missing}"}, "", false, "-k {missing}: private key file does not exist", ""},
		{"CA missing", []string{"-s", "{dir}", "-e", "{cert}", "-f", "{missing}"}, "", false, "-f {missing}: CA certificate file does not exist", ""},
		{"relay address", []string{"-b", "not an address"}, "", false, `-b "not an address": relay address: not an IPv4`, ""},
		{"relay address empty", []string{"-b", ""}, "", false, `-b "": relay address: an address is required`, ""},
		{"relay port", []string{"-b", "::1", "-g", "0"}, "", false, "-g 0: relay port must be a whole number from 1 to 65535", ""},
		{"service action", []string{"-S", "start", "-s", "{dir}"}, "", false, "-S start: the service action must be install, uninstall or run", ""},
		{"service action empty", []string{"-S", "", "-s", "{dir}"}, "", false, `-S "": the service action`, ""},
		{"service install still needs a directory", []string{"-S", "install"}, "", true, "-s: a storage directory is required", ""},
		{"log file empty", []string{"-s", "{dir}", "-l", ""}, "", false, `-l "": the log file name is empty`, ""},
		{"user empty", []string{"-s", "{dir}", "-U", ""}, "", false, `-U "": the user name is empty`, ""},
		{"balancer empty", []string{"-s", "{dir}", "-P", ""}, "", false, `-P "": empty address`, ""},
		{"balancer empty in a list", []string{"-s", "{dir}", "-P", "10.0.0.1,"}, "", false, `-P 10.0.0.1,: empty address`, ""},
		{"balancer host name", []string{"-s", "{dir}", "-P", "lb.example.com"}, "", false, `-P lb.example.com: balancer lb.example.com: host names are not looked up`, ""},
		{"balancer bad address", []string{"-s", "{dir}", "-P", "10.0.0.256"}, "", false, `-P 10.0.0.256: balancer 10.0.0.256: not an IPv4 or IPv6 address`, ""},
		{"balancer bits past the prefix", []string{"-s", "{dir}", "-P", "10.0.0.1/8"}, "", false, `-P 10.0.0.1/8: balancer 10.0.0.1/8: the network has bits set past its /8 prefix`, "10.0.0.0/8"},
		{"balancer prefix too long", []string{"-s", "{dir}", "-P", "10.0.0.0/33"}, "", false, `-P 10.0.0.0/33: balancer 10.0.0.0/33: prefix length 33 is out of range 0-32`, ""},
		{"balancer prefix not a number", []string{"-s", "{dir}", "-P", "10.0.0.0/x"}, "", false, `-P 10.0.0.0/x: balancer 10.0.0.0/x: bad prefix length x`, ""},
		{"balancer netmask with holes", []string{"-s", "{dir}", "-P", "10.0.0.0/255.0.255.0"}, "", false, `-P 10.0.0.0/255.0.255.0: balancer`, "ones apart"},
		{"balancer zone", []string{"-s", "{dir}", "-P", "fe80::1%eth0"}, "", false, `-P fe80::1%eth0: balancer fe80::1%eth0: an IPv6 zone`, ""},
		{"balancer IPv4 in brackets", []string{"-s", "{dir}", "-P", "[10.0.0.1]"}, "", false, `-P [10.0.0.1]: balancer [10.0.0.1]: square brackets`, ""},
		{"balancer in the file", []string{"-F", "{conf}"}, "directory {dir}\nproxy_protocol_from 10.0.0.1,bad host\n", false, `config {conf}: proxy_protocol_from "10.0.0.1,bad host": balancer "bad host"`, ""},

		// The configuration file.
		{"missing config file", []string{"-F", "{missing}"}, "", false, "-F {missing}: cannot read the configuration file: no such file or directory", ""},
		{"config file is a directory", []string{"-F", "{dir}"}, "", false, "-F {dir}: cannot read the configuration file: is a directory", ""},
		{"empty config file name", []string{"-F", ""}, "", false, `-F "": cannot read the configuration file`, ""},
		{"max_size in the file", []string{"-F", "{conf}"}, "directory {dir}\nmax_size abc\n", false, `config {conf}: max_size "abc": maximum file size in bytes must be a whole number ≥ 1`, ""},
		{"port in the file", []string{"-F", "{conf}"}, "directory {dir}\nport 41121 \n", false, `config {conf}: port "41121 ": port must be a whole number from 1 to 65535`, ""},
		{"directory in the file", []string{"-F", "{conf}"}, "directory {missing}\n", false, `config {conf}: directory "{missing}": the storage directory does not exist`, ""},
		{"addresses in the file", []string{"-F", "{conf}"}, "directory {dir}\naddresses 1.2.3.4,x y\n", false, `config {conf}: addresses "1.2.3.4,x y": listen address "x y"`, ""},
		{"ssl_cert in the file", []string{"-F", "{conf}"}, "directory {dir}\nssl_cert {missing}\n", false, `config {conf}: ssl_cert "{missing}": certificate file does not exist`, ""},
		{"proxy_port in the file", []string{"-F", "{conf}"}, "proxy_ip ::1\nproxy_port 70000\n", false, `config {conf}: proxy_port "70000": relay port must be`, ""},
		{"block_size 0", []string{"-F", "{conf}"}, "directory {dir}\nblock_size 0\n", false, `config {conf}: block_size "0": block size in bytes must be a whole number ≥ 1`, ""},
		{"block_size text", []string{"-F", "{conf}"}, "directory {dir}\nblock_size 1k\n", false, `config {conf}: block_size "1k": block size`, ""},
		{"invalid_chars negated", []string{"-F", "{conf}"}, "directory {dir}\ninvalid_chars ^a\n", false, `config {conf}: invalid_chars "^a": a leading ^`, ""},
		{"invalid_chars unescaped bracket", []string{"-F", "{conf}"}, "directory {dir}\ninvalid_chars a]b\n", false, `config {conf}: invalid_chars "a]b": an unescaped ]`, ""},
	}
	// These messages end with the system's text for the error.
	unixText := map[string]bool{"certificate under a file": true, "storage under a file": true,
		"missing config file": true, "config file is a directory": true}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if unixText[tt.name] && runtime.GOOS == "windows" {
				t.Skip("Unix error text")
			}
			env := newTestEnv(t)
			env.writeConf(t, tt.conf)
			s, err := ParseServer(env.args(tt.args))
			if err == nil {
				t.Fatalf("ParseServer(%q) = %+v, want an error", tt.args, s)
			}
			if s != nil {
				t.Errorf("ParseServer returned a Server with the error %v", err)
			}
			var ue *UsageError
			var ve *ValueError
			switch {
			case tt.usage && !errors.As(err, &ue):
				t.Errorf("error %v (%T), want a *UsageError", err, err)
			case !tt.usage && !errors.As(err, &ve):
				t.Errorf("error %v (%T), want a *ValueError", err, err)
			}
			msg := env.expand(tt.msg)
			if !strings.HasPrefix(err.Error(), msg) || !strings.Contains(err.Error(), tt.also) {
				t.Errorf("error %q\nshould start with %q and contain %q", err, msg, tt.also)
			}
		})
	}
}

func TestParseServerErrorDetails(t *testing.T) {
	env := newTestEnv(t)
	env.writeConf(t, "directory {dir}\n\n# note\nmax_size abc\n")
	_, err := ParseServer(env.args([]string{"-F", "{conf}"}))
	var ve *ValueError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v, want a *ValueError", err)
	}
	want := ValueError{Option: "-m", Key: "max_size", File: env.expand("{conf}"), Line: 4, Value: "abc",
		Reason: "maximum file size in bytes must be a whole number ≥ 1"}
	if *ve != want {
		t.Errorf("error = %+v, want %+v", *ve, want)
	}

	_, err = ParseServer(env.args([]string{"-F", "{missing}"}))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v should wrap fs.ErrNotExist", err)
	}
}

func TestParseServerUnreadableConfig(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can read any file")
	}
	env := newTestEnv(t)
	env.writeConf(t, "directory {dir}\n")
	if err := os.Chmod(env.expand("{conf}"), 0); err != nil {
		t.Fatal(err)
	}
	_, err := ParseServer(env.args([]string{"-F", "{conf}"}))
	want := env.expand("-F {conf}: cannot read the configuration file: permission denied")
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

// TestParseServerDoesNotCheckWritable documents that a read-only storage
// directory is accepted: writability is checked after dropping privileges.
func TestParseServerDoesNotCheckWritable(t *testing.T) {
	env := newTestEnv(t)
	dir := env.expand("{dir}")
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseServer([]string{"-s", dir}); err != nil {
		t.Errorf("read-only directory refused: %v", err)
	}
}

func TestScanServer(t *testing.T) {
	tests := []struct {
		words []string
		want  string
	}{
		{nil, ""},
		{[]string{"-v", "-I"}, "Iv"},
		{[]string{"-vIo"}, "Iov"},
		{[]string{"-p5000", "-d"}, "dp"},
		{[]string{"-x", "-d"}, "x"},
		{[]string{"-vx", "-d", "-o"}, "ovx"},
		{[]string{"-vxd", "-o"}, "ovx"},
		{[]string{"-v", "--", "-d"}, "v"},
		{[]string{"-v", "stray", "-d"}, "v"},
		{[]string{"-v", "-", "-d"}, "v"},
		{[]string{"--help", "-v"}, "hv"},
		{[]string{"--verbose", "-d"}, ""},
		{[]string{"-vjd"}, "v"},
		{[]string{"-p"}, "p"},
		{[]string{"-v", "-S"}, "Sv"},
		{[]string{"-P", "10.0.0.1", "-d"}, "Pd"}, // -P takes a value
	}
	for _, tt := range tests {
		got := string(slices.Sorted(maps.Keys(ScanServer(tt.words))))
		if got != tt.want {
			t.Errorf("ScanServer(%q) = %q, want %q", tt.words, got, tt.want)
		}
	}
}
