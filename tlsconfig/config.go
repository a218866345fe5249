package tlsconfig

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Options carries the TLS-related command-line settings shared by
// tentacle_server and tentacle_client. All fields are optional from the
// type's point of view; Server and Client document which they require.
type Options struct {
	// CertFile is the PEM certificate to present (-e), optionally followed
	// by intermediate certificates, which are sent as the chain.
	CertFile string
	// KeyFile is the PEM private key for CertFile (-k). When empty the key
	// is read from CertFile, matching OpenSSL's habit of accepting a combined
	// certificate-and-key file.
	KeyFile string
	// CAFile is a PEM bundle of trusted CA certificates (-f). On the server
	// it makes client certificates mandatory; on the client it turns on
	// verification of the server's certificate chain.
	CAFile string

	// KeyPassword decrypts KeyFile when it is encrypted (-w; the caller
	// prompts for it). Empty when the key is not encrypted.
	KeyPassword string

	// Version restricts the protocol versions using IO::Socket::SSL's
	// SSL_version syntax (-z), e.g. "TLSv1_2" or "SSLv23:!TLSv1". Empty
	// means TLS 1.2 to 1.3. See ParseVersion.
	Version string
	// Ciphers restricts the TLS 1.2-and-earlier cipher suites using OpenSSL
	// cipher-list syntax (-u), e.g. "AES256-SHA". Empty means Go's
	// defaults. See ParseCiphers.
	Ciphers string
}

