package tlsconfig

// Decryption of PKCS#8 EncryptedPrivateKeyInfo ("ENCRYPTED PRIVATE KEY") with
// the standard library only.
//
// The Go standard library parses unencrypted PKCS#8 but not the encrypted
// form, which OpenSSL 3 writes by default for every passphrase-protected key
// ("openssl genrsa -aes256" included). Since Go 1.24 the only non-trivial
// primitive, PBKDF2, is in the standard library (crypto/pbkdf2), so the
// remaining work is ASN.1 plumbing. Doing it here avoids a third-party
// dependency (and, through it, golang.org/x/crypto) for a few dozen lines.
//
// Supported: PBES2 (RFC 8018) with PBKDF2 and HMAC-SHA1/224/256/384/512 and
// AES-128/192/256-CBC, DES-EDE3-CBC or DES-CBC, which covers everything
// OpenSSL 1.1 and 3 produce unless told otherwise; and the PKCS#12 PBE scheme
// pbeWithSHAAnd3-KeyTripleDES-CBC (RFC 7292), OpenSSL 1.0's default for
// "openssl pkcs8 -topk8". Not supported, reported as such: scrypt and PKCS#5
// v1.5 / PKCS#12 schemes based on MD2, MD5, RC2 or RC4.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"unicode/utf16"
)

var (
	oidPBES2              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidScrypt             = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}
	oidPBEWithSHAAnd3DES  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidPBEWithSHAAnd2DES  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 4}
	oidHMACWithSHA1       = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACWithSHA224     = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACWithSHA256     = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACWithSHA384     = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACWithSHA512     = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidHMACWithSHA512_224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 12}
	oidHMACWithSHA512_256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 13}
	oidAES128CBC          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC         = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
	oidDESCBC             = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 7}
)

// maxPBEIterations bounds the work a damaged or hostile key file can demand
// at startup (a few seconds of CPU at most). OpenSSL writes 2048 iterations by
// default, so real keys are far below it.
const maxPBEIterations = 10_000_000

// encryptedPrivateKeyInfo is RFC 5958's EncryptedPrivateKeyInfo.
type encryptedPrivateKeyInfo struct {
	Algorithm     pkix.AlgorithmIdentifier
	EncryptedData []byte
}

// pbes2Params is RFC 8018's PBES2-params.
type pbes2Params struct {
	KeyDerivationFunc pkix.AlgorithmIdentifier
	EncryptionScheme  pkix.AlgorithmIdentifier
}

// pbkdf2Params is RFC 8018's PBKDF2-params. Only the "specified" (OCTET
// STRING) salt choice is supported, which is all anybody uses.
type pbkdf2Params struct {
	Salt           []byte
	IterationCount int
	KeyLength      int                      `asn1:"optional"`
	PRF            pkix.AlgorithmIdentifier `asn1:"optional"`
}

// pkcs12PBEParams is RFC 7292's pkcs-12PbeParams.
type pkcs12PBEParams struct {
	Salt       []byte
	Iterations int
}

// decryptPKCS8 decrypts a DER EncryptedPrivateKeyInfo and returns the DER
// PrivateKeyInfo inside. A padding failure is reported as
// ErrIncorrectPassword.
func decryptPKCS8(der, password []byte) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil {
		return nil, fmt.Errorf("parse ENCRYPTED PRIVATE KEY: %w", err)
	} else if len(rest) > 0 {
		return nil, errors.New("parse ENCRYPTED PRIVATE KEY: trailing data")
	}
	alg := info.Algorithm.Algorithm
	var (
		block cipher.Block
		iv    []byte
		err   error
	)
	switch {
	case alg.Equal(oidPBES2):
		block, iv, err = pbes2Cipher(info.Algorithm.Parameters.FullBytes, password)
	case alg.Equal(oidPBEWithSHAAnd3DES):
		block, iv, err = pkcs12Cipher(info.Algorithm.Parameters.FullBytes, password, 24)
	case alg.Equal(oidPBEWithSHAAnd2DES):
		block, iv, err = pkcs12Cipher(info.Algorithm.Parameters.FullBytes, password, 16)
	default:
		return nil, fmt.Errorf("unsupported PKCS#8 encryption algorithm %v (supported: PBES2 with PBKDF2, PKCS#12 3DES)", alg)
	}
	if err != nil {
		return nil, err
	}
	return cbcDecrypt(block, iv, info.EncryptedData)
}

