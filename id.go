package kenner

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns a random identifier with a readable prefix, e.g. "src_K3...". 80 random bits make
// collisions negligible; IDs are not secrets.
func NewID(prefix string) string {
	b := make([]byte, 10)
	rand.Read(b)
	return prefix + "_" + strings.ToLower(idEncoding.EncodeToString(b))
}

// NewSecret returns a random credential of 192 bits with a prefix that tells what it is, so that
// a leaked one is recognizable by secret scanners.
func NewSecret(prefix string) string {
	b := make([]byte, 24)
	rand.Read(b)
	return prefix + "_" + strings.ToLower(idEncoding.EncodeToString(b))
}
