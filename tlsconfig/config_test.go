package tlsconfig

import (
	"crypto/tls"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// result is the outcome of one connection attempt.
type result struct {
	clientErr, serverErr error
	client, server       tls.ConnectionState
}

func (r result) ok() bool { return r.clientErr == nil && r.serverErr == nil }

func (r result) String() string {
	return "client: " + errString(r.clientErr) + "; server: " + errString(r.serverErr)
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// connect runs a TLS handshake over a real loopback socket and then has the
// server send two bytes that the client reads. The read matters: with TLS
// 1.3 the client finishes its handshake before the server has checked the
// client certificate, so a rejection only shows up on the first read.
func connect(t *testing.T, serverCfg, clientCfg *tls.Config) result {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	type serverResult struct {
		err   error
		state tls.ConnectionState
	}
	done := make(chan serverResult, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- serverResult{err: err}
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(conn, serverCfg)
		err = tc.Handshake()
		if err == nil {
			_, err = tc.Write([]byte("ok"))
		}
		done <- serverResult{err: err, state: tc.ConnectionState()}
	}()

	var r result
	conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Client(conn, clientCfg)
	r.clientErr = tc.Handshake()
	if r.clientErr == nil {
		buf := make([]byte, 2)
		_, r.clientErr = io.ReadFull(tc, buf)
		r.client = tc.ConnectionState()
	}
	conn.Close()
	sr := <-done
	r.serverErr, r.server = sr.err, sr.state
	return r
}

func mustServer(t *testing.T, o Options) *tls.Config {
	t.Helper()
	cfg, err := Server(o)
	if err != nil {
		t.Fatalf("Server(%+v): %v", o, err)
	}
	return cfg
}

func mustClient(t *testing.T, o Options) *tls.Config {
	t.Helper()
	cfg, err := Client(o)
	if err != nil {
		t.Fatalf("Client(%+v): %v", o, err)
	}
	return cfg
}

func TestHandshakes(t *testing.T) {
	s := generate(t)
	server := Options{CertFile: s.ServerCert, KeyFile: s.ServerKey}
	serverWithCA := Options{CertFile: s.ServerCert, KeyFile: s.ServerKey, CAFile: s.CACert}
	otherServer := Options{CertFile: s.OtherServerCert, KeyFile: s.OtherServerKey}
	insecureClient := Options{} // -c
	agent := Options{CertFile: s.ClientCert, KeyFile: s.ClientKey}
	verifyingAgent := Options{CertFile: s.ClientCert, KeyFile: s.ClientKey, CAFile: s.CACert}
	otherAgent := Options{CertFile: s.OtherClientCert, KeyFile: s.OtherClientKey}

	with := func(o Options, f func(*Options)) Options { f(&o); return o }

	tests := []struct {
		name           string
		server, client Options
		serverName     string // client SNI / name, to show it is not checked
		wantOK         bool
		clientErrHas   string
		serverErrHas   string
		check          func(t *testing.T, r result)
	}{
		// Client certificates required by -f on the server.
		{name: "CA server, client without certificate", server: serverWithCA, client: insecureClient, serverErrHas: "didn't provide a certificate"},
		{name: "CA server, client from other CA", server: serverWithCA, client: otherAgent, serverErrHas: "unknown authority"},
		{
			name: "CA server, client from CA", server: serverWithCA, client: agent, wantOK: true,
			check: func(t *testing.T, r result) {
				if len(r.server.PeerCertificates) == 0 || r.server.PeerCertificates[0].Subject.CommonName != "agent1" {
					t.Errorf("server did not see the agent1 certificate")
				}
			},
		},
		{name: "CA server, TLS 1.2 client from other CA", server: serverWithCA, client: with(otherAgent, func(o *Options) { o.Version = "TLSv1_2" }), serverErrHas: "unknown authority"},
		{name: "CA server, TLS 1.2 client from CA", server: serverWithCA, client: with(agent, func(o *Options) { o.Version = "TLSv1_2" }), wantOK: true},
		{name: "server without CA ignores client certificate", server: server, client: agent, wantOK: true},

		// Server verification by the client.
		{name: "-c client accepts unrelated server", server: otherServer, client: insecureClient, wantOK: true},
		{name: "-e/-k client accepts unrelated server", server: otherServer, client: agent, wantOK: true},
		{name: "verifying client rejects server from other CA", server: otherServer, client: verifyingAgent, clientErrHas: "verify server certificate"},
		{name: "verifying client accepts server from CA", server: serverWithCA, client: verifyingAgent, wantOK: true},
		{
			name: "verifying client ignores host name", server: server, client: verifyingAgent,
			serverName: "not-in-the-certificate.example", wantOK: true,
		},
		{name: "CA-only client verifies without a certificate", server: otherServer, client: Options{CAFile: s.CACert}, clientErrHas: "verify server certificate"},
		{name: "verifying client rejects client-only certificate as server", server: Options{CertFile: s.ClientCert, KeyFile: s.ClientKey}, client: verifyingAgent, clientErrHas: "usage"},

		// Encrypted key on the server.
		{
			name:   "server with encrypted PKCS#8 key",
			server: with(server, func(o *Options) { o.KeyFile, o.KeyPassword = s.EncryptedServerKeyPKCS8, s.KeyPassword }),
			client: verifyingAgent, wantOK: true,
		},

		// Protocol versions.
		{name: "TLS 1.2 server, TLS 1.3 client", server: with(server, func(o *Options) { o.Version = "TLSv1_2" }), client: Options{Version: "TLSv1_3"}},
		{
			name: "TLS 1.2 server, default client", server: with(server, func(o *Options) { o.Version = "TLSv1_2" }), client: Options{}, wantOK: true,
			check: wantVersion(tls.VersionTLS12),
		},
		{name: "default server, default client", server: server, client: Options{}, wantOK: true, check: wantVersion(tls.VersionTLS13)},
		{
			name: "exclusion syntax", server: with(server, func(o *Options) { o.Version = "SSLv23:!SSLv2:!SSLv3:!TLSv1:!TLSv1_1:!TLSv1_3" }), client: Options{}, wantOK: true,
			check: wantVersion(tls.VersionTLS12),
		},
		{
			name: "TLS 1.0 explicitly on both sides", server: with(server, func(o *Options) { o.Version = "TLSv1" }), client: Options{Version: "TLSv1"}, wantOK: true,
			check: wantVersion(tls.VersionTLS10),
		},
		{name: "TLS 1.0 server, default client", server: with(server, func(o *Options) { o.Version = "TLSv1" }), client: Options{}},

		// Cipher suites.
		{
			name:   "AES256-SHA server, ECDHE-RSA-AES128-GCM-SHA256 client",
			server: with(server, func(o *Options) { o.Version, o.Ciphers = "TLSv1_2", "AES256-SHA" }),
			client: Options{Ciphers: "ECDHE-RSA-AES128-GCM-SHA256"},
		},
		{
			name:   "AES256-SHA server, AES256-SHA client",
			server: with(server, func(o *Options) { o.Version, o.Ciphers = "TLSv1_2", "AES256-SHA" }),
			client: Options{Ciphers: "AES256-SHA"}, wantOK: true,
			check: wantSuite(tls.TLS_RSA_WITH_AES_256_CBC_SHA),
		},
		{
			// The reference client reaches such a server; ours must too,
			// though Go no longer offers RSA key exchange by default.
			name:   "AES256-SHA server, default client",
			server: with(server, func(o *Options) { o.Version, o.Ciphers = "TLSv1_2", "AES256-SHA" }),
			client: Options{}, wantOK: true,
			check: wantSuite(tls.TLS_RSA_WITH_AES_256_CBC_SHA),
		},
		{
			name:   "default server prefers ECDHE over the RSA suites a default client adds",
			server: with(server, func(o *Options) { o.Version = "TLSv1_2" }),
			client: Options{}, wantOK: true,
			check: wantSuite(tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
		},
		{
			name:   "restricted server, client offering several",
			server: with(server, func(o *Options) { o.Version, o.Ciphers = "TLSv1_2", "ECDHE-RSA-AES256-GCM-SHA384" }),
			client: Options{Ciphers: "HIGH:AES256-SHA"}, wantOK: true,
			check: wantSuite(tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
		},
		{
			name:   "cipher list does not restrict TLS 1.3",
			server: with(server, func(o *Options) { o.Ciphers = "AES256-SHA" }),
			client: Options{Ciphers: "ECDHE-RSA-AES128-GCM-SHA256"}, wantOK: true,
			check: wantVersion(tls.VersionTLS13),
		},
		{
			name:   "TLS 1.3 suites only: TLS 1.2 client fails",
			server: with(server, func(o *Options) { o.Ciphers = "TLS_AES_256_GCM_SHA384" }),
			client: Options{Version: "TLSv1_2"},
		},
		{
			name:   "TLS 1.3 suites only: default client succeeds",
			server: with(server, func(o *Options) { o.Ciphers = "TLS_AES_256_GCM_SHA384" }),
			client: Options{}, wantOK: true, check: wantVersion(tls.VersionTLS13),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clientCfg := mustClient(t, tt.client)
			clientCfg.ServerName = tt.serverName
			r := connect(t, mustServer(t, tt.server), clientCfg)
			t.Logf("%s", r)
			if r.ok() != tt.wantOK {
				t.Fatalf("ok = %v, want %v (%s)", r.ok(), tt.wantOK, r)
			}
			if tt.clientErrHas != "" && (r.clientErr == nil || !strings.Contains(r.clientErr.Error(), tt.clientErrHas)) {
				t.Errorf("client error %v, want one containing %q", r.clientErr, tt.clientErrHas)
			}
			if tt.serverErrHas != "" && (r.serverErr == nil || !strings.Contains(r.serverErr.Error(), tt.serverErrHas)) {
				t.Errorf("server error %v, want one containing %q", r.serverErr, tt.serverErrHas)
			}
			if tt.check != nil && r.ok() {
				tt.check(t, r)
			}
		})
	}
}

func wantVersion(v uint16) func(*testing.T, result) {
	return func(t *testing.T, r result) {
		t.Helper()
		if r.client.Version != v {
			t.Errorf("negotiated %s, want %s", tls.VersionName(r.client.Version), tls.VersionName(v))
		}
	}
}

func wantSuite(id uint16) func(*testing.T, result) {
	return func(t *testing.T, r result) {
		t.Helper()
		if r.client.CipherSuite != id {
			t.Errorf("negotiated %s, want %s", tls.CipherSuiteName(r.client.CipherSuite), tls.CipherSuiteName(id))
		}
	}
}

func TestServerOptions(t *testing.T) {
	s := generate(t)
	combined := writeTemp(t, "combined.pem", mustRead(t, s.ServerCert), mustRead(t, s.ServerKey))
	base := Options{CertFile: s.ServerCert, KeyFile: s.ServerKey}
	with := func(f func(*Options)) Options { o := base; f(&o); return o }

	tests := []struct {
		name   string
		o      Options
		errHas string
		check  func(*testing.T, *tls.Config)
	}{
		{
			name: "defaults", o: base,
			check: func(t *testing.T, c *tls.Config) {
				if c.MinVersion != tls.VersionTLS12 || c.MaxVersion != tls.VersionTLS13 {
					t.Errorf("versions %s..%s", tls.VersionName(c.MinVersion), tls.VersionName(c.MaxVersion))
				}
				if c.CipherSuites != nil || c.ClientAuth != tls.NoClientCert || len(c.Certificates) != 1 {
					t.Errorf("unexpected config %+v", c)
				}
			},
		},
		{
			name: "CA requires client certificates", o: with(func(o *Options) { o.CAFile = s.CACert }),
			check: func(t *testing.T, c *tls.Config) {
				if c.ClientAuth != tls.RequireAndVerifyClientCert || c.ClientCAs == nil {
					t.Errorf("ClientAuth %v, ClientCAs %v", c.ClientAuth, c.ClientCAs)
				}
			},
		},
		{name: "key defaults to certificate file", o: Options{CertFile: combined}},
		{
			name: "TLS 1.3 suites only raise the minimum", o: with(func(o *Options) { o.Ciphers = "TLS_AES_128_GCM_SHA256" }),
			check: func(t *testing.T, c *tls.Config) {
				if c.MinVersion != tls.VersionTLS13 {
					t.Errorf("MinVersion %s, want TLS 1.3", tls.VersionName(c.MinVersion))
				}
			},
		},
		{
			name: "suites unusable with the key raise the minimum", o: with(func(o *Options) { o.Ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256" }),
			check: func(t *testing.T, c *tls.Config) {
				if c.MinVersion != tls.VersionTLS13 {
					t.Errorf("MinVersion %s, want TLS 1.3", tls.VersionName(c.MinVersion))
				}
			},
		},
		{name: "no certificate", o: Options{}, errHas: "certificate"},
		{name: "missing CA file", o: with(func(o *Options) { o.CAFile = filepath.Join(s.Dir, "none.crt") }), errHas: "none.crt"},
		{name: "CA file without certificates", o: with(func(o *Options) { o.CAFile = s.ServerKey }), errHas: "no PEM certificates"},
		{name: "encrypted key without password", o: with(func(o *Options) { o.KeyFile = s.EncryptedServerKey }), errHas: "no password"},
		{name: "bad version", o: with(func(o *Options) { o.Version = "SSLv3" }), errHas: `"SSLv3"`},
		{name: "bad cipher", o: with(func(o *Options) { o.Ciphers = "AES256-SHA:FOO" }), errHas: `"FOO"`},
		{
			name: "TLS 1.3 suites only with TLS 1.2", o: with(func(o *Options) { o.Version, o.Ciphers = "TLSv1_2", "TLS_AES_256_GCM_SHA384" }),
			errHas: "no cipher suite usable with TLS 1.2",
		},
		{
			name: "GCM suite with TLS 1.0", o: with(func(o *Options) { o.Version, o.Ciphers = "TLSv1", "AES128-GCM-SHA256" }),
			errHas: "no cipher suite usable with TLS 1.0",
		},
		{
			name: "ECDSA suite with RSA certificate", o: with(func(o *Options) { o.Version, o.Ciphers = "TLSv1_2", "ECDHE-ECDSA-AES128-GCM-SHA256" }),
			errHas: "RSA certificate",
		},
		{
			name: "ECDSA suite with ECDSA certificate",
			o:    Options{CertFile: s.OtherServerCert, KeyFile: s.OtherServerKey, Version: "TLSv1_2", Ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Server(tt.o)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("Server error %v, want one containing %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, cfg)
			}
		})
	}
}

func TestClientOptions(t *testing.T) {
	s := generate(t)
	combined := writeTemp(t, "combined.pem", mustRead(t, s.ClientCert), mustRead(t, s.ClientKey))

	tests := []struct {
		name   string
		o      Options
		errHas string
		check  func(*testing.T, *tls.Config)
	}{
		{
			name: "-c", o: Options{},
			check: func(t *testing.T, c *tls.Config) {
				if !c.InsecureSkipVerify || c.VerifyConnection != nil || len(c.Certificates) != 0 || c.GetClientCertificate != nil {
					t.Errorf("unexpected config %+v", c)
				}
			},
		},
		{
			name: "certificate", o: Options{CertFile: s.ClientCert, KeyFile: s.ClientKey},
			check: func(t *testing.T, c *tls.Config) {
				if len(c.Certificates) != 1 || c.GetClientCertificate == nil || c.VerifyConnection != nil {
					t.Errorf("unexpected config %+v", c)
				}
			},
		},
		{
			name: "CA", o: Options{CertFile: s.ClientCert, KeyFile: s.ClientKey, CAFile: s.CACert},
			check: func(t *testing.T, c *tls.Config) {
				if c.VerifyConnection == nil {
					t.Error("VerifyConnection not set")
				}
			},
		},
		{name: "key defaults to certificate file", o: Options{CertFile: combined}},
		{name: "key without certificate", o: Options{KeyFile: s.ClientKey}, errHas: "without a certificate"},
		{name: "wrong password", o: Options{CertFile: s.ServerCert, KeyFile: s.EncryptedServerKeyPKCS8, KeyPassword: "x"}, errHas: "incorrect password"},
		{name: "missing CA file", o: Options{CAFile: filepath.Join(s.Dir, "none.crt")}, errHas: "none.crt"},
		{name: "bad version", o: Options{Version: "TLSv1_9"}, errHas: `"TLSv1_9"`},
		{name: "bad cipher", o: Options{Ciphers: "RC5-SHA"}, errHas: `"RC5-SHA"`},
		{name: "TLS 1.3 suites only with TLS 1.2", o: Options{Version: "TLSv1_2", Ciphers: "TLS_AES_256_GCM_SHA384"}, errHas: "no cipher suite usable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Client(tt.o)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("Client error %v, want one containing %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, cfg)
			}
		})
	}
}