// Server returns the configuration for tentacle_server's listener.
//
// CertFile is required (KeyFile defaults to it). When CAFile is set, every
// client must present a certificate that chains to one of its CAs and is
// valid for client authentication (or carries no extended key usage), as
// the reference server demands with -f; otherwise clients are not asked for
// a certificate.
//
// Besides the errors of LoadKeyPair, ParseVersion and ParseCiphers, it
// rejects option combinations that could never complete a handshake, so the
// mistake is reported at startup rather than by every client: a cipher list
// with no suite usable with the selected TLS versions below 1.3 (e.g. -z
// TLSv1 -u AES128-GCM-SHA256) or with the certificate's key type (e.g. -z
// TLSv1_2 -u ECDHE-ECDSA-AES128-GCM-SHA256 with an RSA certificate). When
// TLS 1.3 is allowed, such a list instead makes the configuration TLS
// 1.3-only, which is all it could negotiate anyway (cipher lists do not
// apply to TLS 1.3; see ParseCiphers).
func Server(o Options) (*tls.Config, error) {
	if o.CertFile == "" {
		return nil, errors.New("TLS server requires a certificate file")
	}
	cert, err := LoadKeyPair(o.CertFile, keyFile(o), o.KeyPassword)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if err := applyProtocol(cfg, o, &cert); err != nil {
		return nil, err
	}
	if o.CAFile != "" {
		pool, err := loadCAPool(o.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// Client returns the configuration for tentacle_client's connection.
//
// The reference client has three modes, all supported:
//
//   - no files (-c): encrypt only; the server is not authenticated.
//   - CertFile (and KeyFile, which defaults to CertFile) (-e/-k): also
//     present a client certificate; the server is still not authenticated.
//   - CAFile (-f): verify that the server's certificate chains to one of
//     the CAs and is valid for server authentication. CAFile may also be
//     used without a client certificate.
//
// Like the reference client, which only asks OpenSSL to verify the chain,
// the server's host name is never compared with the certificate: agents are commonly configured with an IP
// address or an alias that is not in the server's certificate, and requiring
// a match would break existing deployments. crypto/tls cannot verify the
// chain without also checking the name, so the returned configuration sets
// InsecureSkipVerify and performs the chain verification itself in
// VerifyConnection, which crypto/tls calls for every handshake, including
// resumed ones. Without CAFile, InsecureSkipVerify is exactly the reference
// client's behaviour.
//
// The client certificate is supplied through GetClientCertificate so that it
// is sent whenever the server asks for one, even if the server's list of
// acceptable CAs does not name its issuer; that is what OpenSSL does, and it
// lets the server report the real problem. It is also placed in
// Certificates for inspection. ServerName is left empty; callers that want
// SNI may set it.
func Client(o Options) (*tls.Config, error) {
	if o.CertFile == "" && o.KeyFile != "" {
		return nil, errors.New("TLS client key file given without a certificate file")
	}
	cfg := &tls.Config{
		// See the function documentation: either no server verification is
		// wanted, or the chain is verified in VerifyConnection below.
		InsecureSkipVerify: true,
	}
	if o.CertFile != "" {
		cert, err := LoadKeyPair(o.CertFile, keyFile(o), o.KeyPassword)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &cert, nil
		}
	}
	if err := applyProtocol(cfg, o, nil); err != nil {
		return nil, err
	}
	if cfg.CipherSuites == nil {
		cfg.CipherSuites = clientCipherSuites()
	}
	if o.CAFile != "" {
		pool, err := loadCAPool(o.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.VerifyConnection = verifyServerChain(pool, o.CAFile)
	}
	return cfg, nil
}

// clientCipherSuites is what a client offers for TLS 1.2 and below: Go's
// defaults followed by the RSA key exchange suites that Go no longer offers
// on its own. A Pandora server restricted with -u to such a suite (e.g.
// AES256-SHA) must stay reachable, as it is from the reference client; the
// server still picks the strongest suite both sides have.
func clientCipherSuites() []uint16 {
	var ids []uint16
	for _, s := range tls.CipherSuites() {
		ids = append(ids, s.ID)
	}
	for _, id := range []uint16{
		tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	} {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// keyFile returns the key file to use, defaulting to the certificate file.
func keyFile(o Options) string {
	if o.KeyFile == "" {
		return o.CertFile
	}
	return o.KeyFile
}

// loadCAPool reads a PEM bundle of trusted certificates.
func loadCAPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("load CA file %q: no PEM certificates found", path)
	}
	return pool, nil
}

// verifyServerChain returns a tls.Config.VerifyConnection callback that
// checks the server's certificate chain against roots without checking the
// host name (see Client for why).
func verifyServerChain(roots *x509.CertPool, caFile string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("server presented no certificate")
		}
		opts := x509.VerifyOptions{
			Roots:         roots,
			Intermediates: x509.NewCertPool(),
			// OpenSSL checks the "SSL server" purpose by default; this is
			// the equivalent.
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return fmt.Errorf("verify server certificate against CA file %q: %w", caFile, err)
		}
		return nil
	}
}

// applyProtocol sets the version range and cipher suites from o and checks
// that they leave something to negotiate. serverCert is the server's
// certificate, used to check that the cipher list contains a suite matching
// its key type; nil for clients.
func applyProtocol(cfg *tls.Config, o Options, serverCert *tls.Certificate) error {
	minV, maxV, err := ParseVersion(o.Version)
	if err != nil {
		return err
	}
	suites, err := ParseCiphers(o.Ciphers)
	if err != nil {
		return err
	}
	if suites != nil {
		byVersion := slices.DeleteFunc(slices.Clone(suites), func(id uint16) bool {
			return !suiteUsable(ciphers.byID[id], minV, maxV)
		})
		usable := slices.DeleteFunc(slices.Clone(byVersion), func(id uint16) bool {
			return serverCert != nil && !suiteMatchesKey(ciphers.byID[id], serverCert)
		})
		if len(usable) == 0 {
			if maxV < tls.VersionTLS13 {
				if len(byVersion) == 0 {
					return fmt.Errorf("cipher list %q leaves no cipher suite usable with %s", o.Ciphers, versionRange(minV, maxV))
				}
				return fmt.Errorf("cipher list %q leaves no cipher suite usable with the server's %s certificate", o.Ciphers, keyType(serverCert))
			}
			// Only TLS 1.3 can succeed; say so explicitly, so that older
			// peers get a protocol-version alert instead of a confusing
			// cipher mismatch.
			minV = tls.VersionTLS13
		}
		cfg.CipherSuites = suites
	}
	cfg.MinVersion, cfg.MaxVersion = minV, maxV
	return nil
}

// suiteUsable reports whether st can be negotiated with some TLS version
// below 1.3 inside [minV, maxV].
func suiteUsable(st *tls.CipherSuite, minV, maxV uint16) bool {
	return slices.ContainsFunc(st.SupportedVersions, func(v uint16) bool {
		return v >= minV && v <= maxV && v < tls.VersionTLS13
	})
}

// suiteMatchesKey reports whether a TLS 1.2-and-earlier suite can be used
// with the certificate's key: ECDSA suites need an ECDSA (or Ed25519) key,
// all other suites Go implements need an RSA key.
func suiteMatchesKey(st *tls.CipherSuite, cert *tls.Certificate) bool {
	ecdsaSuite := strings.Contains(st.Name, "_ECDSA_")
	switch cert.PrivateKey.(type) {
	case *rsa.PrivateKey:
		return !ecdsaSuite
	case *ecdsa.PrivateKey, ed25519.PrivateKey:
		return ecdsaSuite
	}
	return true
}

// keyType names the certificate's key algorithm for messages.
func keyType(cert *tls.Certificate) string {
	switch cert.PrivateKey.(type) {
	case *rsa.PrivateKey:
		return "RSA"
	case *ecdsa.PrivateKey:
		return "ECDSA"
	case ed25519.PrivateKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", cert.PrivateKey)
}

// versionRange formats a protocol range for messages.
func versionRange(minV, maxV uint16) string {
	if minV == maxV {
		return tls.VersionName(minV)
	}
	return tls.VersionName(minV) + " to " + tls.VersionName(maxV)
}
