package options

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strings"
)

// Defaults, the same as the reference's, so that a configuration written
// for the Perl programs means the same here.
const (
	// DefaultPort is the IANA port of Tentacle, for -p (both programs)
	// and the server's -g.
	DefaultPort = 41121
	// DefaultMaxSize is the largest file the server accepts, in bytes.
	DefaultMaxSize = 2000000
	// DefaultMaxConnections is how many clients the server serves at once
	// unless -c says otherwise, and the open-file limit allows it. The
	// reference's 10 let a few agents on dead links hold every slot; a
	// goroutine per connection makes a thousand cheap.
	DefaultMaxConnections = 1024
	// DefaultTimeout is the wait for each network read or write, in seconds.
	DefaultTimeout = 1
	// DefaultRetries is how many times a stalled read or write is retried.
	DefaultRetries = 3
	// DefaultBlockSize is the server's network block size in bytes, and
	// the longest command line it accepts.
	DefaultBlockSize = 1024
	// DefaultUser is the account the server switches to when started as
	// root; Pandora FMS installs its spool directories for it.
	DefaultUser = "pandora"
)

// serverOptions lists the server's options: the reference's
// "a:b:c:de:f:F:g:hIi:k:l:m:op:qr:s:S:t:TvVwx:z:u:" plus -U and -P.
var serverOptions = optionSet{
	{letter: 'a', arg: "ADDRESSES", key: "addresses", def: "all addresses", help: "addresses to listen on, separated by commas; 0 stands for all"},
	{letter: 'b', arg: "ADDRESS", key: "proxy_ip", help: "relay every connection to the Tentacle server at ADDRESS instead of storing files; -s is then optional"},
	{letter: 'c', arg: "NUMBER", key: "max_connections", def: "1024, fewer if the open-file limit is low", help: "clients served at the same time; more wait in the backlog"},
	{letter: 'd', key: "daemon", help: "detach from the terminal and run in the background"},
	{letter: 'e', arg: "FILE", key: "ssl_cert", help: "TLS certificate (PEM); turns TLS on for every connection"},
	{letter: 'f', arg: "FILE", key: "ssl_ca", help: "CA certificate; clients must then present a certificate it signed"},
	{letter: 'F', arg: "FILE", help: "read settings from this configuration file (options given here win)"},
	{letter: 'g', arg: "PORT", key: "proxy_port", def: "41121", help: "port of the server that -b relays to"},
	{letter: 'h', help: "show this help and exit"},
	{letter: 'i', arg: "FILTERS", key: "filters", help: "REGEXP:SUBDIR;... stores a file whose name matches REGEXP in SUBDIR of the storage directory (the first match wins)"},
	{letter: 'I', key: "insecure", help: "allow clients to list (LS) and move (MV) stored files"},
	{letter: 'k', arg: "FILE", key: "ssl_key", help: "private key of the -e certificate"},
	{letter: 'l', arg: "FILE", key: "log_file", help: "append log messages to FILE instead of printing them"},
	{letter: 'm', arg: "BYTES", key: "max_size", def: "2000000", help: "largest file accepted, in bytes"},
	{letter: 'o', key: "overwrite", help: "replace files that already exist instead of refusing them"},
	{letter: 'p', arg: "PORT", key: "port", def: "41121", help: "TCP port to listen on"},
	{letter: 'P', arg: "ADDRESSES", key: "proxy_protocol_from", help: "load balancers in front of the server, IP addresses or CIDR nets separated by commas: their connections must start with a PROXY protocol header (v1 or v2) that names the real client; other clients connect directly"},
	{letter: 'q', key: "quiet", help: "do not print error messages"},
	{letter: 'r', arg: "NUMBER", key: "retries", def: "3", help: "times a stalled network read or write is retried before the connection is dropped"},
	{letter: 's', arg: "DIRECTORY", key: "directory", help: "storage directory for received files; it must exist"},
	{letter: 'S', arg: "ACTION", help: "Windows service: install, uninstall or run"},
	{letter: 't', arg: "SECONDS", key: "timeout", def: "1", help: "time allowed for each network read or write attempt"},
	{letter: 'T', key: "use_libwrap", help: "check clients against the TCP wrappers rules (hosts.allow, hosts.deny)"},
	{letter: 'u', arg: "CIPHERS", key: "ssl_cipher", help: "TLS ciphers to allow, OpenSSL names (e.g. AES256-SHA)"},
	{letter: 'U', arg: "USER", def: DefaultUser, help: "user to switch to when started as root"},
	{letter: 'v', key: "verbose", keyNote: "verbose 1", help: "log errors and important events"},
	{letter: 'V', key: "verbose", keyNote: "verbose 2", help: "log everything, including every request"},
	{letter: 'w', key: "ssl_password", help: "ask for the password of the -k key at startup"},
	{letter: 'x', arg: "PASSWORD", key: "password", help: "clients must authenticate with this password"},
	{letter: 'z', arg: "VERSION", key: "ssl_version", help: "TLS version to accept (e.g. TLSv1_2)"},
}

