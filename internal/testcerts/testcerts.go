// Package testcerts writes a small throw-away PKI for tests across the
// Tentacle module, so that no test depends on key material committed to the
// repository (which would expire and tempt reuse outside tests).
//
// The set is shaped after the scenarios the Tentacle TLS options create: a
// CA used with -f, a server certificate valid for the loopback addresses, a
// client ("agent") certificate from the same CA, and an unrelated second CA
// with its own client and server certificates for "wrong CA" cases. The
// server key is RSA so that static-RSA cipher suites such as AES256-SHA can
// be exercised; everything else uses ECDSA P-256, which is fast to generate.
// The server key is also written encrypted in the two formats OpenSSL
// produces, for password tests.
//
// Key generation is done once per process and the PEM data reused for every
// Generate call, because RSA key generation is slow under the race detector
// and tests do not need distinct keys per directory.
package testcerts

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Password is the password protecting Set.EncryptedServerKey and
// Set.EncryptedServerKeyPKCS8.
const Password = "tentacle test password"

// ClientCommonName is the subject common name of both client certificates,
// so tests can check which certificate the server saw.
const ClientCommonName = "agent1"

// Set holds the paths of the files Generate wrote. Every file is PEM and has
// mode 0600. Keys deliberately use different encodings so that tests loading
// them cover all unencrypted formats OpenSSL writes.
type Set struct {
	// Dir is the directory holding all files.
	Dir string

	// CACert and CAKey are the trusted CA (ECDSA; key in PKCS#8 "PRIVATE
	// KEY" form).
	CACert, CAKey string

	// ServerCert is a server certificate for 127.0.0.1, ::1 and localhost,
	// signed by CACert, with the serverAuth extended key usage. ServerKey is
	// its RSA 2048 key in PKCS#1 "RSA PRIVATE KEY" form.
	ServerCert, ServerKey string

	// ClientCert is a client certificate with common name "agent1", signed
	// by CACert, with the clientAuth extended key usage. ClientKey is its
	// ECDSA key in SEC 1 "EC PRIVATE KEY" form.
	ClientCert, ClientKey string

	// OtherCACert and OtherCAKey are a second CA unrelated to CACert.
	OtherCACert, OtherCAKey string

	// OtherClientCert and OtherClientKey are a client certificate ("agent1")
	// signed by OtherCACert: a server trusting CACert must reject it.
	OtherClientCert, OtherClientKey string

	// OtherServerCert and OtherServerKey are a server certificate for the
	// same names as ServerCert, signed by OtherCACert: a client trusting
	// CACert must reject it.
	OtherServerCert, OtherServerKey string

	// EncryptedServerKey is ServerKey encrypted with KeyPassword in the
	// legacy OpenSSL PEM form ("Proc-Type: 4,ENCRYPTED", AES-256-CBC).
	EncryptedServerKey string

	// EncryptedServerKeyPKCS8 is ServerKey as a PKCS#8 "ENCRYPTED PRIVATE
	// KEY" (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC), OpenSSL 3's default.
	EncryptedServerKeyPKCS8 string

	// KeyPassword is the password of the encrypted keys (equal to Password).
	KeyPassword string
}

// Generate writes a fresh certificate set into dir (created if missing) and
// returns the paths. Certificates are valid from one day ago to one day from
// now, so clock skew between test processes does not matter and they cannot
// be mistaken for long-lived material. It is safe to call concurrently for
// different directories (e.g. from parallel tests, each with t.TempDir()).
func Generate(dir string) (*Set, error) {
	m, err := generateMaterial()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("testcerts: create %q: %w", dir, err)
	}
	s := &Set{Dir: dir, KeyPassword: Password}
	files := []struct {
		dst  *string
		name string
		data []byte
	}{
		{&s.CACert, "ca.crt", m.caCert},
		{&s.CAKey, "ca.key", m.caKey},
		{&s.ServerCert, "server.crt", m.serverCert},
		{&s.ServerKey, "server.key", m.serverKey},
		{&s.ClientCert, "client.crt", m.clientCert},
		{&s.ClientKey, "client.key", m.clientKey},
		{&s.OtherCACert, "other-ca.crt", m.otherCACert},
		{&s.OtherCAKey, "other-ca.key", m.otherCAKey},
		{&s.OtherClientCert, "other-client.crt", m.otherClientCert},
		{&s.OtherClientKey, "other-client.key", m.otherClientKey},
		{&s.OtherServerCert, "other-server.crt", m.otherServerCert},
		{&s.OtherServerKey, "other-server.key", m.otherServerKey},
		{&s.EncryptedServerKey, "server-encrypted.key", m.encServerKey},
		{&s.EncryptedServerKeyPKCS8, "server-encrypted-pkcs8.key", m.encServerKeyPKCS8},
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := writeFile(path, f.data); err != nil {
			return nil, err
		}
		*f.dst = path
	}
	return s, nil
}

// writeFile writes data with mode 0600, also when the file already exists
// with a wider mode (os.WriteFile keeps an existing file's mode).
func writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("testcerts: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("testcerts: %w", err)
	}
	return nil
}

// material is the PEM data of a complete set.
type material struct {
	caCert, caKey                   []byte
	serverCert, serverKey           []byte
	clientCert, clientKey           []byte
	otherCACert, otherCAKey         []byte
	otherClientCert, otherClientKey []byte
	otherServerCert, otherServerKey []byte
	encServerKey, encServerKeyPKCS8 []byte
}

