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
	"hash"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/internal/groupcommit"
)

// keyTTL bounds how long a node keeps using a key another node may have destroyed.
const keyTTL = time.Minute

// Keys makes, finds and caches subject keys.
type Keys struct {
	store   kenner.PrivacyStore
	wrap    cipher.AEAD // wraps data keys at rest
	subject []byte      // HMAC key naming subjects
	suppKey []byte      // HMAC key of suppression hashes
	delKey  []byte      // root of the workspaces' deletion-notice keys
	now     func() time.Time

	macs sync.Pool // HMAC-SHA256 states keyed with subject

	mu    sync.Mutex
	cache map[subjectID]cachedKey // pointer-free, so a large cache costs the GC nothing

	batch *groupcommit.Group[*keyRequest] // group commit of new keys (create)
	// createFirst: most keys recently missing from the cache were new (forWriteCount).
	createFirst atomic.Bool
}

// subjectID is a subject's name: the first 16 bytes of its keyed hash (its hex is the store's
// key column).
type subjectID [16]byte

func (s subjectID) String() string { return hex.EncodeToString(s[:]) }

type cachedKey struct {
	key [32]byte
	at  int64 // unix nanoseconds
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
	k := &Keys{store: store, wrap: wrap, subject: derive("subject/v1"), suppKey: derive("suppression/v1"), delKey: derive("deletion-notice/v1"),
		now: time.Now, cache: map[subjectID]cachedKey{}}
	k.batch = groupcommit.New(k.createRound)
	k.macs.New = func() any { return hmac.New(sha256.New, k.subject) }
	return k
}

// Subject names the key of an identifier (as identity resolution stores it, trimmed): a keyed
// hash, so that neither the store nor the log shows whose key it is.
func (k *Keys) Subject(workspaceID, kind, value string) string {
	return k.subjectID(workspaceID, kind, value).String()
}

func (k *Keys) subjectID(workspaceID, kind, value string) subjectID {
	m := k.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(workspaceID))
	m.Write([]byte{0})
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(strings.TrimSpace(value)))
	var buf [sha256.Size]byte
	var id subjectID
	copy(id[:], m.Sum(buf[:0]))
	k.macs.Put(m)
	return id
}

// SuppressionHash is how an erased identifier is listed.
func (k *Keys) SuppressionHash(workspaceID, kind, value string) string {
	m := hmac.New(sha256.New, k.suppKey)
	fmt.Fprintf(m, "%s\x00%s\x00%s", workspaceID, kind, strings.TrimSpace(value))
	return hex.EncodeToString(m.Sum(nil))
}

// DeletionKey is a workspace's key of the identifier hashes in profile.deleted notices:
// receivers hash their own identifiers with it to find the person (GET
// /v1/privacy/deletion-key), while a copy of a notice, without the key, cannot be reversed by
// trying every phone number as an unkeyed SHA-256 could.
func (k *Keys) DeletionKey(workspaceID string) []byte {
	m := hmac.New(sha256.New, k.delKey)
	m.Write([]byte(workspaceID))
	return m.Sum(nil)
}