// serverConfigOnly lists the keys that only the configuration file sets,
// with their usage lines.
var serverConfigOnly = []option{
	{key: "block_size", arg: "BYTES", def: "1024", help: "size of each network read and write, and the longest command line accepted"},
	{key: "invalid_chars", arg: "CHARS", def: `\?\[\]\/\\\=\+\<\>\:\;\'\,\*\~`, help: "characters refused in file names, written as the inside of a Perl [...] class"},
}

// serverKeys is the set of keys a server configuration file may hold.
var serverKeys = func() map[string]bool {
	keys := map[string]bool{}
	for _, o := range serverOptions {
		if o.key != "" {
			keys[o.key] = true
		}
	}
	for _, o := range serverConfigOnly {
		keys[o.key] = true
	}
	return keys
}()

// Server is the validated configuration of tentacle_server. Each field
// notes its option letter and configuration key; a command-line option
// always takes precedence over the key in the -F file.
type Server struct {
	// Addresses to listen on (-a, addresses), separated by commas with
	// blanks around each one ignored. Each is an IPv4 or IPv6 literal or a
	// host name, or "0", kept as is, which like an empty slice (the
	// default) means all addresses: the reference's default is the list
	// "0", "0.0.0.0".
	Addresses []string
	// Port to listen on (-p, port).
	Port int
	// Directory stores received files (-s, directory), without trailing
	// slashes ("/" stays "/"). It must exist and be a directory; it is not
	// checked for being writable, since the server drops root privileges
	// (see User) before that can be known. It is required unless
	// ProxyAddress is set.
	Directory string
	// MaxSize is the largest file accepted, in bytes (-m, max_size).
	MaxSize int64
	// Overwrite lets a received file replace an existing one (-o,
	// overwrite).
	Overwrite bool
	// MaxConnections is the number of clients served at once (-c,
	// max_connections); 0, when neither sets it, means
	// DefaultMaxConnections bounded by the open-file limit
	// (setup.MaxConnections).
	MaxConnections int
	// Timeout in seconds for each network read or write attempt (-t,
	// timeout).
	Timeout int
	// Retries is the number of times a stalled read or write is retried
	// before the connection is dropped (-r, retries).
	Retries int
	// Password that clients must prove they know (-x, password); empty
	// means none.
	Password string
	// SSLCert, SSLKey and SSLCA name the TLS certificate, its key and the
	// CA that client certificates must be signed by (-e ssl_cert, -k
	// ssl_key, -f ssl_ca). Each must exist as a regular file. A
	// certificate turns TLS on; the other two have no effect without one.
	SSLCert, SSLKey, SSLCA string
	// SSLPasswordPrompt asks for the key's password on the terminal (-w,
	// ssl_password).
	SSLPasswordPrompt bool
	// SSLVersion and SSLCipher restrict TLS, in OpenSSL's names (-z
	// ssl_version, -u ssl_cipher). They are kept as written; the TLS code
	// maps them.
	SSLVersion, SSLCipher string
	// Filters route files to subdirectories (-i, filters), as
	// "regexp:dir;regexp:dir". Kept as written; the storage code compiles
	// them.
	Filters string
	// Insecure enables the LS and MV commands (-I, insecure).
	Insecure bool
	// ProxyAddress, when set, turns the server into a relay to the
	// Tentacle server at this address (-b, proxy_ip): an IP literal or a
	// host name.
	ProxyAddress string
	// ProxyPort is the relay's destination port (-g, proxy_port).
	ProxyPort int
	// Daemon detaches the server from the terminal (-d, daemon).
	Daemon bool
	// LogFile receives the log messages when set (-l, log_file).
	LogFile string
	// Verbosity selects what is logged: 0 nothing but fatal errors, 1
	// errors and important events (-v, verbose 1), 2 everything (-V,
	// verbose 2). -V wins over -v, and either wins over the file.
	Verbosity int
	// Quiet suppresses error messages (-q, quiet).
	Quiet bool
	// UseLibwrap checks clients against TCP wrappers (-T, use_libwrap).
	UseLibwrap bool
	// ProxyFrom are the load balancers whose connections begin with a
	// PROXY protocol header naming the real client (-P,
	// proxy_protocol_from; not in the reference). Written as IP addresses
	// and networks separated by commas, blanks around each ignored: an
	// address as -a takes it (IPv6 also in brackets), a.b.c.d/n,
	// a.b.c.d/m.m.m.m, [v6net]/n or v6net/n as -T's rules take them. Host
	// names are refused: they are never looked up for a peer. Addresses
	// are single-address prefixes; IPv4-mapped IPv6 ones are stored as
	// IPv4. Empty means none.
	ProxyFrom []netip.Prefix
	// Service is the Windows service action given with -S: "install",
	// "uninstall" or "run", or "" without -S. The reference refuses -S on
	// other systems; that check is left to the caller.
	Service string
	// ConfigFile is the -F file, as given ("" without -F).
	ConfigFile string
	// BlockSize is the size of network reads and writes and the longest
	// command line accepted (configuration key block_size only).
	BlockSize int
	// InvalidChars is the set of characters refused in file names, one
	// character each, so a name is refused when
	// strings.ContainsAny(name, InvalidChars). It defaults to
	// DefaultInvalidChars. The configuration key invalid_chars writes the
	// set the reference's way, as the inside of a Perl character class
	// (\?\[\]...), and is stored here after the escapes and ranges are
	// interpreted: backslash before punctuation, \t \n \r \f \e \a \b,
	// octal and hex escapes (naming Unicode code points), \cX, the ASCII
	// \d \w \s, and ranges such as a-z or \x00-\x1f. What Perl would make
	// into something other than a plain set (a leading ^, an unescaped ]
	// later on, POSIX classes, \p{...}) is refused with an explanation.
	InvalidChars string
	// User is the account to switch to when started as root (-U; not in
	// the reference, which refuses to run as root). It is not looked up
	// here: that only makes sense, and only works, on the system that
	// runs the server.
	User string
	// Help is set by -h or --help. Nothing else is validated then; the
	// reference prints its help text and exits with status 1.
	Help bool
	// Warnings are notes about things that were accepted but probably not
	// meant: unknown or malformed configuration lines, on/off keys with
	// values other than 0 and 1, TLS settings without a certificate.
	Warnings []string
}

