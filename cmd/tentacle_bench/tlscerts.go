//go:build linux

package main

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
	"time"
)

// benchCerts are the paths of the throw-away PKI the tls test makes in its
// work directory at run time, so that no key is ever committed and every
// run uses keys of the sizes it reports: a CA, an RSA-2048 and an ECDSA
// P-256 server certificate for 127.0.0.1, and a client certificate. Both
// servers get the CA with -f and the bench presents the client certificate,
// as an agent with -e, -k and -f does. Without -f the Perl reference still
// asks for a client certificate and checks one that is sent against the
// system's CAs, refusing the bench's; with -f on both, both verify it and
// do the same work per handshake.
type benchCerts struct {
	dir                 string
	ca                  string
	rsaCert, rsaKey     string // PKCS#1 "RSA PRIVATE KEY"
	ecdsaCert, ecdsaKey string // SEC 1 "EC PRIVATE KEY", as openssl ecparam writes it
	clientCert          string
	clientKey           string // PKCS#8 "PRIVATE KEY", as openssl genpkey writes it
}

// makeBenchCerts writes the PKI into dir. The files are world-readable:
// the servers run as nobody and must read them, and the keys are thrown
// away with the work directory.
func makeBenchCerts(dir string) (*benchCerts, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("bench CA key: %w", err)
	}
	caTmpl := certTemplate("Tentacle bench CA", now)
	caTmpl.IsCA, caTmpl.BasicConstraintsValid = true, true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("bench CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("bench CA: %w", err)
	}
	c := &benchCerts{dir: dir, ca: filepath.Join(dir, "ca.crt")}
	if err := writePEM(c.ca, "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("RSA server key: %w", err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ECDSA server key: %w", err)
	}
	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		return nil, fmt.Errorf("ECDSA server key: %w", err)
	}
	clientDER, err := x509.MarshalPKCS8PrivateKey(clientKey)
	if err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	leaves := []struct {
		name, keyType string
		key           crypto.Signer
		keyDER        []byte
		usage         x509.ExtKeyUsage
		cert, keyPath *string
	}{
		{"rsa", "RSA PRIVATE KEY", rsaKey, x509.MarshalPKCS1PrivateKey(rsaKey), x509.ExtKeyUsageServerAuth, &c.rsaCert, &c.rsaKey},
		{"ecdsa", "EC PRIVATE KEY", ecKey, ecDER, x509.ExtKeyUsageServerAuth, &c.ecdsaCert, &c.ecdsaKey},
		{"client", "PRIVATE KEY", clientKey, clientDER, x509.ExtKeyUsageClientAuth, &c.clientCert, &c.clientKey},
	}
	for _, l := range leaves {
		*l.cert, *l.keyPath = filepath.Join(dir, l.name+".crt"), filepath.Join(dir, l.name+".key")
		tmpl := certTemplate("127.0.0.1", now)
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{l.usage}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		if _, isRSA := l.key.(*rsa.PrivateKey); isRSA {
			tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		}
		if l.usage == x509.ExtKeyUsageServerAuth {
			tmpl.IPAddresses, tmpl.DNSNames = []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, l.key.Public(), caKey)
		if err != nil {
			return nil, fmt.Errorf("%s certificate: %w", l.name, err)
		}
		if err := writePEM(*l.cert, "CERTIFICATE", der); err != nil {
			return nil, err
		}
		if err := writePEM(*l.keyPath, l.keyType, l.keyDER); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// certTemplate is a certificate valid for a day around now, long enough for
// any run and short enough to be useless if it leaks.
func certTemplate(cn string, now time.Time) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Tentacle bench"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
	}
}

// writePEM writes one PEM block, readable by the servers' user.
func writePEM(path, blockType string, der []byte) error {
	data := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("bench certificates: %w", err)
	}
	return nil
}
