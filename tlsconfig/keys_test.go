package tlsconfig

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tentacle/internal/testcerts"
	"tentacle/internal/testharness"
)

func generate(t *testing.T) *testcerts.Set {
	t.Helper()
	s, err := testcerts.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeTemp(t *testing.T, name string, parts ...[]byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	var data []byte
	for _, p := range parts {
		data = append(data, p...)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestLoadKeyPair(t *testing.T) {
	s := generate(t)
	combined := writeTemp(t, "combined.pem", mustRead(t, s.ServerCert), mustRead(t, s.ServerKey))
	keyFirst := writeTemp(t, "keyfirst.pem", mustRead(t, s.ClientKey), mustRead(t, s.ClientCert))
	chain := writeTemp(t, "chain.pem", mustRead(t, s.ServerCert), mustRead(t, s.CACert))
	edCert, edKey := ed25519Pair(t)

	tests := []struct {
		name           string
		cert, key, pw  string
		wantChainLen   int
		wantErr        error  // checked with errors.Is
		errHas         string // substring of the error
		wantRSA        bool
		wantCommonName string
	}{
		{name: "PKCS#1 RSA", cert: s.ServerCert, key: s.ServerKey, wantChainLen: 1, wantRSA: true},
		{name: "SEC 1 EC", cert: s.ClientCert, key: s.ClientKey, wantChainLen: 1, wantCommonName: "agent1"},
		{name: "PKCS#8 EC", cert: s.CACert, key: s.CAKey, wantChainLen: 1},
		{name: "PKCS#8 Ed25519", cert: edCert, key: edKey, wantChainLen: 1},
		{name: "password ignored for plain key", cert: s.ServerCert, key: s.ServerKey, pw: "unused", wantChainLen: 1, wantRSA: true},
		{name: "legacy encrypted", cert: s.ServerCert, key: s.EncryptedServerKey, pw: s.KeyPassword, wantChainLen: 1, wantRSA: true},
		{name: "PKCS#8 encrypted", cert: s.ServerCert, key: s.EncryptedServerKeyPKCS8, pw: s.KeyPassword, wantChainLen: 1, wantRSA: true},
		{name: "combined file", cert: combined, key: combined, wantChainLen: 1, wantRSA: true},
		{name: "key before cert", cert: keyFirst, key: keyFirst, wantChainLen: 1, wantCommonName: "agent1"},
		{name: "chain", cert: chain, key: s.ServerKey, wantChainLen: 2, wantRSA: true},

		{name: "legacy wrong password", cert: s.ServerCert, key: s.EncryptedServerKey, pw: "wrong", wantErr: ErrIncorrectPassword, errHas: s.EncryptedServerKey},
		{name: "PKCS#8 wrong password", cert: s.ServerCert, key: s.EncryptedServerKeyPKCS8, pw: "wrong", wantErr: ErrIncorrectPassword, errHas: s.EncryptedServerKeyPKCS8},
		{name: "legacy no password", cert: s.ServerCert, key: s.EncryptedServerKey, wantErr: ErrPasswordRequired},
		{name: "PKCS#8 no password", cert: s.ServerCert, key: s.EncryptedServerKeyPKCS8, wantErr: ErrPasswordRequired},
		{name: "mismatched key", cert: s.ServerCert, key: s.ClientKey, errHas: "does not match"},
		{name: "missing cert", cert: filepath.Join(s.Dir, "nope.crt"), key: s.ServerKey, errHas: "nope.crt"},
		{name: "missing key", cert: s.ServerCert, key: filepath.Join(s.Dir, "nope.key"), errHas: "nope.key"},
		{name: "no certificate in file", cert: s.ServerKey, key: s.ServerKey, errHas: "no CERTIFICATE"},
		{name: "no key in file", cert: s.ServerCert, key: s.CACert, errHas: "no private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := LoadKeyPair(tt.cert, tt.key, tt.pw)
			if tt.wantErr != nil || tt.errHas != "" {
				if err == nil {
					t.Fatal("LoadKeyPair succeeded, want error")
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("error %q is not %q", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Errorf("error %q does not contain %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(cert.Certificate) != tt.wantChainLen {
				t.Errorf("chain length %d, want %d", len(cert.Certificate), tt.wantChainLen)
			}
			if cert.Leaf == nil {
				t.Fatal("Leaf not set")
			}
			if _, isRSA := cert.PrivateKey.(*rsa.PrivateKey); isRSA != tt.wantRSA {
				t.Errorf("key type %T, want RSA=%v", cert.PrivateKey, tt.wantRSA)
			}
			if tt.wantCommonName != "" && cert.Leaf.Subject.CommonName != tt.wantCommonName {
				t.Errorf("CN %q, want %q", cert.Leaf.Subject.CommonName, tt.wantCommonName)
			}
		})
	}
}

// TestLoadKeyPairWrongPasswords tries many wrong passwords, because
// sometimes (about 1 in 256) a wrong key yields valid-looking padding and
// the failure is only detected when the plaintext does not parse; both
// paths must report ErrIncorrectPassword.
func TestLoadKeyPairWrongPasswords(t *testing.T) {
	s := generate(t)
	for _, key := range []string{s.EncryptedServerKey, s.EncryptedServerKeyPKCS8} {
		for i := range 300 {
			pw := fmt.Sprintf("wrong-%d", i)
			if _, err := LoadKeyPair(s.ServerCert, key, pw); !errors.Is(err, ErrIncorrectPassword) {
				t.Fatalf("%s with password %q: error %v, want ErrIncorrectPassword", filepath.Base(key), pw, err)
			}
		}
	}
}

// ed25519Pair writes a self-signed Ed25519 certificate and PKCS#8 key.
func ed25519Pair(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ed25519"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, "ed.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		writeTemp(t, "ed.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
}

// TestLoadKeyPairOpenSSL checks keys encrypted by the openssl tool itself,
// in the formats existing Tentacle installations are likely to have.
func TestLoadKeyPairOpenSSL(t *testing.T) {
	openssl := testharness.NeedTool(t, "openssl", "openssl")
	s := generate(t)
	dir := t.TempDir()
	const pw = "openssl secret"
	run := func(t *testing.T, args ...string) {
		t.Helper()
		out, err := exec.Command(openssl, args...).CombinedOutput()
		if err != nil {
			t.Skipf("openssl %s: %v\n%s (this openssl cannot write the format)", strings.Join(args, " "), err, out)
		}
	}

	// Re-encrypt the test server key in various formats.
	reencrypt := []struct {
		name string
		args []string
		// wantErr is a substring of the expected error; empty means the key
		// must load.
		wantErr string
	}{
		{name: "pkcs8 v2 aes256", args: []string{"pkcs8", "-topk8", "-v2", "aes256"}},
		{name: "pkcs8 v2 aes128 sha1", args: []string{"pkcs8", "-topk8", "-v2", "aes128", "-v2prf", "hmacWithSHA1"}},
		{name: "pkcs8 v2 aes192 sha512", args: []string{"pkcs8", "-topk8", "-v2", "aes192", "-v2prf", "hmacWithSHA512"}},
		{name: "pkcs8 v2 des3", args: []string{"pkcs8", "-topk8", "-v2", "des3"}},
		{name: "pkcs8 default", args: []string{"pkcs8", "-topk8"}},
		{name: "pkcs8 v1 PBE-SHA1-3DES", args: []string{"pkcs8", "-topk8", "-v1", "PBE-SHA1-3DES"}},
		{name: "pkcs8 v1 PBE-SHA1-2DES", args: []string{"pkcs8", "-topk8", "-v1", "PBE-SHA1-2DES"}},
		{name: "pkcs8 scrypt", args: []string{"pkcs8", "-topk8", "-scrypt"}, wantErr: "scrypt"},
		{name: "traditional aes256", args: []string{"rsa", "-traditional", "-aes256"}},
		{name: "traditional des3", args: []string{"rsa", "-traditional", "-des3"}},
		{name: "pkey aes128", args: []string{"pkey", "-aes128"}},
	}
	for i, tt := range reencrypt {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("re%d.key", i))
			args := append(append([]string{}, tt.args...), "-in", s.ServerKey, "-out", out, "-passout", "pass:"+pw)
			run(t, args...)
			_, err := LoadKeyPair(s.ServerCert, out, pw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("load: %v\n%s", err, mustRead(t, out))
			}
			if _, err := LoadKeyPair(s.ServerCert, out, "not "+pw); !errors.Is(err, ErrIncorrectPassword) {
				t.Errorf("wrong password: error %v, want ErrIncorrectPassword", err)
			}
		})
	}

	// Keys generated from scratch, with a self-signed certificate.
	fresh := []struct {
		name string
		gen  [][]string // commands writing key.pem, run in order
	}{
		{name: "genrsa -aes256", gen: [][]string{{"genrsa", "-aes256", "-passout", "pass:" + pw, "-out", "KEY", "2048"}}},
		{name: "genrsa -des3 traditional", gen: [][]string{{"genrsa", "-traditional", "-des3", "-passout", "pass:" + pw, "-out", "KEY", "2048"}}},
		{name: "ecparam then ec -aes256", gen: [][]string{
			{"ecparam", "-name", "prime256v1", "-genkey", "-out", "KEY.plain"},
			{"ec", "-in", "KEY.plain", "-aes256", "-passout", "pass:" + pw, "-out", "KEY"},
		}},
		{name: "ecparam with parameters block", gen: [][]string{
			{"ecparam", "-name", "prime256v1", "-genkey", "-out", "KEY"},
		}},
		// The two forms of a P-256 key that README suggests: PKCS#8
		// "PRIVATE KEY" from genpkey, SEC 1 "EC PRIVATE KEY" alone.
		{name: "genpkey EC P-256", gen: [][]string{
			{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "KEY"},
		}},
		{name: "ecparam -noout", gen: [][]string{
			{"ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "KEY"},
		}},
	}
	for i, tt := range fresh {
		t.Run(tt.name, func(t *testing.T) {
			key := filepath.Join(dir, fmt.Sprintf("fresh%d.key", i))
			cert := filepath.Join(dir, fmt.Sprintf("fresh%d.crt", i))
			for _, cmd := range tt.gen {
				args := make([]string, len(cmd))
				for j, a := range cmd {
					args[j] = strings.ReplaceAll(a, "KEY", key)
				}
				run(t, args...)
			}
			run(t, "req", "-new", "-x509", "-key", key, "-passin", "pass:"+pw, "-subj", "/CN=openssl", "-days", "1", "-out", cert)
			if _, err := LoadKeyPair(cert, key, pw); err != nil {
				t.Fatalf("load: %v\n%s", err, mustRead(t, key))
			}
		})
	}
}