// newServer returns a Server holding the defaults.
func newServer() *Server {
	return &Server{
		Port:         DefaultPort,
		MaxSize:      DefaultMaxSize,
		Timeout:      DefaultTimeout,
		Retries:      DefaultRetries,
		ProxyPort:    DefaultPort,
		BlockSize:    DefaultBlockSize,
		InvalidChars: DefaultInvalidChars,
		User:         DefaultUser,
	}
}

// ParseServer parses the server's arguments (without the program name) and
// the -F file they name, applies the defaults and validates everything.
//
// On success it returns the configuration, possibly with Warnings. With -h
// it returns a Server with Help set and nothing validated. Otherwise it
// returns the first problem found, as a *UsageError (print the usage text
// too) or a *ValueError.
func ParseServer(args []string) (*Server, error) {
	cl, err := getopt(args, serverOptions)
	if err != nil {
		return nil, err
	}
	s := newServer()
	if cl.has('h') {
		s.Help = true
		return s, nil
	}
	if len(cl.rest) > 0 {
		return nil, &UsageError{Msg: fmt.Sprintf("unexpected argument %s: the server takes only options (and none are read after the first argument that is not one)", quoteIfNeeded(cl.rest[0]))}
	}

	src := &sources{set: serverOptions, cl: cl}
	if v, ok := cl.value('S'); ok {
		switch v {
		case "install", "uninstall", "run":
			s.Service = v
		default:
			return nil, (setting{value: v, option: "-S"}).fail("the service action must be install, uninstall or run")
		}
	}
	if path, ok := cl.value('F'); ok {
		s.ConfigFile = path
		src.conf, err = readConfigFile(path, serverKeys)
		if err != nil {
			return nil, err
		}
	}

	steps := []func(*Server, *sources) error{
		parseServerNetwork,
		parseServerStorage,
		parseServerTLS,
		parseServerRest,
	}
	for _, step := range steps {
		if err := step(s, src); err != nil {
			return nil, err
		}
	}

	if src.conf != nil {
		s.Warnings = append(s.Warnings, src.conf.warnings...)
	}
	s.Warnings = append(s.Warnings, src.warnings...)
	s.Warnings = append(s.Warnings, unusedServerSettings(s, src)...)
	return s, nil
}

