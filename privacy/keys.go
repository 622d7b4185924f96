// Package privacy makes erasure real: every event is encrypted in the log with a key of its
// person (the subject: the event's user id, else its anonymous id), kept in the store wrapped
// with the instance key, so destroying the key makes the person's log entries unreadable
// (crypto-shredding) without rewriting the log; erased identifiers go on a suppression list of
// keyed hashes, so new events carrying them are dropped before they are stored.
package privacy

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/kenner-cdp/kenner"
)

// keyTTL bounds how long a node keeps using a key another node may have destroyed.
const keyTTL = time.Minute

// Keys makes, finds and caches subject keys.
type Keys struct {
	store   kenner.PrivacyStore
	wrap    cipher.AEAD // wraps data keys at rest
	subject []byte      // HMAC key naming subjects
	suppKey []byte      // HMAC key of suppression hashes
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]cachedKey // workspace \x00 subject
}

type cachedKey struct {
	aead cipher.AEAD
	at   time.Time
}

// NewKeys derives its keys from the instance secret (the one credentials are hashed with),
// so every node sharing a store shares them.
func NewKeys(store kenner.PrivacyStore, secret []byte) *Keys {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("kenner/" + label))
		return m.Sum(nil)
	}
	block, _ := aes.NewCipher(derive("key-wrap/v1")) // 32 bytes: AES-256
	wrap, _ := cipher.NewGCM(block)
	return &Keys{store: store, wrap: wrap, subject: derive("subject/v1"), suppKey: derive("suppression/v1"),
		now: time.Now, cache: map[string]cachedKey{}}
}

// Subject names the key of an identifier: a keyed hash, so that neither the store nor the log
// shows whose key it is.
func (k *Keys) Subject(workspaceID, kind, value string) string {
	m := hmac.New(sha256.New, k.subject)
	fmt.Fprintf(m, "%s\x00%s\x00%s", workspaceID, kind, value)
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// SuppressionHash is how an erased identifier is listed.
func (k *Keys) SuppressionHash(workspaceID, kind, value string) string {
	m := hmac.New(sha256.New, k.suppKey)
	fmt.Fprintf(m, "%s\x00%s\x00%s", workspaceID, kind, value)
	return hex.EncodeToString(m.Sum(nil))
}

// forWrite returns the keys of subjects, creating the missing ones.
func (k *Keys) forWrite(ctx context.Context, ws string, subjects []string) (map[string]cipher.AEAD, error) {
	out, missing, err := k.lookup(ctx, ws, subjects)
	if err != nil || len(missing) == 0 {
		return out, err
	}
	fresh := make(map[string][]byte, len(missing))
	for _, s := range missing {
		dk := make([]byte, 32)
		rand.Read(dk)
		fresh[s] = k.seal(ws, s, dk)
	}
	stored, err := k.store.PutSubjectKeys(ctx, ws, fresh)
	if err != nil {
		return nil, err
	}
	return out, k.add(ws, stored, out)
}

// forRead returns the keys subjects still have; a destroyed key is simply absent.
func (k *Keys) forRead(ctx context.Context, ws string, subjects []string) (map[string]cipher.AEAD, error) {
	out, _, err := k.lookup(ctx, ws, subjects)
	return out, err
}

func (k *Keys) lookup(ctx context.Context, ws string, subjects []string) (map[string]cipher.AEAD, []string, error) {
	out := make(map[string]cipher.AEAD, len(subjects))
	var miss []string
	now := k.now()
	k.mu.Lock()
	for _, s := range subjects {
		if c, ok := k.cache[ws+"\x00"+s]; ok && now.Sub(c.at) < keyTTL {
			out[s] = c.aead
		} else if _, dup := out[s]; !dup {
			miss = append(miss, s)
		}
	}
	k.mu.Unlock()
	if len(miss) == 0 {
		return out, nil, nil
	}
	stored, err := k.store.SubjectKeys(ctx, ws, miss)
	if err != nil {
		return nil, nil, err
	}
	if err := k.add(ws, stored, out); err != nil {
		return nil, nil, err
	}
	var missing []string
	for _, s := range miss {
		if out[s] == nil {
			missing = append(missing, s)
		}
	}
	return out, missing, nil
}

func (k *Keys) add(ws string, wrapped map[string][]byte, out map[string]cipher.AEAD) error {
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.cache) > 200_000 {
		clear(k.cache) // bounded memory; the store has them all
	}
	for s, w := range wrapped {
		dk, err := k.open(ws, s, w)
		if err != nil {
			return fmt.Errorf("subject key %s: %w", s, err)
		}
		block, _ := aes.NewCipher(dk)
		aead, _ := cipher.NewGCM(block)
		k.cache[ws+"\x00"+s] = cachedKey{aead: aead, at: now}
		out[s] = aead
	}
	return nil
}

// Forget drops destroyed keys from this node's cache.
func (k *Keys) Forget(ws string, subjects []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, s := range subjects {
		delete(k.cache, ws+"\x00"+s)
	}
}

func (k *Keys) seal(ws, subject string, dk []byte) []byte {
	nonce := make([]byte, k.wrap.NonceSize())
	rand.Read(nonce)
	return k.wrap.Seal(nonce, nonce, dk, []byte(ws+"\x00"+subject))
}

func (k *Keys) open(ws, subject string, w []byte) ([]byte, error) {
	n := k.wrap.NonceSize()
	if len(w) < n {
		return nil, fmt.Errorf("wrapped key too short")
	}
	return k.wrap.Open(nil, w[:n], w[n:], []byte(ws+"\x00"+subject))
}

// canary is a key stored under no workspace, only to tell whether this instance secret is the
// one the store's keys were wrapped with.
const canary = "instance-secret-check"

// Check makes sure the instance secret is the one the store's keys were made with (the first
// check records it). With another secret every key would be missing and every event would read
// as erased, so a node must not start with one.
func (k *Keys) Check(ctx context.Context) error {
	dk := make([]byte, 32)
	rand.Read(dk)
	stored, err := k.store.PutSubjectKeys(ctx, "", map[string][]byte{canary: k.seal("", canary, dk)})
	if err != nil {
		return err
	}
	if _, err := k.open("", canary, stored[canary]); err != nil {
		return fmt.Errorf("the instance secret does not match the one this store was created with (KENNER_SECRET, --secret-file or DATA/secret.key)")
	}
	return nil
}