// DeletionHash is hex HMAC-SHA256 of an identifier's value under the workspace's DeletionKey.
func (k *Keys) DeletionHash(workspaceID, value string) string {
	m := hmac.New(sha256.New, k.DeletionKey(workspaceID))
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// forWrite returns the data keys of subjects, creating the missing ones.
func (k *Keys) forWrite(ctx context.Context, ws string, subjects []subjectID) (map[subjectID][32]byte, error) {
	out, _, err := k.forWriteCount(ctx, ws, subjects)
	return out, err
}

// forWriteCount is forWrite, also saying how many keys were missing. While most keys it has
// had to find were missing (new people arriving), it skips looking them up and creates them
// at once: the store keeps a key another writer stored first, and answers it. That saves a
// store read per request, a fifth of the CPU of a server taking one event per request from
// new visitors. When most turn out to exist, it looks them up again.
func (k *Keys) forWriteCount(ctx context.Context, ws string, subjects []subjectID) (map[subjectID][32]byte, int, error) {
	if k.createFirst.Load() {
		out, miss := k.cached(subjects)
		if len(miss) == 0 {
			return out, 0, nil
		}
		stored, existed, err := k.create(ws, miss)
		if err != nil {
			return nil, 0, err
		}
		k.createFirst.Store(2*existed <= len(miss))
		return out, len(miss) - existed, k.add(ws, stored, out)
	}
	out, missing, looked, err := k.lookup(ctx, ws, subjects)
	if err != nil || looked == 0 {
		return out, 0, err
	}
	k.createFirst.Store(2*len(missing) > looked)
	if len(missing) == 0 {
		return out, 0, nil
	}
	stored, _, err := k.create(ws, missing)
	if err != nil {
		return nil, 0, err
	}
	return out, len(missing), k.add(ws, stored, out)
}

// cached returns the keys of subjects this node has cached, and the subjects it has not
// (each once).
func (k *Keys) cached(subjects []subjectID) (map[subjectID][32]byte, []subjectID) {
	out := make(map[subjectID][32]byte, len(subjects))
	var miss []subjectID
	seen := map[subjectID]bool{}
	now := k.now().UnixNano()
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, s := range subjects {
		if c, ok := k.cache[s]; ok && now-c.at < int64(keyTTL) {
			out[s] = c.key
		} else if !seen[s] {
			seen[s] = true
			miss = append(miss, s)
		}
	}
	return out, miss
}

// forCreate is forWrite for subjects that are likely new (a bulk load of new people): it
// skips the lookup and tries to create every key not cached, keeping whatever key another
// writer already stored.
func (k *Keys) forCreate(ctx context.Context, ws string, subjects []subjectID) (existed int, err error) {
	now := k.now().UnixNano()
	fresh := make(map[string][]byte, len(subjects))
	k.mu.Lock()
	for _, s := range subjects {
		if c, ok := k.cache[s]; ok && now-c.at < int64(keyTTL) {
			continue
		}
		fresh[s.String()] = nil
	}
	k.mu.Unlock()
	if len(fresh) == 0 {
		return 0, nil
	}
	// Making and wrapping keys is CPU work; a bulk load makes thousands at once.
	ids := make([]string, 0, len(fresh))
	for s := range fresh {
		ids = append(ids, s)
	}
	wrapped := make([][]byte, len(ids))
	plain := make([][32]byte, len(ids))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(ids)/1000))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(ids); i += workers {
				rand.Read(plain[i][:])
				wrapped[i] = k.seal(ws, ids[i], plain[i][:])
			}
		})
	}
	wg.Wait()
	for i, s := range ids {
		fresh[s] = wrapped[i]
	}
	stored, err := k.store.PutSubjectKeys(ctx, ws, fresh)
	if err != nil {
		return 0, err
	}
	// The keys stored as made are cached as they are; those another writer stored first
	// are unwrapped.
	theirs := map[string][]byte{}
	at := k.now().UnixNano()
	k.mu.Lock()
	if len(k.cache) > 1_000_000 {
		clear(k.cache)
	}
	for i, s := range ids {
		w, ok := stored[s]
		if !ok {
			continue
		}
		if string(w) != string(wrapped[i]) {
			theirs[s] = w
			continue
		}
		var id subjectID
		if _, err := hex.Decode(id[:], []byte(s)); err == nil {
			k.cache[id] = cachedKey{key: plain[i], at: at}
		}
	}
	k.mu.Unlock()
	if len(theirs) == 0 {
		return 0, nil
	}
	return len(theirs), k.add(ws, theirs, make(map[subjectID][32]byte, len(theirs)))
}

// forRead returns the data keys subjects still have; a destroyed key is simply absent.
func (k *Keys) forRead(ctx context.Context, ws string, subjects []subjectID) (map[subjectID][32]byte, error) {
	out, _, _, err := k.lookup(ctx, ws, subjects)
	return out, err
}

// lookup returns the keys of subjects, from the cache or the store, the subjects that have
// none, and how many it looked for in the store.
func (k *Keys) lookup(ctx context.Context, ws string, subjects []subjectID) (map[subjectID][32]byte, []subjectID, int, error) {
	out, miss := k.cached(subjects)
	if len(miss) == 0 {
		return out, nil, 0, nil
	}
	ids := make([]string, len(miss))
	for i, s := range miss {
		ids[i] = s.String()
	}
	stored, err := k.store.SubjectKeys(ctx, ws, ids)
	if err != nil {
		return nil, nil, 0, err
	}
	if err := k.add(ws, stored, out); err != nil {
		return nil, nil, 0, err
	}
	var missing []subjectID
	for _, s := range miss {
		if _, ok := out[s]; !ok {
			missing = append(missing, s)
		}
	}
	return out, missing, len(miss), nil
}

func (k *Keys) add(ws string, wrapped map[string][]byte, out map[subjectID][32]byte) error {
	now := k.now().UnixNano()
	opened := make(map[subjectID][32]byte, len(wrapped))
	for s, w := range wrapped {
		dk, err := k.open(ws, s, w)
		if err != nil || len(dk) != 32 {
			return fmt.Errorf("subject key %s: cannot unwrap it (%v)", s, err)
		}
		var id subjectID
		if _, err := hex.Decode(id[:], []byte(s)); err != nil {
			return fmt.Errorf("subject key %s: %w", s, err)
		}
		opened[id] = [32]byte(dk)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.cache) > 1_000_000 {
		clear(k.cache) // bounded memory (~64 MB); the store has them all
	}
	for id, dk := range opened {
		k.cache[id] = cachedKey{key: dk, at: now}
		out[id] = dk
	}
	return nil
}

// Forget drops destroyed keys from this node's cache.
func (k *Keys) Forget(ws string, subjects []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, s := range subjects {
		var id subjectID
		if _, err := hex.Decode(id[:], []byte(s)); err == nil {
			delete(k.cache, id)
		}
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

// ForgetWorkspace drops this node's cached keys after a workspace was deleted with its keys
// (the cache is not kept by workspace: all of it goes, and is read again as needed).
func (k *Keys) ForgetWorkspace(string) {
	k.mu.Lock()
	clear(k.cache)
	k.mu.Unlock()
}
