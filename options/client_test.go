package options

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseClient(t *testing.T) {
	tests := []struct {
		name string
		args []string
		// want edits a Client holding the defaults and Files ["f"].
		want func(c *Client)
	}{
		{"defaults", []string{"f"}, func(c *Client) {}},
		{"several files", []string{"a", "b", "c"}, func(c *Client) { c.Files = []string{"a", "b", "c"} }},
		{"files that look like options after --", []string{"--", "-v", "-f"}, func(c *Client) { c.Files = []string{"-v", "-f"} }},
		{"options after the first file are files", []string{"f", "-v"}, func(c *Client) { c.Files = []string{"f", "-v"} }},

		// Pandora FMS agents: -v -a SERVER -p PORT <server_opts> FILE.
		{"agent, no server options", []string{"-v", "-a", "pandora.example.com", "-p", "41121", "/var/spool/pandora/data_out/agent.1.data"},
			func(c *Client) {
				c.Verbose, c.Address, c.Files = true, "pandora.example.com", []string{"/var/spool/pandora/data_out/agent.1.data"}
			}},
		{"agent, password and TLS", []string{"-v", "-a", "10.0.0.5", "-p", "41121", "-x", "pwd", "-c", "/tmp/agent.2.data"},
			func(c *Client) {
				c.Verbose, c.Address, c.Password, c.TLS, c.Files = true, "10.0.0.5", "pwd", true, []string{"/tmp/agent.2.data"}
			}},
		{"agent, password with blanks and quotes", []string{"-v", "-a", "::1", "-p", "41122", "-x", "my 'pass' word", "f"},
			func(c *Client) { c.Verbose, c.Address, c.Port, c.Password = true, "::1", 41122, "my 'pass' word" }},
		{"agent, password that looks like an option", []string{"-v", "-a", "srv", "-p", "41121", "-x", "-c", "f"},
			func(c *Client) { c.Verbose, c.Address, c.Password = true, "srv", "-c" }},
		{"agent, get", []string{"-v", "-g", "-a", "srv", "-p", "41121", "-x", "pwd", "agent.conf"},
			func(c *Client) {
				c.Verbose, c.Get, c.Address, c.Password, c.Files = true, true, "srv", "pwd", []string{"agent.conf"}
			}},
		{"agent, compression and timeout", []string{"-v", "-a", "srv", "-p", "41121", "-z", "-t", "30", "-r", "5", "f"},
			func(c *Client) { c.Verbose, c.Address, c.Compress, c.Timeout, c.Retries = true, "srv", true, 30, 5 }},
		{"agent, client certificate", []string{"-v", "-a", "srv", "-p", "41121", "-e", "{cert}", "-k", "{key}", "-f", "{ca}", "f"},
			func(c *Client) {
				c.Verbose, c.Address, c.TLS, c.Cert, c.Key, c.CA = true, "srv", true, "{cert}", "{key}", "{ca}"
			}},
		{"agent, empty server options quoted", []string{"-v", "-a", "srv", "-p", "41121", "f"},
			func(c *Client) { c.Verbose, c.Address = true, "srv" }},

		{"bundled with attached value", []string{"-vzqcp41122", "f"}, func(c *Client) {
			c.Verbose, c.Compress, c.Quiet, c.TLS, c.Port = true, true, true, true, 41122
		}},
		{"bind address", []string{"-b", "192.168.0.2", "f"}, func(c *Client) { c.BindAddress = "192.168.0.2" }},
		{"bind address IPv6", []string{"-b", "fe80::2%eth0", "f"}, func(c *Client) { c.BindAddress = "fe80::2%eth0" }},
		{"certificate without key", []string{"-e", "{cert}", "f"}, func(c *Client) { c.TLS, c.Cert = true, "{cert}" }},
		{"key password", []string{"-e", "{cert}", "-k", "{key}", "-w", "f"}, func(c *Client) {
			c.TLS, c.Cert, c.Key, c.KeyPasswordPrompt = true, "{cert}", "{key}", true
		}},
		{"get without names", []string{"-g"}, func(c *Client) { c.Get, c.Files = true, nil }},
		{"empty password", []string{"-x", "", "f"}, func(c *Client) {}},
		{"help skips validation", []string{"-p", "0", "-h"}, func(c *Client) {
			*c = Client{Address: "127.0.0.1", Port: 41121, Timeout: 1, Retries: 3, Help: true}
		}},
		{"help without files", []string{"--help"}, func(c *Client) {
			*c = Client{Address: "127.0.0.1", Port: 41121, Timeout: 1, Retries: 3, Help: true}
		}},

		// -y [user:pass@]host:port
		{"proxy", []string{"-y", "proxy.example.com:3128", "f"}, func(c *Client) { c.ProxyHost, c.ProxyPort = "proxy.example.com", 3128 }},
		{"proxy with credentials", []string{"-y", "bob:s3cret@10.0.0.1:8080", "f"}, func(c *Client) {
			c.ProxyUser, c.ProxyPassword, c.ProxyHost, c.ProxyPort = "bob", "s3cret", "10.0.0.1", 8080
		}},
		{"proxy password with : and @", []string{"-y", "bob:a:b@c@proxy:8080", "f"}, func(c *Client) {
			c.ProxyUser, c.ProxyPassword, c.ProxyHost, c.ProxyPort = "bob", "a:b@c", "proxy", 8080
		}},
		{"proxy empty credentials", []string{"-y", ":@proxy:8080", "f"}, func(c *Client) { c.ProxyHost, c.ProxyPort = "proxy", 8080 }},
		{"proxy bracketed IPv6", []string{"-y", "[2001:db8::1]:3128", "f"}, func(c *Client) { c.ProxyHost, c.ProxyPort = "2001:db8::1", 3128 }},
		{"proxy bare IPv6", []string{"-y", "u:p@::1:3128", "f"}, func(c *Client) {
			c.ProxyUser, c.ProxyPassword, c.ProxyHost, c.ProxyPort = "u", "p", "::1", 3128
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t)
			got, err := ParseClient(env.args(tt.args))
			if err != nil {
				t.Fatalf("ParseClient(%q): %v", tt.args, err)
			}
			want := &Client{Address: "127.0.0.1", Port: 41121, Timeout: 1, Retries: 3, Files: []string{"f"}}
			tt.want(want)
			for _, p := range []*string{&want.Cert, &want.Key, &want.CA} {
				*p = env.expand(*p)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ParseClient(%q):\n got %+v\nwant %+v", tt.args, got, want)
			}
		})
	}
}

