package tlsconfig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrPasswordRequired is returned (wrapped) by LoadKeyPair when the private
// key is encrypted but no password was given. Callers can test for it with
// errors.Is to tell the user to supply one (the Tentacle -w option) instead
// of reporting a generic parse failure.
var ErrPasswordRequired = errors.New("private key is encrypted and no password was given")

// ErrIncorrectPassword is returned (wrapped) by LoadKeyPair when an encrypted
// private key cannot be decrypted with the given password. Callers can test
// for it with errors.Is, e.g. to prompt again.
//
// Password-based PEM and PKCS#8 encryption carry no integrity check, so a
// wrong password is detected from invalid padding or an undecodable result;
// in rare cases a damaged file is reported this way too.
var ErrIncorrectPassword = errors.New("incorrect password for private key")

// LoadKeyPair reads a PEM certificate (chain) and its private key, as given to
// the Tentacle -e and -k options, and returns them ready for tls.Config.
//
// It exists instead of tls.LoadX509KeyPair because OpenSSL users routinely
// protect keys with a passphrase, which crypto/tls does not support. Accepted
// key encodings:
//
//   - unencrypted PKCS#1 ("RSA PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY") and
//     PKCS#8 ("PRIVATE KEY") with RSA, ECDSA or Ed25519 keys;
//   - the same, encrypted in the legacy OpenSSL way with "Proc-Type:
//     4,ENCRYPTED" and "DEK-Info" headers (DES, 3DES and AES ciphers), as
//     written by "openssl genrsa -des3" before OpenSSL 3 or with -traditional;
//   - PKCS#8 "ENCRYPTED PRIVATE KEY" using PBES2 (PBKDF2 with HMAC-SHA1 or
//     SHA-2, and AES-CBC, 3DES-CBC or DES-CBC) as written by OpenSSL 1.1 and
//     3 ("openssl genrsa -aes256", "openssl pkcs8 -topk8"), or the PKCS#12
//     3DES scheme that OpenSSL 1.0 used by default.
//
// password is only used when the key is encrypted; an empty password for an
// encrypted key yields ErrPasswordRequired and a wrong one
// ErrIncorrectPassword. Blocks of other types are skipped, so certFile and
// keyFile may name the same combined PEM file. The first CERTIFICATE block is
// the leaf and must match the key; further ones are sent as the chain.
func LoadKeyPair(certFile, keyFile, password string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load certificate: %w", err)
	}
	var chain [][]byte
	for rest := certPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			chain = append(chain, block.Bytes)
		}
	}
	if len(chain) == 0 {
		return tls.Certificate{}, fmt.Errorf("load certificate %q: no CERTIFICATE PEM block found", certFile)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load certificate %q: %w", certFile, err)
	}

	keyPEM := certPEM
	if keyFile != certFile {
		if keyPEM, err = os.ReadFile(keyFile); err != nil {
			return tls.Certificate{}, fmt.Errorf("load key: %w", err)
		}
	}
	key, err := parsePrivateKeyPEM(keyPEM, password)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load key %q: %w", keyFile, err)
	}
	if err := checkKeyMatches(leaf, key); err != nil {
		return tls.Certificate{}, fmt.Errorf("load key %q for certificate %q: %w", keyFile, certFile, err)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

// parsePrivateKeyPEM finds the first private key block in data, decrypts it if
// needed and parses it.
func parsePrivateKeyPEM(data []byte, password string) (crypto.Signer, error) {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no private key PEM block found")
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue // certificates, "EC PARAMETERS", ...
		}
		der, err := decryptKeyBlock(block, password)
		if err != nil {
			return nil, err
		}
		key, err := parsePrivateKeyDER(der)
		if err != nil && (isLegacyEncrypted(block) || block.Type == "ENCRYPTED PRIVATE KEY") {
			// The padding happened to look valid but the plaintext is
			// garbage: the usual symptom of a wrong password.
			return nil, fmt.Errorf("%w (decrypted %s does not parse: %v)", ErrIncorrectPassword, block.Type, err)
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", block.Type, err)
		}
		return key, nil
	}
}

// isLegacyEncrypted reports whether b uses OpenSSL's pre-PKCS#8 encryption,
// recognisable by its DEK-Info header. This is the test
// x509.IsEncryptedPEMBlock performs, written out to avoid a second
// deprecated call.
func isLegacyEncrypted(b *pem.Block) bool {
	_, ok := b.Headers["DEK-Info"]
	return ok
}

// decryptKeyBlock returns the DER contents of a private key block, decrypting
// legacy-encrypted and PKCS#8-encrypted blocks with password.
func decryptKeyBlock(b *pem.Block, password string) ([]byte, error) {
	switch {
	case isLegacyEncrypted(b):
		if password == "" {
			return nil, ErrPasswordRequired
		}
		// RFC 1423 PEM encryption is deprecated because it has no integrity
		// protection and a weak KDF, but it is what "openssl genrsa -des3"
		// wrote for two decades and existing Tentacle keys use it; there is
		// no replacement in the standard library.
		//lint:ignore SA1019 reading legacy OpenSSL-encrypted keys is required for compatibility
		der, err := x509.DecryptPEMBlock(b, []byte(password))
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, ErrIncorrectPassword
		}
		if err != nil {
			return nil, fmt.Errorf("decrypt %s: %w", b.Type, err)
		}
		return der, nil
	case b.Type == "ENCRYPTED PRIVATE KEY":
		if password == "" {
			return nil, ErrPasswordRequired
		}
		return decryptPKCS8(b.Bytes, []byte(password))
	default:
		return b.Bytes, nil
	}
}

// parsePrivateKeyDER tries the unencrypted encodings OpenSSL writes, in the
// same order as crypto/tls, because the PEM type of a decrypted legacy block
// is not always reliable.
func parsePrivateKeyDER(der []byte) (crypto.Signer, error) {
	if key, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return key, nil
	}
	if key, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		switch key := key.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			return key.(crypto.Signer), nil
		default:
			return nil, fmt.Errorf("unsupported private key type %T in PKCS#8 data", key)
		}
	}
	if key, err := x509.ParseECPrivateKey(der); err == nil {
		return key, nil
	}
	return nil, errors.New("not a PKCS#1, PKCS#8 or SEC 1 private key")
}

// checkKeyMatches verifies that key belongs to the certificate, so that a
// mismatched -e/-k pair is reported at startup rather than as a handshake
// failure on the peer.
func checkKeyMatches(leaf *x509.Certificate, key crypto.Signer) error {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return errors.New("private key does not match the certificate's public key")
	}
	return nil
}
