package options

import (
	"net/netip"
	"strings"
)

// DefaultServerAddress is where the client connects without -a.
const DefaultServerAddress = "127.0.0.1"

// clientOptions lists the client's options, the reference's
// "a:b:ce:f:ghk:p:qr:t:vwx:y:z".
var clientOptions = optionSet{
	{letter: 'a', arg: "ADDRESS", def: DefaultServerAddress, help: "server to connect to: host name, IPv4 or IPv6 address"},
	{letter: 'b', arg: "ADDRESS", help: "local address to connect from"},
	{letter: 'c', help: "encrypt with TLS, presenting no client certificate and trusting the server's certificate unchecked"},
	{letter: 'e', arg: "FILE", help: "use TLS and present this client certificate (PEM)"},
	{letter: 'f', arg: "FILE", help: "verify the server's certificate against this CA certificate; needs -e"},
	{letter: 'g', help: "get the named files from the server into the current directory instead of sending them"},
	{letter: 'h', help: "show this help and exit"},
	{letter: 'k', arg: "FILE", help: "private key of the -e certificate; needs -e"},
	{letter: 'p', arg: "PORT", def: "41121", help: "server port"},
	{letter: 'q', help: "do not print error messages"},
	{letter: 'r', arg: "NUMBER", def: "3", help: "times a stalled network read or write is retried before giving up"},
	{letter: 't', arg: "SECONDS", def: "1", help: "time allowed for each network read or write attempt"},
	{letter: 'v', help: "report progress"},
	{letter: 'w', help: "ask for the password of the -k key; needs -e"},
	{letter: 'x', arg: "PASSWORD", help: "password the server requires"},
	{letter: 'y', arg: "[USER:PASS@]HOST:PORT", help: "connect through this HTTP proxy (CONNECT method)"},
	{letter: 'z', help: "compress the files in transit"},
}

// Client is the validated configuration of tentacle_client.
type Client struct {
	// Address of the server (-a): a host name, IPv4 or IPv6 literal.
	Address string
	// Port of the server (-p).
	Port int
	// BindAddress is the local address to connect from (-b); empty lets
	// the system choose.
	BindAddress string
	// TLS is set by -c (TLS without a client certificate) or -e.
	TLS bool
	// Cert, Key and CA are the client certificate, its key and the CA the
	// server's certificate is verified against (-e, -k, -f). Each must
	// exist as a regular file; -k and -f need -e, and -e excludes -c, as
	// in the reference.
	Cert, Key, CA string
	// KeyPasswordPrompt asks for the key's password on the terminal (-w;
	// needs -e).
	KeyPasswordPrompt bool
	// Get fetches Files from the server instead of sending them (-g).
	Get bool
	// Password the server requires (-x); empty means none is sent.
	Password string
	// ProxyUser, ProxyPassword, ProxyHost and ProxyPort come from -y
	// [user:pass@]host:port; ProxyHost is empty without -y. ProxyHost is
	// given without the brackets of a bracketed IPv6 literal. The
	// credentials are split at the first ":" (a Basic user name cannot
	// hold one); the reference sends no Proxy-Authorization when
	// ProxyUser is empty.
	ProxyUser, ProxyPassword, ProxyHost string
	ProxyPort                           int
	// Compress sends and receives files as ZIP archives (-z; ZSEND and
	// ZRECV).
	Compress bool
	// Timeout in seconds for each network read or write attempt (-t), and
	// the number of retries after a stalled one (-r).
	Timeout, Retries int
	// Verbose reports progress (-v); Quiet suppresses error messages (-q).
	Verbose, Quiet bool
	// Files are the arguments after the options: files to send, or with
	// Get names to fetch. At least one is required to send; their
	// existence is checked by the client, not here.
	Files []string
	// Help is set by -h or --help. Nothing else is validated then; the
	// reference prints its help text and exits with status 1.
	Help bool
}

// ParseClient parses the client's arguments (without the program name),
// applies the defaults and validates everything.
//
// It accepts the command lines Pandora FMS agents build, such as
// "-v -a SERVER -p PORT -x pwd -c FILE", where the options between the port
// and the file come from the agent's configuration.
//
// With -h it returns a Client with Help set and nothing validated.
// Otherwise it returns the first problem found: a *UsageError (print the
// usage text too), a *ValueError, or ErrNoFiles.
func ParseClient(args []string) (*Client, error) {
	cl, err := getopt(args, clientOptions)
	if err != nil {
		return nil, err
	}
	c := &Client{
		Address: DefaultServerAddress,
		Port:    DefaultPort,
		Timeout: DefaultTimeout,
		Retries: DefaultRetries,
	}
	if cl.has('h') {
		c.Help = true
		return c, nil
	}
	src := &sources{set: clientOptions, cl: cl}
	for _, step := range []func(*Client, *sources) error{parseClientNetwork, parseClientTLS} {
		if err := step(c, src); err != nil {
			return nil, err
		}
	}
	c.Get = cl.has('g')
	c.Quiet = cl.has('q')
	c.Verbose = cl.has('v')
	if st, ok := src.lookup('x'); ok {
		c.Password = st.value
	}
	c.Compress = cl.has('z')
	c.Files = cl.rest
	if !c.Get && len(c.Files) == 0 {
		return nil, ErrNoFiles
	}
	return c, nil
}