// pbes2Cipher derives the key for a PBES2 AlgorithmIdentifier's parameters
// and returns the block cipher and IV.
func pbes2Cipher(params, password []byte) (cipher.Block, []byte, error) {
	var p pbes2Params
	if _, err := asn1.Unmarshal(params, &p); err != nil {
		return nil, nil, fmt.Errorf("parse PBES2 parameters: %w", err)
	}

	var newCipher func([]byte) (cipher.Block, error)
	var keyLen int
	enc := p.EncryptionScheme.Algorithm
	switch {
	case enc.Equal(oidAES128CBC):
		newCipher, keyLen = aes.NewCipher, 16
	case enc.Equal(oidAES192CBC):
		newCipher, keyLen = aes.NewCipher, 24
	case enc.Equal(oidAES256CBC):
		newCipher, keyLen = aes.NewCipher, 32
	case enc.Equal(oidDESEDE3CBC):
		newCipher, keyLen = des.NewTripleDESCipher, 24
	case enc.Equal(oidDESCBC):
		newCipher, keyLen = des.NewCipher, 8
	default:
		return nil, nil, fmt.Errorf("unsupported PBES2 encryption scheme %v (supported: AES-CBC, DES-EDE3-CBC, DES-CBC)", enc)
	}
	var iv []byte
	if _, err := asn1.Unmarshal(p.EncryptionScheme.Parameters.FullBytes, &iv); err != nil {
		return nil, nil, fmt.Errorf("parse PBES2 IV: %w", err)
	}

	kdf := p.KeyDerivationFunc.Algorithm
	switch {
	case kdf.Equal(oidPBKDF2):
	case kdf.Equal(oidScrypt):
		return nil, nil, errors.New("unsupported PBES2 key derivation scrypt (re-encrypt the key with \"openssl pkcs8 -topk8 -v2 aes256\")")
	default:
		return nil, nil, fmt.Errorf("unsupported PBES2 key derivation function %v (supported: PBKDF2)", kdf)
	}
	var kp pbkdf2Params
	if _, err := asn1.Unmarshal(p.KeyDerivationFunc.Parameters.FullBytes, &kp); err != nil {
		return nil, nil, fmt.Errorf("parse PBKDF2 parameters: %w", err)
	}
	if kp.IterationCount < 1 || kp.IterationCount > maxPBEIterations {
		return nil, nil, fmt.Errorf("unsupported PBKDF2 iteration count %d", kp.IterationCount)
	}
	if kp.KeyLength != 0 && kp.KeyLength != keyLen {
		return nil, nil, fmt.Errorf("PBKDF2 key length %d does not match cipher key length %d", kp.KeyLength, keyLen)
	}
	var h func() hash.Hash
	prf := kp.PRF.Algorithm
	switch {
	case len(prf) == 0, prf.Equal(oidHMACWithSHA1): // DEFAULT hmacWithSHA1
		h = sha1.New
	case prf.Equal(oidHMACWithSHA224):
		h = sha256.New224
	case prf.Equal(oidHMACWithSHA256):
		h = sha256.New
	case prf.Equal(oidHMACWithSHA384):
		h = sha512.New384
	case prf.Equal(oidHMACWithSHA512):
		h = sha512.New
	case prf.Equal(oidHMACWithSHA512_224):
		h = sha512.New512_224
	case prf.Equal(oidHMACWithSHA512_256):
		h = sha512.New512_256
	default:
		return nil, nil, fmt.Errorf("unsupported PBKDF2 pseudo-random function %v", prf)
	}

	key, err := pbkdf2.Key(h, string(password), kp.Salt, kp.IterationCount, keyLen)
	if err != nil {
		return nil, nil, fmt.Errorf("derive key: %w", err)
	}
	block, err := newCipher(key)
	if err != nil {
		return nil, nil, fmt.Errorf("derive key: %w", err)
	}
	if len(iv) != block.BlockSize() {
		return nil, nil, fmt.Errorf("PBES2 IV has length %d, want %d", len(iv), block.BlockSize())
	}
	return block, iv, nil
}

