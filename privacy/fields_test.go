package privacy

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/sqlite"
)

func TestFieldCipher(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	kek := bytes.Repeat([]byte{7}, 32)
	c, err := OpenFieldCipher(t.Context(), store, kek, nil)
	if err != nil {
		t.Fatal(err)
	}
	email := kenner.Identifier{Kind: kenner.KindEmail, Value: "ada@example.com"}
	a, b := c.SealIdentifier(email), c.SealIdentifier(email)
	if a != b || a.Value == email.Value || c.OpenIdentifier(a) != email {
		t.Errorf("identifier: sealed %v and %v, opened %v: want equal, hidden, reversible", a, b, c.OpenIdentifier(a))
	}
	if other := c.SealIdentifier(kenner.Identifier{Kind: kenner.KindPhone, Value: email.Value}); other.Value == a.Value {
		t.Error("the same value of two kinds must seal differently")
	}
	if uid := (kenner.Identifier{Kind: kenner.KindUserID, Value: "u1"}); c.SealIdentifier(uid) != uid {
		t.Error("user ids are not sealed")
	}
	raw := json.RawMessage(`"+14155550123"`)
	sealed := c.SealTrait("phone", raw)
	if bytes.Contains(sealed, []byte("4155550123")) || !bytes.Equal(c.OpenTrait(sealed), raw) {
		t.Errorf("trait: sealed %s opened %s", sealed, c.OpenTrait(sealed))
	}
	if plan := json.RawMessage(`"pro"`); !bytes.Equal(c.SealTrait("plan", plan), plan) {
		t.Error("a trait that is not PII is not sealed")
	}
	body := []byte(`{"traits":{"email":"ada@example.com"}}`)
	blob := c.SealBlob(body)
	if opened, err := c.OpenBlob(blob); err != nil || !bytes.Equal(opened, body) || bytes.Contains(blob, []byte("ada@")) {
		t.Errorf("blob: %q %v", opened, err)
	}
	if opened, err := c.OpenBlob(body); err != nil || !bytes.Equal(opened, body) {
		t.Error("a document stored before encryption reads as it is")
	}
	blob[len(blob)-1] ^= 1
	if _, err := c.OpenBlob(blob); err == nil {
		t.Error("a tampered document must not open")
	}

	// The same key opens the same data key; another key is refused until rotated to.
	again, err := OpenFieldCipher(t.Context(), store, kek, nil)
	if err != nil || again.OpenIdentifier(a) != email {
		t.Fatalf("reopen: %v", err)
	}
	next := bytes.Repeat([]byte{9}, 32)
	if _, err := OpenFieldCipher(t.Context(), store, next, nil); kenner.ErrorCode(err) != kenner.EInvalid {
		t.Fatalf("wrong key: %v, want refused", err)
	}
	if err := RotateKEK(t.Context(), store, kek, next); err != nil {
		t.Fatal(err)
	}
	rotated, err := OpenFieldCipher(t.Context(), store, next, nil)
	if err != nil || rotated.OpenIdentifier(a) != email {
		t.Fatalf("after rotation: %v", err)
	}
	if _, err := OpenFieldCipher(t.Context(), store, kek, nil); err == nil {
		t.Error("the old key still opens the store after rotation")
	}
}
