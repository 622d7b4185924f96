// Package auth turns presented credentials (write keys, API tokens) into the source or token they
// belong to. Credentials are stored only as keyed hashes: a copy of the database alone does not
// let anyone use them, or even test a guess, without the instance secret.
package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Hasher computes keyed hashes (HMAC-SHA256) of credentials and identifiers.
type Hasher struct {
	key []byte
}

// NewHasher returns a Hasher keyed with secret, which should hold at least 32 random bytes.
func NewHasher(secret []byte) *Hasher {
	return &Hasher{key: append([]byte(nil), secret...)}
}

// Hash returns the hex keyed hash of s within a purpose, so that the same value hashed for two
// purposes (a write key, an email on the suppression list) never gives the same hash.
func (h *Hasher) Hash(purpose, s string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}