// pkcs12Cipher derives a 3DES key and IV for the PKCS#12 PBE schemes;
// keyLen is 24 for three-key and 16 for two-key 3DES.
func pkcs12Cipher(params, password []byte, keyLen int) (cipher.Block, []byte, error) {
	var p pkcs12PBEParams
	if _, err := asn1.Unmarshal(params, &p); err != nil {
		return nil, nil, fmt.Errorf("parse PKCS#12 PBE parameters: %w", err)
	}
	if p.Iterations < 1 || p.Iterations > maxPBEIterations {
		return nil, nil, fmt.Errorf("unsupported PKCS#12 PBE iteration count %d", p.Iterations)
	}
	bmp := bmpStringZeroTerminated(string(password))
	key := pkcs12KDF(bmp, p.Salt, 1, p.Iterations, keyLen)
	if keyLen == 16 {
		key = append(key, key[:8]...) // two-key 3DES: K1 K2 K1
	}
	iv := pkcs12KDF(bmp, p.Salt, 2, p.Iterations, des.BlockSize)
	block, err := des.NewTripleDESCipher(key)
	if err != nil {
		return nil, nil, fmt.Errorf("derive key: %w", err)
	}
	return block, iv, nil
}

// bmpStringZeroTerminated encodes a password as PKCS#12 requires: UTF-16
// big-endian followed by a two-byte zero terminator (RFC 7292, B.1).
func bmpStringZeroTerminated(s string) []byte {
	units := utf16.Encode([]rune(s))
	out := make([]byte, 0, 2*len(units)+2)
	for _, u := range units {
		out = append(out, byte(u>>8), byte(u))
	}
	return append(out, 0, 0)
}

// pkcs12KDF is the PKCS#12 key derivation function (RFC 7292, appendix B.2)
// instantiated with SHA-1, the only hash OpenSSL uses with it for keys.
// id selects the purpose: 1 for key material, 2 for the IV.
func pkcs12KDF(password, salt []byte, id byte, iterations, n int) []byte {
	const u, v = sha1.Size, 64 // hash output and block size in bytes

	fill := func(src []byte) []byte {
		if len(src) == 0 {
			return nil
		}
		out := make([]byte, v*((len(src)+v-1)/v))
		for i := range out {
			out[i] = src[i%len(src)]
		}
		return out
	}
	d := make([]byte, v)
	for i := range d {
		d[i] = id
	}
	i := append(fill(salt), fill(password)...)

	var out []byte
	for len(out) < n {
		h := sha1.New()
		h.Write(d)
		h.Write(i)
		a := h.Sum(nil)
		for range iterations - 1 {
			s := sha1.Sum(a)
			a = s[:]
		}
		out = append(out, a...)
		if len(out) >= n {
			break
		}
		// I_j = (I_j + B + 1) mod 2^(8v) for each v-byte block, where B is
		// A repeated to v bytes.
		b := make([]byte, v)
		for k := range b {
			b[k] = a[k%u]
		}
		for j := 0; j < len(i); j += v {
			carry := 1
			for k := v - 1; k >= 0; k-- {
				sum := int(i[j+k]) + int(b[k]) + carry
				i[j+k] = byte(sum)
				carry = sum >> 8
			}
		}
	}
	return out[:n]
}

// cbcDecrypt decrypts CBC ciphertext and strips PKCS#7 padding. Invalid
// padding is the only signal of a wrong password these schemes provide.
func cbcDecrypt(block cipher.Block, iv, ciphertext []byte) ([]byte, error) {
	bs := block.BlockSize()
	if len(ciphertext) == 0 || len(ciphertext)%bs != 0 {
		return nil, fmt.Errorf("encrypted key length %d is not a multiple of the cipher block size %d", len(ciphertext), bs)
	}
	plain := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ciphertext)
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > bs {
		return nil, ErrIncorrectPassword
	}
	for _, c := range plain[len(plain)-pad:] {
		if int(c) != pad {
			return nil, ErrIncorrectPassword
		}
	}
	return plain[:len(plain)-pad], nil
}