// parseClientNetwork reads where the client connects, from where, through
// which proxy, and how long it waits.
func parseClientNetwork(c *Client, src *sources) error {
	var err error
	if st, ok := src.lookup('a'); ok {
		if reason := checkHost(st.value); reason != "" {
			return st.fail("server address: " + reason)
		}
		c.Address = st.value
	}
	if st, ok := src.lookup('b'); ok {
		if reason := checkHost(st.value); reason != "" {
			return st.fail("local address: " + reason)
		}
		c.BindAddress = st.value
	}
	if st, ok := src.lookup('p'); ok {
		if c.Port, err = portNumber.parseInt(st); err != nil {
			return err
		}
	}
	if st, ok := src.lookup('r'); ok {
		if c.Retries, err = retriesNumber.parseInt(st); err != nil {
			return err
		}
	}
	if st, ok := src.lookup('t'); ok {
		if c.Timeout, err = timeoutNumber.parseInt(st); err != nil {
			return err
		}
	}
	if st, ok := src.lookup('y'); ok {
		return parseProxy(c, st)
	}
	return nil
}

// parseClientTLS reads the TLS settings, which only make sense together: a
// CA or a key needs a certificate, and -c (TLS without one) excludes -e.
func parseClientTLS(c *Client, src *sources) error {
	flagErr := func(letter byte, reason string) error {
		return &ValueError{Option: "-" + string(letter), Reason: reason, flag: true}
	}
	c.TLS = src.cl.has('c')
	if st, ok := src.lookup('e'); ok {
		if src.cl.has('c') {
			return flagErr('c', "cannot be combined with -e: use -c for TLS without a client certificate, or -e (with -k) to present one")
		}
		if err := checkRegularFile(st, "certificate file"); err != nil {
			return err
		}
		c.Cert, c.TLS = st.value, true
	}
	for _, f := range []struct {
		letter      byte
		what, needs string
		dst         *string
	}{
		{'f', "CA certificate file", "verifying the server's certificate needs a client certificate: add -e FILE (and -k FILE)", &c.CA},
		{'k', "private key file", "a private key is only used with a client certificate: add -e FILE", &c.Key},
	} {
		if st, ok := src.lookup(f.letter); ok {
			if c.Cert == "" {
				return st.fail(f.needs)
			}
			if err := checkRegularFile(st, f.what); err != nil {
				return err
			}
			*f.dst = st.value
		}
	}
	if src.cl.has('w') {
		if c.Cert == "" {
			return flagErr('w', "asking for a key password needs a client certificate and key: add -e FILE -k FILE")
		}
		c.KeyPasswordPrompt = true
	}
	return nil
}

// parseProxy reads -y [user:pass@]host:port. The host is everything between
// the last "@" and the last ":", as in the reference's pattern, so an IPv6
// proxy may be written bracketed ("[::1]:3128") or not ("::1:3128").
func parseProxy(c *Client, st setting) error {
	const form = "; write [USER:PASSWORD@]HOST:PORT"
	// The message shows the value with the password hidden: error output
	// often ends up in logs.
	shown := st
	v := st.value
	var user, pass string
	hostPort := v
	if at := strings.LastIndexByte(v, '@'); at >= 0 {
		cred := v[:at]
		hostPort = v[at+1:]
		colon := strings.IndexByte(cred, ':')
		if colon < 0 {
			return shown.fail("the proxy credentials must be USER:PASSWORD" + form)
		}
		user, pass = cred[:colon], cred[colon+1:]
		shown.value = user + ":****@" + hostPort
	}
	colon := strings.LastIndexByte(hostPort, ':')
	if colon < 0 {
		return shown.fail("the proxy port is missing" + form)
	}
	host, port := hostPort[:colon], hostPort[colon+1:]
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return shown.fail("only an IPv6 address goes between [ and ]" + form)
		}
	}
	if reason := checkHost(host); reason != "" {
		return shown.fail("proxy host: " + reason + form)
	}
	portSt := shown
	portSt.value = port
	n, err := proxyStringPort.parseInt(portSt)
	if err != nil {
		return shown.fail("the proxy port must be a whole number from 1 to 65535" + form)
	}
	c.ProxyUser, c.ProxyPassword, c.ProxyHost, c.ProxyPort = user, pass, host, n
	return nil
}