// ScanServer returns the option letters that args give tentacle_server,
// read as ParseServer reads them but with nothing validated: a caller can
// then tell an option from another option's value (-x -d sets the password
// "-d"). "--help" gives 'h'. Reading stops quietly where ParseServer would
// report a usage error, keeping what came before, a letter whose value is
// missing included.
func ScanServer(args []string) map[byte]bool {
	cl, _ := scanOptions(args, serverOptions)
	given := make(map[byte]bool, len(cl.values))
	for letter := range cl.values {
		given[letter] = true
	}
	return given
}

// parseServerNetwork reads where the server listens, how many clients it
// serves and where it relays to.
func parseServerNetwork(s *Server, src *sources) error {
	var err error
	if st, ok := src.lookup('a'); ok {
		if s.Addresses, err = parseAddresses(st); err != nil {
			return err
		}
	}
	if st, ok := src.lookup('p'); ok {
		if s.Port, err = portNumber.parseInt(st); err != nil {
			return err
		}
	}
	if st, ok := src.lookup('c'); ok {
		if s.MaxConnections, err = maxConnNumber.parseInt(st); err != nil {
			return err
		}
	}
	if st, ok := src.lookup('t'); ok {
		if s.Timeout, err = timeoutNumber.parseInt(st); err != nil {
			return err
		}
	}
	if st, ok := src.lookup('r'); ok {
		if s.Retries, err = retriesNumber.parseInt(st); err != nil {
			return err
		}
	}
	if st, ok := src.lookup('b'); ok {
		if reason := checkHost(st.value); reason != "" {
			return st.fail("relay address: " + reason)
		}
		s.ProxyAddress = st.value
	}
	if st, ok := src.lookup('g'); ok {
		if s.ProxyPort, err = proxyPortNumber.parseInt(st); err != nil {
			return err
		}
	}
	if src.conf != nil {
		if e, ok := src.conf.entries["block_size"]; ok {
			st := setting{value: e.value, key: "block_size", file: src.conf.path, line: e.line}
			if s.BlockSize, err = blockSizeNumber.parseInt(st); err != nil {
				return err
			}
		}
	}
	s.UseLibwrap = src.flag('T')
	if st, ok := src.lookup('P'); ok {
		if s.ProxyFrom, err = parseProxyFrom(st); err != nil {
			return err
		}
	}
	return nil
}

