package protocol_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tentacle/internal/testcerts"
	"tentacle/protocol"
	"tentacle/tlsconfig"
)

// mode is one way a server and its clients can be set up.
type mode struct {
	name     string
	server   func(t *testing.T, s *protocol.Server, certs *testcerts.Set)
	client   func(t *testing.T, d *protocol.Dialer, certs *testcerts.Set)
	password string
}

var modes = []mode{
	{name: "plain"},
	{name: "password", password: "p@ss word"},
	{
		name: "tls",
		server: func(t *testing.T, s *protocol.Server, c *testcerts.Set) {
			s.TLSConfig = mustTLS(t)(tlsconfig.Server(tlsconfig.Options{CertFile: c.ServerCert, KeyFile: c.ServerKey}))
		},
		client: func(t *testing.T, d *protocol.Dialer, c *testcerts.Set) {
			d.TLSConfig = mustTLS(t)(tlsconfig.Client(tlsconfig.Options{}))
		},
	},
	{
		name:     "tls client certificate and password",
		password: "both",
		server: func(t *testing.T, s *protocol.Server, c *testcerts.Set) {
			s.TLSConfig = mustTLS(t)(tlsconfig.Server(tlsconfig.Options{CertFile: c.ServerCert, KeyFile: c.EncryptedServerKey, KeyPassword: c.KeyPassword, CAFile: c.CACert}))
		},
		client: func(t *testing.T, d *protocol.Dialer, c *testcerts.Set) {
			d.TLSConfig = mustTLS(t)(tlsconfig.Client(tlsconfig.Options{CertFile: c.ClientCert, KeyFile: c.ClientKey, CAFile: c.CACert}))
		},
	},
}

func mustTLS(t *testing.T) func(cfg any, err error) *tls.Config {
	return func(cfg any, err error) *tls.Config {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return cfg.(*tls.Config)
	}
}

// TestEveryCommandInEveryMode runs each command and each refusal through
// each security mode, from dial to QUIT, over real sockets.
func TestEveryCommandInEveryMode(t *testing.T) {
	certs, err := testcerts.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "conf"), 0o755); err != nil {
				t.Fatal(err)
			}
			st, err := protocol.OpenDirStorage(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			filters, err := protocol.ParseFilters(`\.conf$:conf`)
			if err != nil {
				t.Fatal(err)
			}
			var subjects []string
			srv := &protocol.Server{Storage: st, Filters: filters, Insecure: true, MaxSize: 1 << 20, Password: m.password, TempDir: t.TempDir(),
				OnTransfer: func(tr protocol.Transfer) { subjects = append(subjects, tr.TLSSubject) }}
			if m.server != nil {
				m.server(t, srv, certs)
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(l)
			defer srv.Close()

			d := &protocol.Dialer{Timeout: 5 * time.Second}
			if m.client != nil {
				m.client(t, d, certs)
			}
			c, err := d.Dial(context.Background(), l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if m.password != "" {
				if err := c.Auth(m.password); err != nil {
					t.Fatal(err)
				}
			}
			big := strings.Repeat("0123456789abcdef", 40000) // 640 KB: many TLS records
			steps := []struct {
				name string
				run  func() error
				want error
			}{
				{"send", func() error { return c.Send("a.data", strings.NewReader(big), int64(len(big))) }, nil},
				{"send filtered", func() error { return c.Send("b.conf", strings.NewReader("conf"), 4) }, nil},
				{"zsend", func() error { return c.ZSend("z.data", strings.NewReader(big)) }, nil},
				{"send exists", func() error { return c.Send("a.data", strings.NewReader("x"), 1) }, protocol.ErrExists},
				{"zsend exists", func() error { return c.ZSend("a.data", strings.NewReader("x")) }, protocol.ErrExists},
				{"send too big", func() error { return c.Send("c.data", strings.NewReader(big+big), int64(2*len(big))) }, protocol.ErrTooBig},
				{"send empty", func() error { return c.Send("e.data", strings.NewReader(""), 0) }, protocol.ErrTooBig},
				{"send invalid", func() error { return c.Send("a'b", strings.NewReader("x"), 1) }, protocol.ErrInvalidName},
				{"recv", expectBody(func(w io.Writer) (int64, error) { return c.Recv("a.data", w) }, big), nil},
				{"recv filtered", expectBody(func(w io.Writer) (int64, error) { return c.Recv("b.conf", w) }, "conf"), nil},
				{"zrecv", expectBody(func(w io.Writer) (int64, error) { return c.ZRecv("z.data", w) }, big), nil},
				{"recv missing", func() error { _, err := c.Recv("none", io.Discard); return err }, protocol.ErrNotExist},
				{"recv invalid", func() error { _, err := c.Recv("a=b", io.Discard); return err }, protocol.ErrInvalidName},
				{"ls", func() error {
					names, err := c.List("")
					if err == nil && strings.Join(names, " ") != "a.data conf z.data" {
						return errors.New("listed " + strings.Join(names, " "))
					}
					return err
				}, nil},
				{"mv", expectBody(func(w io.Writer) (int64, error) { return c.Move("z.data", w) }, big), nil},
				{"mv gone", func() error { _, err := c.Move("z.data", io.Discard); return err }, protocol.ErrRefused},
			}
			for _, s := range steps {
				err := s.run()
				if s.want == nil && err != nil || s.want != nil && !errors.Is(err, s.want) {
					t.Errorf("%s: got %v, want %v", s.name, err, s.want)
				}
			}
			if err := c.Quit(); err != nil {
				t.Error(err)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, "conf", "b.conf")); string(got) != "conf" {
				t.Errorf("filtered file holds %q", got)
			}
			if m.name == "tls client certificate and password" && (len(subjects) == 0 || !strings.Contains(subjects[0], "CN="+testcerts.ClientCommonName)) {
				t.Errorf("transfer records carry subjects %q", subjects)
			}
		})
	}
}

func expectBody(get func(io.Writer) (int64, error), want string) func() error {
	return func() error {
		var buf bytes.Buffer
		n, err := get(&buf)
		if err != nil {
			return err
		}
		if n != int64(len(want)) || buf.String() != want {
			return errors.New("received other content")
		}
		return nil
	}
}

// TestTLSClientCertificateRequired checks that a server with a CA turns
// away clients without a certificate or with one from another CA.
func TestTLSClientCertificateRequired(t *testing.T) {
	certs, err := testcerts.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := tlsconfig.Server(tlsconfig.Options{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, CAFile: certs.CACert})
	if err != nil {
		t.Fatal(err)
	}
	st, err := protocol.OpenDirStorage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := &protocol.Server{Storage: st, TLSConfig: cfg}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()

	clients := map[string]tlsconfig.Options{
		"no certificate":       {},
		"other CA":             {CertFile: certs.OtherClientCert, KeyFile: certs.OtherClientKey},
		"server from other CA": {CertFile: certs.ClientCert, KeyFile: certs.ClientKey, CAFile: certs.OtherCACert},
	}
	for name, o := range clients {
		t.Run(name, func(t *testing.T) {
			ccfg, err := tlsconfig.Client(o)
			if err != nil {
				t.Fatal(err)
			}
			c, err := (&protocol.Dialer{Timeout: 5 * time.Second, TLSConfig: ccfg}).Dial(context.Background(), l.Addr().String())
			if err == nil {
				// TLS 1.3 clients learn of the refusal on their first read.
				err = c.Send("x.data", strings.NewReader("x"), 1)
				c.Close()
			}
			if err == nil {
				t.Fatal("transfer succeeded")
			}
		})
	}
}
