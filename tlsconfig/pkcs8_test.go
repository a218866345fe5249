package tlsconfig

import (
	"bytes"
	"encoding/pem"
	"errors"
	"testing"
)

// The vectors below were written by OpenSSL 3.0 ("openssl pkcs8 -topk8 -v1
// ... / -v2 ... -v2prf ...", password "vector") from a throw-away P-256 key,
// so the PKCS#8 decoder is checked against the reference implementation even
// where the openssl binary is not installed.
const pkcs8VectorPassword = "vector"

const pkcs8VectorPlain = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgdtFaxQUVWQgpeNYE
OP9g7xvil8BVG+1D9ITWxzAkjW6hRANCAAT44baKzwIjSGhBKHsPFr0UVNRKd3G2
XCKl71VTWXXR5sK45g/Q70f8fZbU13amFK2aE9NTXuUhMYXMLLSs7V25
-----END PRIVATE KEY-----
`

var pkcs8Vectors = []struct {
	name string
	pem  string
}{
	{"PKCS#12 PBE SHA1 3-key 3DES", `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGxMBwGCiqGSIb3DQEMAQMwDgQIMcNa0gygV3wCAggABIGQSfHKRUGbCO3cFYzU
SecE90WmHzge4yVJKTlSz9YjsEk01Fi4hNJwC0+vIEssZ1QagOQzrtO+geUmFT+P
lbii7N8/FKl1WgnsRDLjP8/lbOx7BD0XJ49aClUERLLD++YSZYyAVb43nSVQ8jzG
T1AZ1C/lwpm71WVwBXQaX2ftYpsYqEwKBF9qY+yRUa+/gQGg
-----END ENCRYPTED PRIVATE KEY-----
`},
	{"PKCS#12 PBE SHA1 2-key 3DES", `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGxMBwGCiqGSIb3DQEMAQQwDgQI1b7fWGWXOLMCAggABIGQsIwyI5XfH17yVTlZ
w9Orf/RtLtJksqFg/OX5Uh5z8QHoDTihBmXrgOH+HICC2oFe8IqhCXJ3Wpc/3hXw
9f0htx+4ER//23UFSzBuckVtt9pN+X+Hf8piZ5WOZR1kg8wScCObRcllqDepzsCn
wlbOk0ucYvsWV8A23nAqsY9PbU9hVCSvdmuO6Bkdf/ymiPHx
-----END ENCRYPTED PRIVATE KEY-----
`},
	{"PBES2 PBKDF2-SHA256 AES-256-CBC", `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAiR3IPkn3L6LAICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEMvL47efbDPx2adcP6GO0j8EgZBk
4YLUmGe1pSz09gD2xtG7wliAaL5GvpZSw/f4miAyMCzI5zR9qti760vpxOzjhx9j
3Oe2LPX57QWLtzrxE/y2eUHVgHwIbGFey+ZmTe+jfh8sSaUXvfYYouM43wsySwRV
qexaDbXIR+jxWKSCEeOZjvO6yk2oCcIfQkIrTX5W5D/IxYvdt5wc1zyO5EA38Y8=
-----END ENCRYPTED PRIVATE KEY-----
`},
	{"PBES2 PBKDF2-SHA512 AES-128-CBC", `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAg1Y/p6aOfCdAICCAAw
DAYIKoZIhvcNAgsFADAdBglghkgBZQMEAQIEEETUt+iqTzLlA2kJ2P29/6EEgZDT
SZTUN8UIY88tpgyxW2qgr0Ch9HCfsa5JxXBUYvIF4zdrolh0vGnf0z8VDwlGVHOv
YPOO4P7qAZJPxwUqHD4vCOWvBFM3a1pS7tVqYC1iMal9+RtQ3sCFpAyqBluPE+Fz
vkcLdBL2fmqr8Yz5GieZu+9iYiCcKcJhNew+XDEoDC+pVzU2IqaJtsn9sULQVDU=
-----END ENCRYPTED PRIVATE KEY-----
`},
	{"PBES2 PBKDF2 default PRF (SHA-1) DES-EDE3-CBC", `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHVMEAGCSqGSIb3DQEFDTAzMBsGCSqGSIb3DQEFDDAOBAh26dDA4jkvhQICCAAw
FAYIKoZIhvcNAwcECIwuLFYQL+gjBIGQItjvi6nBqRhFiaxcuPcAe1LpRJh8QyV+
YYDSWuR3fDPVb5VXlTOwassOLrYJxR6+TbqD2HVarw3XQBRak5Zj5VizOrj6Jgli
6Xdt5Ess6TwmttEX8CDlIo24qYCwQoY3X9x/KqiEVOhIrIgGa/rbyGqAF4fWDRZn
C6Smj8Tj879ToyYpOUChfNBncYhDY0ue
-----END ENCRYPTED PRIVATE KEY-----
`},
}

func TestDecryptPKCS8Vectors(t *testing.T) {
	plain, _ := pem.Decode([]byte(pkcs8VectorPlain))
	for _, v := range pkcs8Vectors {
		t.Run(v.name, func(t *testing.T) {
			block, _ := pem.Decode([]byte(v.pem))
			if block == nil || block.Type != "ENCRYPTED PRIVATE KEY" {
				t.Fatal("bad vector")
			}
			der, err := decryptPKCS8(block.Bytes, []byte(pkcs8VectorPassword))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(der, plain.Bytes) {
				t.Fatal("decrypted key differs from the plain key")
			}
			key, err := parsePrivateKeyPEM([]byte(v.pem), "not the password")
			if !errors.Is(err, ErrIncorrectPassword) {
				t.Fatalf("wrong password: key %T, error %v; want ErrIncorrectPassword", key, err)
			}
		})
	}
}

// FuzzDecryptPKCS8 checks that malformed input produces errors, not panics.
func FuzzDecryptPKCS8(f *testing.F) {
	for _, v := range pkcs8Vectors {
		block, _ := pem.Decode([]byte(v.pem))
		f.Add(block.Bytes, pkcs8VectorPassword)
	}
	f.Fuzz(func(t *testing.T, der []byte, password string) {
		_, _ = decryptPKCS8(der, []byte(password))
	})
}
