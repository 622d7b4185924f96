package auth_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/auth"
	"github.com/kenner-cdp/kenner/sqlite"
)

func newService(t *testing.T, secret string) (*auth.Service, *sqlite.Store) {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.CreateWorkspace(t.Context(), &kenner.Workspace{ID: "ws", Name: "ws"}); err != nil {
		t.Fatal(err)
	}
	return auth.NewService(store, auth.NewHasher([]byte(secret))), store
}

func TestWriteKeys(t *testing.T) {
	svc, store := newService(t, "secret-one-0123456789abcdef012345")
	src, key, err := svc.CreateSource(t.Context(), "ws", "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(key) < 32 {
		t.Errorf("write key %q is too short to hold 128 random bits", key)
	}
	if src.WriteKeyHash == key || len(src.WriteKeyHash) != 64 {
		t.Errorf("write key stored as %q; want a keyed hash", src.WriteKeyHash)
	}
	got, err := svc.Source(t.Context(), key)
	if err != nil || got.ID != src.ID {
		t.Fatalf("Source(key) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "wk_nope", key + "x"} {
		if _, err := svc.Source(t.Context(), bad); kenner.ErrorCode(err) != kenner.EUnauthorized {
			t.Errorf("Source(%q) = %v, want unauthorized", bad, err)
		}
	}
	// Another instance secret cannot use the stored hashes.
	other := auth.NewService(store, auth.NewHasher([]byte("secret-two-0123456789abcdef012345")))
	if _, err := other.Source(t.Context(), key); kenner.ErrorCode(err) != kenner.EUnauthorized {
		t.Errorf("a different secret accepted the key: %v", err)
	}
	if _, _, err := svc.CreateSource(t.Context(), "ws", "  "); kenner.ErrorCode(err) != kenner.EInvalid {
		t.Errorf("blank source name: %v", err)
	}
}

func TestTokens(t *testing.T) {
	svc, _ := newService(t, "secret-one-0123456789abcdef012345")
	tok, secret, err := svc.CreateToken(t.Context(), "ws", "", kenner.RoleMarketer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Name != "marketer" || tok.Hash == secret {
		t.Errorf("token = %+v", tok)
	}
	if got, err := svc.Token(t.Context(), secret); err != nil || got.Role != kenner.RoleMarketer {
		t.Fatalf("Token = %v, %v", got, err)
	}
	if err := svc.RevokeToken(t.Context(), "ws", tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Token(t.Context(), secret); kenner.ErrorCode(err) != kenner.EUnauthorized {
		t.Errorf("revoked token still works (the cache must not hide a revocation on this node): %v", err)
	}
	past := time.Now().Add(-time.Minute)
	if _, _, err := svc.CreateToken(t.Context(), "ws", "", kenner.RoleViewer, &past); kenner.ErrorCode(err) != kenner.EInvalid {
		t.Errorf("expiry in the past: %v", err)
	}
	if _, _, err := svc.CreateToken(t.Context(), "ws", "", "root", nil); kenner.ErrorCode(err) != kenner.EInvalid {
		t.Errorf("unknown role: %v", err)
	}
}

func TestHashPurposes(t *testing.T) {
	h := auth.NewHasher([]byte("k"))
	if h.Hash("a", "x") == h.Hash("b", "x") {
		t.Error("the same value hashes alike for two purposes")
	}
	if h.Hash("a", "x") != auth.NewHasher([]byte("k")).Hash("a", "x") {
		t.Error("hash is not deterministic")
	}
}
