// Package compiled keeps the compiled form of per-source definitions (a webhook mapping, a
// tracking plan), so that the hot path compiles nothing and usually hashes nothing.
package compiled

import (
	"crypto/sha256"
	"encoding/json"
	"sync"
)

// Cache holds one compiled form per key. A definition is compiled again only when it changes:
// the same pointer is a hit at once; a new pointer (the source was read again) is a hit when
// its JSON hashes the same.
type Cache[D, C any] struct {
	compile func(D) (C, error)
	mu      sync.Mutex
	entries map[string]entry[D, C]
}

type entry[D, C any] struct {
	def *D
	sum [32]byte
	val C
	err error
}

// New returns a cache that compiles with compile.
func New[D, C any](compile func(D) (C, error)) *Cache[D, C] {
	return &Cache[D, C]{compile: compile, entries: map[string]entry[D, C]{}}
}

// Get returns the compiled form of def, the current definition under key.
func (c *Cache[D, C]) Get(key string, def *D) (C, error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && e.def == def {
		return e.val, e.err
	}
	doc, _ := json.Marshal(def)
	sum := sha256.Sum256(doc)
	if !ok || e.sum != sum {
		e.val, e.err = c.compile(*def)
	}
	e.def, e.sum = def, sum
	c.mu.Lock()
	c.entries[key] = e
	c.mu.Unlock()
	return e.val, e.err
}