// parseAddresses splits and checks the listen address list.
func parseAddresses(st setting) ([]string, error) {
	var addrs []string
	for _, a := range strings.Split(st.value, ",") {
		a = strings.Trim(a, " \t")
		if a == "" {
			return nil, st.fail("empty address in the list; give IP addresses or host names separated by commas, or 0 for all addresses")
		}
		if a != "0" {
			if reason := checkHost(a); reason != "" {
				return nil, st.fail(fmt.Sprintf("listen address %s: %s (or 0 for all addresses)", quoteIfNeeded(a), reason))
			}
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// parseServerStorage reads where and how files are stored.
func parseServerStorage(s *Server, src *sources) error {
	var err error
	if st, ok := src.lookup('s'); ok {
		if s.Directory, err = checkDirectory(st); err != nil {
			return err
		}
	} else if _, relay := src.lookup('b'); !relay && s.Service != "uninstall" {
		return &UsageError{Option: "-s", Msg: "a storage directory is required: give -s DIRECTORY (or the directory key in the -F file), or -b ADDRESS to relay to another server"}
	}
	if st, ok := src.lookup('m'); ok {
		if s.MaxSize, err = maxSizeNumber.parse(st); err != nil {
			return err
		}
	}
	s.Overwrite = src.flag('o')
	s.Insecure = src.flag('I')
	if st, ok := src.lookup('i'); ok {
		s.Filters = st.value
	}
	if src.conf != nil {
		if e, ok := src.conf.entries["invalid_chars"]; ok {
			st := setting{value: e.value, key: "invalid_chars", file: src.conf.path, line: e.line}
			if s.InvalidChars, err = parseCharClass(e.value); err != nil {
				return st.fail(err.Error())
			}
		}
	}
	return nil
}

// checkDirectory checks the storage directory and removes trailing slashes,
// which the reference also drops (one of them) before appending "/name".
func checkDirectory(st setting) (string, error) {
	fi, err := os.Stat(st.value)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", st.fail("the storage directory does not exist")
		}
		return "", st.failErr("cannot check the storage directory", err)
	}
	if !fi.IsDir() {
		return "", st.fail("the storage directory is not a directory")
	}
	dir := strings.TrimRight(st.value, "/")
	if dir == "" {
		dir = "/"
	}
	return dir, nil
}

// parseServerTLS reads the TLS settings.
func parseServerTLS(s *Server, src *sources) error {
	files := []struct {
		letter byte
		what   string
		dst    *string
	}{
		{'e', "certificate file", &s.SSLCert},
		{'f', "CA certificate file", &s.SSLCA},
		{'k', "private key file", &s.SSLKey},
	}
	for _, f := range files {
		if st, ok := src.lookup(f.letter); ok {
			if err := checkRegularFile(st, f.what); err != nil {
				return err
			}
			*f.dst = st.value
		}
	}
	s.SSLPasswordPrompt = src.flag('w')
	if st, ok := src.lookup('z'); ok {
		s.SSLVersion = st.value
	}
	if st, ok := src.lookup('u'); ok {
		s.SSLCipher = st.value
	}
	return nil
}

// parseServerRest reads authentication, logging, process and user settings.
func parseServerRest(s *Server, src *sources) error {
	if st, ok := src.lookup('x'); ok {
		s.Password = st.value
	}
	s.Daemon = src.flag('d')
	s.Quiet = src.flag('q')
	if st, ok := src.lookup('l'); ok {
		if st.value == "" {
			return st.fail("the log file name is empty; name a file to append log messages to")
		}
		s.LogFile = st.value
	}
	if src.conf != nil {
		if e, ok := src.conf.entries["verbose"]; ok {
			switch e.value {
			case "0", "1", "2":
				s.Verbosity = int(e.value[0] - '0')
			default:
				src.warnings = append(src.warnings, fmt.Sprintf("config %s: line %d: verbose %q: the level is 0, 1 or 2; taken as 0", src.conf.path, e.line, e.value))
			}
		}
	}
	if src.cl.has('v') {
		s.Verbosity = 1
	}
	if src.cl.has('V') {
		s.Verbosity = 2
	}
	if st, ok := src.lookup('U'); ok {
		if st.value == "" {
			return st.fail("the user name is empty; name the account to run as after leaving root")
		}
		s.User = st.value
	}
	return nil
}

// unusedServerSettings notes settings that were given but have no effect,
// which the reference accepts silently.
func unusedServerSettings(s *Server, src *sources) []string {
	var notes []string
	if s.SSLCert == "" {
		for _, letter := range []byte("kfwzu") {
			given := src.given(letter)
			if letter == 'w' {
				given = s.SSLPasswordPrompt
			}
			if given {
				notes = append(notes, fmt.Sprintf("-%c (%s) has no effect without a certificate (-e, ssl_cert): TLS is off", letter, src.key(letter)))
			}
		}
	}
	if s.ProxyAddress == "" && src.given('g') {
		notes = append(notes, "-g (proxy_port) has no effect without a relay address (-b, proxy_ip)")
	}
	return notes
}