var generateMaterial = sync.OnceValues(func() (*material, error) {
	m, err := newMaterial(time.Now())
	if err != nil {
		return nil, fmt.Errorf("testcerts: %w", err)
	}
	return m, nil
})

// newMaterial creates all keys and certificates.
func newMaterial(now time.Time) (*material, error) {
	m := &material{}

	ca, caKey, err := newCA("Tentacle Test CA", now)
	if err != nil {
		return nil, err
	}
	otherCA, otherCAKey, err := newCA("Unrelated Test CA", now)
	if err != nil {
		return nil, err
	}

	serverKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate server key: %w", err)
	}
	clientKey, err := newECKey()
	if err != nil {
		return nil, err
	}
	otherClientKey, err := newECKey()
	if err != nil {
		return nil, err
	}
	otherServerKey, err := newECKey()
	if err != nil {
		return nil, err
	}

	serverTmpl := leafTemplate("localhost", now, x509.ExtKeyUsageServerAuth)
	serverTmpl.DNSNames = []string{"localhost"}
	serverTmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	// keyEncipherment is needed for static-RSA key exchange (AES256-SHA
	// and friends); OpenSSL enforces it when keyUsage is present.
	serverTmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	clientTmpl := leafTemplate(ClientCommonName, now, x509.ExtKeyUsageClientAuth)

	if m.serverCert, err = sign(serverTmpl, serverKey.Public(), ca, caKey); err != nil {
		return nil, err
	}
	if m.clientCert, err = sign(clientTmpl, clientKey.Public(), ca, caKey); err != nil {
		return nil, err
	}
	if m.otherClientCert, err = sign(clientTmpl, otherClientKey.Public(), otherCA, otherCAKey); err != nil {
		return nil, err
	}
	otherServerTmpl := *serverTmpl
	otherServerTmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if m.otherServerCert, err = sign(&otherServerTmpl, otherServerKey.Public(), otherCA, otherCAKey); err != nil {
		return nil, err
	}
	m.caCert = pemEncode("CERTIFICATE", ca.Raw)
	m.otherCACert = pemEncode("CERTIFICATE", otherCA.Raw)

	if m.caKey, err = pkcs8PEM(caKey); err != nil {
		return nil, err
	}
	if m.otherCAKey, err = pkcs8PEM(otherCAKey); err != nil {
		return nil, err
	}
	if m.clientKey, err = ecPEM(clientKey); err != nil {
		return nil, err
	}
	if m.otherClientKey, err = ecPEM(otherClientKey); err != nil {
		return nil, err
	}
	if m.otherServerKey, err = ecPEM(otherServerKey); err != nil {
		return nil, err
	}
	if err := m.encodeServerKey(serverKey); err != nil {
		return nil, err
	}
	return m, nil
}

// encodeServerKey writes the server's RSA key in the three forms the tests
// read: PKCS#1, legacy encrypted PEM, and encrypted PKCS#8.
func (m *material) encodeServerKey(serverKey *rsa.PrivateKey) error {
	pkcs1 := x509.MarshalPKCS1PrivateKey(serverKey)
	m.serverKey = pemEncode("RSA PRIVATE KEY", pkcs1)

	// Legacy PEM encryption is deprecated (no integrity check, weak KDF),
	// but it is the format existing Tentacle installations have, and the
	// point of this file is to test that it can still be read.
	//lint:ignore SA1019 writing the legacy format is the purpose here
	encBlock, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", pkcs1, []byte(Password), x509.PEMCipherAES256)
	if err != nil {
		return fmt.Errorf("encrypt server key: %w", err)
	}
	m.encServerKey = pem.EncodeToMemory(encBlock)

	pkcs8, err := x509.MarshalPKCS8PrivateKey(serverKey)
	if err != nil {
		return fmt.Errorf("marshal server key: %w", err)
	}
	encDER, err := encryptPKCS8(pkcs8, []byte(Password))
	if err != nil {
		return fmt.Errorf("encrypt server key: %w", err)
	}
	m.encServerKeyPKCS8 = pemEncode("ENCRYPTED PRIVATE KEY", encDER)
	return nil
}

// newCA creates a self-signed ECDSA CA certificate.
func newCA(name string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := newECKey()
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Tentacle tests"}},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA %q: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA %q: %w", name, err)
	}
	return cert, key, nil
}

// leafTemplate returns an end-entity template; the serial number is filled
// in by sign.
func leafTemplate(cn string, now time.Time, eku x509.ExtKeyUsage) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Tentacle tests"}},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{eku},
		BasicConstraintsValid: true,
	}
}

// sign issues tmpl (with a fresh serial number) for pub, signed by the CA,
// and returns it PEM-encoded.
func sign(tmpl *x509.Certificate, pub crypto.PublicKey, ca *x509.Certificate, caKey crypto.Signer) ([]byte, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	t := *tmpl
	t.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, &t, ca, pub, caKey)
	if err != nil {
		return nil, fmt.Errorf("create certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return pemEncode("CERTIFICATE", der), nil
}

func newECKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ECDSA key: %w", err)
	}
	return key, nil
}

func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return serial, nil
}

func pkcs8PEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	return pemEncode("PRIVATE KEY", der), nil
}

func ecPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal EC key: %w", err)
	}
	return pemEncode("EC PRIVATE KEY", der), nil
}

func pemEncode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
