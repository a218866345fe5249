//go:build linux

package main

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"tentacle/tlsconfig"
)

// TestBenchCerts checks that the bench's certificates make a mutually
// verified handshake as the servers are configured (-e, -k, -f) and as the
// bench's clients are, with each server key.
func TestBenchCerts(t *testing.T) {
	c, err := makeBenchCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	client, err := tlsconfig.Client(tlsconfig.Options{CertFile: c.clientCert, KeyFile: c.clientKey, CAFile: c.ca})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		cert, key string
		isKey     func(any) bool
	}{
		{"RSA", c.rsaCert, c.rsaKey, func(k any) bool { r, ok := k.(*rsa.PublicKey); return ok && r.N.BitLen() == 2048 }},
		{"ECDSA P-256", c.ecdsaCert, c.ecdsaKey, func(k any) bool { e, ok := k.(*ecdsa.PublicKey); return ok && e.Curve.Params().Name == "P-256" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srvCfg, err := tlsconfig.Server(tlsconfig.Options{CertFile: tt.cert, KeyFile: tt.key, CAFile: c.ca})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := tls.Listen("tcp", "127.0.0.1:0", srvCfg)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			peer := make(chan error, 1)
			go func() {
				sc, err := ln.Accept()
				if err == nil {
					sc.SetDeadline(time.Now().Add(10 * time.Second))
					err = sc.(*tls.Conn).Handshake()
					sc.Close()
				}
				peer <- err
			}()
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), client)
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			st := conn.ConnectionState()
			conn.Close()
			if err := <-peer; err != nil {
				t.Fatalf("server side of the handshake: %v", err)
			}
			if !tt.isKey(st.PeerCertificates[0].PublicKey) {
				t.Errorf("server key is %T, want %s", st.PeerCertificates[0].PublicKey, tt.name)
			}
		})
	}
}