func TestParseClientErrors(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		usage bool   // a *UsageError, else a *ValueError (or ErrNoFiles)
		msg   string // the message starts with this (after expansion)
	}{
		{"unknown option", []string{"-s", "f"}, true, "-s: unknown option"},
		{"server-only option", []string{"-I", "f"}, true, "-I: unknown option"},
		{"missing value at the end", []string{"-a"}, true, "-a: missing value; write -a ADDRESS"},
		{"missing value in a bundle", []string{"-vx"}, true, "-x: missing value"},

		{"address", []string{"-a", "10.0.0.300", "f"}, false, "-a 10.0.0.300: server address: not an IPv4 address"},
		{"address empty", []string{"-a", "", "f"}, false, `-a "": server address: an address is required`},
		{"address with port", []string{"-a", "srv:41121", "f"}, false, "-a srv:41121: server address"},
		{"bind address", []string{"-b", "x y", "f"}, false, `-b "x y": local address`},
		{"port", []string{"-p", "0", "f"}, false, "-p 0: port must be a whole number from 1 to 65535"},
		{"port text", []string{"-p", "abc", "f"}, false, "-p abc: port must be"},
		{"timeout", []string{"-t", "0", "f"}, false, "-t 0: timeout in seconds must be a whole number ≥ 1"},
		{"retries", []string{"-r", "x", "f"}, false, "-r x: number of retries must be a whole number ≥ 1"},
		{"-c with -e", []string{"-c", "-e", "{cert}", "f"}, false, "-c: cannot be combined with -e"},
		{"-e with -c", []string{"-e", "{cert}", "-c", "f"}, false, "-c: cannot be combined with -e"},
		{"-f without -e", []string{"-f", "{ca}", "f"}, false, "-f {ca}: verifying the server's certificate needs a client certificate"},
		{"-f with -c only", []string{"-c", "-f", "{ca}", "f"}, false, "-f {ca}: verifying"},
		{"-k without -e", []string{"-k", "{key}", "f"}, false, "-k {key}: a private key is only used with a client certificate"},
		{"-w without -e", []string{"-w", "f"}, false, "-w: asking for a key password needs"},
		{"certificate missing", []string{"-e", "{missing}", "f"}, false, "-e {missing}: certificate file does not exist"},
		{"certificate is a directory", []string{"-e", "{dir}", "f"}, false, "-e {dir}: certificate file is not a regular file"},
		{"key missing", []string{"-e", "{cert}", "-k", "{missing}", "f"}, false, "-k {missing}: private key file does not exist"},
		{"CA missing", []string{"-e", "{cert}", "-f", "{missing}", "f"}, false, "-f {missing}: CA certificate file does not exist"},

		{"proxy without port", []string{"-y", "proxy", "f"}, false, "-y proxy: the proxy port is missing; write [USER:PASSWORD@]HOST:PORT"},
		{"proxy port 0", []string{"-y", "proxy:0", "f"}, false, "-y proxy:0: the proxy port must be a whole number from 1 to 65535"},
		{"proxy port too big", []string{"-y", "proxy:65536", "f"}, false, "-y proxy:65536: the proxy port must be"},
		{"proxy port text", []string{"-y", "proxy:http", "f"}, false, "-y proxy:http: the proxy port must be"},
		{"proxy empty host", []string{"-y", ":3128", "f"}, false, "-y :3128: proxy host: an address is required"},
		{"proxy bad host", []string{"-y", "pro xy:3128", "f"}, false, `-y "pro xy:3128": proxy host`},
		{"proxy IPv4 in brackets", []string{"-y", "[10.0.0.1]:3128", "f"}, false, "-y [10.0.0.1]:3128: only an IPv6 address"},
		{"proxy user without password", []string{"-y", "bob@proxy:3128", "f"}, false, "-y bob@proxy:3128: the proxy credentials must be USER:PASSWORD"},
		{"proxy password hidden", []string{"-y", "bob:s3cret@proxy:0", "f"}, false, "-y bob:****@proxy:0: the proxy port"},
		{"empty proxy", []string{"-y", "", "f"}, false, `-y "": the proxy port is missing`},

		{"no files", []string{"-v", "-a", "srv"}, false, "no files to send"},
		{"no files after --", []string{"-v", "--"}, false, "no files to send"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t)
			c, err := ParseClient(env.args(tt.args))
			if err == nil {
				t.Fatalf("ParseClient(%q) = %+v, want an error", tt.args, c)
			}
			if c != nil {
				t.Errorf("ParseClient returned a Client with the error %v", err)
			}
			var ue *UsageError
			var ve *ValueError
			switch {
			case tt.usage && !errors.As(err, &ue):
				t.Errorf("error %v (%T), want a *UsageError", err, err)
			case !tt.usage && !errors.As(err, &ve) && !errors.Is(err, ErrNoFiles):
				t.Errorf("error %v (%T), want a *ValueError or ErrNoFiles", err, err)
			}
			if msg := env.expand(tt.msg); !strings.HasPrefix(err.Error(), msg) {
				t.Errorf("error %q\nshould start with %q", err, msg)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the proxy password", err)
			}
		})
	}
}

func TestParseClientNoFiles(t *testing.T) {
	_, err := ParseClient([]string{"-v"})
	if !errors.Is(err, ErrNoFiles) {
		t.Errorf("error %v, want ErrNoFiles", err)
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		t.Errorf("no files should not print the usage text, as in the reference")
	}
}
