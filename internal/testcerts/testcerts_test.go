package testcerts

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"tentacle/internal/testharness"
)

// readPEM returns the first PEM block of the file at path.
func readPEM(t *testing.T, path string) *pem.Block {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: not PEM", path)
	}
	return block
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	block := readPEM(t, path)
	if block.Type != "CERTIFICATE" {
		t.Fatalf("%s: no CERTIFICATE block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cert
}

func pool(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	p.AddCert(readCert(t, path))
	return p
}

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	s, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir != dir || s.KeyPassword != Password {
		t.Errorf("Dir/KeyPassword = %q/%q", s.Dir, s.KeyPassword)
	}

	paths := map[string]string{
		"CACert": s.CACert, "CAKey": s.CAKey,
		"ServerCert": s.ServerCert, "ServerKey": s.ServerKey,
		"ClientCert": s.ClientCert, "ClientKey": s.ClientKey,
		"OtherCACert": s.OtherCACert, "OtherCAKey": s.OtherCAKey,
		"OtherClientCert": s.OtherClientCert, "OtherClientKey": s.OtherClientKey,
		"OtherServerCert": s.OtherServerCert, "OtherServerKey": s.OtherServerKey,
		"EncryptedServerKey": s.EncryptedServerKey, "EncryptedServerKeyPKCS8": s.EncryptedServerKeyPKCS8,
	}
	for field, path := range paths {
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("%s: %v", field, err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", field, fi.Mode().Perm())
		}
		readPEM(t, path)
	}

	now := time.Now()
	server := readCert(t, s.ServerCert)
	if !(server.NotBefore.Before(now.Add(-23*time.Hour)) && server.NotAfter.After(now.Add(23*time.Hour))) {
		t.Errorf("server validity %v..%v does not cover now±1 day", server.NotBefore, server.NotAfter)
	}
	if _, ok := server.PublicKey.(*rsa.PublicKey); !ok {
		t.Errorf("server key is %T, want RSA", server.PublicKey)
	}
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		if err := server.VerifyHostname(host); err != nil {
			t.Errorf("server certificate: %v", err)
		}
	}
	if ip := net.ParseIP("127.0.0.1"); !server.IPAddresses[0].Equal(ip) {
		t.Errorf("server IP SANs = %v", server.IPAddresses)
	}
	if cn := readCert(t, s.ClientCert).Subject.CommonName; cn != "agent1" {
		t.Errorf("client CN = %q, want agent1", cn)
	}

	chains := []struct {
		name, cert, ca string
		eku            x509.ExtKeyUsage
		wantOK         bool
	}{
		{"server by CA", s.ServerCert, s.CACert, x509.ExtKeyUsageServerAuth, true},
		{"client by CA", s.ClientCert, s.CACert, x509.ExtKeyUsageClientAuth, true},
		{"other client by other CA", s.OtherClientCert, s.OtherCACert, x509.ExtKeyUsageClientAuth, true},
		{"other server by other CA", s.OtherServerCert, s.OtherCACert, x509.ExtKeyUsageServerAuth, true},
		{"other client not by CA", s.OtherClientCert, s.CACert, x509.ExtKeyUsageClientAuth, false},
		{"other server not by CA", s.OtherServerCert, s.CACert, x509.ExtKeyUsageServerAuth, false},
		{"client not for server auth", s.ClientCert, s.CACert, x509.ExtKeyUsageServerAuth, false},
	}
	for _, c := range chains {
		_, err := readCert(t, c.cert).Verify(x509.VerifyOptions{Roots: pool(t, c.ca), KeyUsages: []x509.ExtKeyUsage{c.eku}})
		if (err == nil) != c.wantOK {
			t.Errorf("%s: Verify error = %v, want ok=%v", c.name, err, c.wantOK)
		}
	}

	// The legacy encrypted key decrypts to the plain key.
	//lint:ignore SA1019 verifying the legacy format this package writes
	der, err := x509.DecryptPEMBlock(readPEM(t, s.EncryptedServerKey), []byte(s.KeyPassword))
	if err != nil {
		t.Fatalf("decrypt legacy key: %v", err)
	}
	if string(der) != string(readPEM(t, s.ServerKey).Bytes) {
		t.Error("decrypted legacy key differs from ServerKey")
	}
}

func TestGenerateOverwritesMode(t *testing.T) {
	dir := t.TempDir()
	s, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(s.CAKey, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after regenerate = %v, want 0600", fi.Mode().Perm())
	}
}

// TestEncryptedPKCS8OpenSSL checks the PKCS#8 encoder against OpenSSL, the
// format's reference implementation.
func TestEncryptedPKCS8OpenSSL(t *testing.T) {
	// openssl cross-checks the PKCS#8 encoding.
	openssl := testharness.NeedTool(t, "openssl", "openssl")
	s, err := Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command(openssl, "pkey", "-in", s.EncryptedServerKeyPKCS8, "-passin", "pass:"+s.KeyPassword, "-traditional").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkey: %v\n%s", err, got)
	}
	block, _ := pem.Decode(got)
	if block == nil || string(block.Bytes) != string(readPEM(t, s.ServerKey).Bytes) {
		t.Errorf("openssl decrypted a different key:\n%s", got)
	}
	if out, err := exec.Command(openssl, "pkey", "-in", s.EncryptedServerKeyPKCS8, "-passin", "pass:wrong", "-noout").CombinedOutput(); err == nil {
		t.Errorf("openssl accepted a wrong password:\n%s", out)
	}
}
