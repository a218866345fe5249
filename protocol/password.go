package protocol

import (
	"crypto/md5"
	"encoding/hex"
)

// passwordProof is what PASS carries for a password: the lowercase hex of
// the MD5 of the MD5 of it, as the reference computes it. Server and client
// share this one definition so that they cannot drift apart.
func passwordProof(password string) string {
	inner := md5.Sum([]byte(password))
	outer := md5.Sum(inner[:])
	return hex.EncodeToString(outer[:])
}
