package privacy

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/jsonobj"
)

// The store's data key is kept in the subject key table under this name, in no workspace,
// wrapped with the key-encryption key (from --encryption-key-file, KENNER_ENCRYPTION_KEY, or
// derived from the instance secret).
const storeKeySubject = "store-data-key"

// Sealed forms. Text (identifier and trait values) is "~1" + base64url(nonce | ciphertext);
// blobs (event bodies, change data, delivery payloads) are 0x01 | nonce | ciphertext. Neither
// can be mistaken for what they replace: JSON documents start with '{' and a value that starts
// with "~1" but does not authenticate is read as it is.
const (
	textPrefix = "~1"
	blobPrefix = 0x01
)

// FieldCipher encrypts the personal data a store keeps (AES-256-GCM under the store's data
// key), so that a copy of the database does not reveal it. Identifier values (email, phone)
// are encrypted deterministically, with a nonce derived from the value, so that equal values
// stay equal and the store can still look them up; everything else gets a random nonce.
type FieldCipher struct {
	aead cipher.AEAD
	mac  []byte
	pii  *PII
}

// OpenFieldCipher reads the store's data key with kek, creating it on first use. A kek that
// does not open the stored data key is refused: it is not the key this store was made with.
func OpenFieldCipher(ctx context.Context, store kenner.PrivacyStore, kek []byte, pii *PII) (*FieldCipher, error) {
	wrap, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	got, err := store.SubjectKeys(ctx, "", []string{storeKeySubject})
	if err != nil {
		return nil, err
	}
	wrapped, ok := got[storeKeySubject]
	if !ok {
		dek := make([]byte, 32)
		rand.Read(dek)
		won, err := store.PutSubjectKeys(ctx, "", map[string][]byte{storeKeySubject: sealWith(wrap, dek, []byte(storeKeySubject))})
		if err != nil {
			return nil, err
		}
		wrapped = won[storeKeySubject]
	}
	dek, err := openWith(wrap, wrapped, []byte(storeKeySubject))
	if err != nil {
		return nil, kenner.Errorf(kenner.EInvalid, "the encryption key does not open this store's data key: start with the key the store was made with (or rotate with kenner keys rotate)")
	}
	aead, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, dek)
	m.Write([]byte("kenner/deterministic-nonce"))
	if pii == nil {
		pii = NewPII(nil)
	}
	return &FieldCipher{aead: aead, mac: m.Sum(nil), pii: pii}, nil
}

// RotateKEK wraps the store's data key with a new key-encryption key. The data itself is not
// rewritten: only the one wrapped key changes, and the old key stops opening anything.
func RotateKEK(ctx context.Context, store kenner.PrivacyStore, oldKEK, newKEK []byte) error {
	oldWrap, err := newGCM(oldKEK)
	if err != nil {
		return err
	}
	newWrap, err := newGCM(newKEK)
	if err != nil {
		return err
	}
	got, err := store.SubjectKeys(ctx, "", []string{storeKeySubject})
	if err != nil {
		return err
	}
	wrapped, ok := got[storeKeySubject]
	if !ok {
		return kenner.Errorf(kenner.ENotFound, "this store has no data key yet: nothing to rotate")
	}
	dek, err := openWith(oldWrap, wrapped, []byte(storeKeySubject))
	if err != nil {
		return kenner.Errorf(kenner.EInvalid, "the current encryption key does not open this store's data key")
	}
	return store.ReplaceSubjectKey(ctx, "", storeKeySubject, wrapped, sealWith(newWrap, dek, []byte(storeKeySubject)))
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, kenner.Errorf(kenner.EInvalid, "an encryption key is 32 bytes (base64 or hex in the key file), not %d", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func sealWith(a cipher.AEAD, plain, aad []byte) []byte {
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plain)+a.Overhead())
	rand.Read(nonce)
	return a.Seal(nonce, nonce, plain, aad)
}

func openWith(a cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < a.NonceSize()+a.Overhead() {
		return nil, fmt.Errorf("sealed value too short")
	}
	return a.Open(nil, sealed[:a.NonceSize()], sealed[a.NonceSize():], aad)
}

// sealsIdentifier says which identifier kinds are personal data kept encrypted.
func sealsIdentifier(kind string) bool { return kind == kenner.KindEmail || kind == kenner.KindPhone }

// SealIdentifier encrypts an email or phone identifier deterministically; other kinds stay.
func (c *FieldCipher) SealIdentifier(id kenner.Identifier) kenner.Identifier {
	if !sealsIdentifier(id.Kind) || id.Value == "" {
		return id
	}
	m := hmac.New(sha256.New, c.mac)
	m.Write([]byte(id.Kind))
	m.Write([]byte{0})
	m.Write([]byte(id.Value))
	nonce := m.Sum(nil)[:c.aead.NonceSize()]
	out := c.aead.Seal(append([]byte(nil), nonce...), nonce, []byte(id.Value), []byte(id.Kind))
	return kenner.Identifier{Kind: id.Kind, Value: textPrefix + base64.RawURLEncoding.EncodeToString(out)}
}

// OpenIdentifier reverses SealIdentifier; values that are not sealed come back as they are.
func (c *FieldCipher) OpenIdentifier(id kenner.Identifier) kenner.Identifier {
	if v, ok := c.openText(id.Value, id.Kind); ok {
		id.Value = v
	}
	return id
}

func (c *FieldCipher) openText(s, aad string) (string, bool) {
	if !strings.HasPrefix(s, textPrefix) {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(s[len(textPrefix):])
	if err != nil {
		return "", false
	}
	plain, err := openWith(c.aead, raw, []byte(aad))
	if err != nil {
		return "", false
	}
	return string(plain), true
}

// SealTrait encrypts the value of a PII trait (by name, or an object or list that holds a
// PII field at any depth) as a JSON string; others stay.
func (c *FieldCipher) SealTrait(name string, raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" || !(c.pii.IsPII(name) || c.pii.Nested(raw)) {
		return raw
	}
	s := textPrefix + base64.RawURLEncoding.EncodeToString(sealWith(c.aead, raw, []byte("trait")))
	return jsonobj.AppendString(nil, s)
}

// OpenTrait reverses SealTrait.
func (c *FieldCipher) OpenTrait(raw json.RawMessage) json.RawMessage {
	if len(raw) < 4 || raw[0] != '"' || raw[1] != '~' {
		return raw
	}
	s, ok := jsonobj.String(raw)
	if !ok {
		return raw
	}
	if v, ok := c.openText(s, "trait"); ok {
		return json.RawMessage(v)
	}
	return raw
}

// SealBlob encrypts a document (an event body, a payload).
func (c *FieldCipher) SealBlob(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	return append([]byte{blobPrefix}, sealWith(c.aead, b, []byte("blob"))...)
}

// OpenBlob reverses SealBlob; documents that are not sealed come back as they are.
func (c *FieldCipher) OpenBlob(b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] != blobPrefix {
		return b, nil
	}
	plain, err := openWith(c.aead, b[1:], []byte("blob"))
	if err != nil {
		return nil, fmt.Errorf("open encrypted document: %w", err)
	}
	return plain, nil
}
