package auth_test

import (
	"path/filepath"
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/auth"
	"github.com/kenner-cdp/kenner/sqlite"
)

func TestUsers(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.CreateWorkspace(t.Context(), &kenner.Workspace{ID: "ws", Name: "ws"}); err != nil {
		t.Fatal(err)
	}
	users := auth.NewUsers(store, auth.NewHasher([]byte("0123456789abcdef0123456789abcdef")))
	for _, bad := range []struct{ email, pw string }{{"not an email", "long enough pw"}, {"a@b.example", "short"}} {
		if _, _, err := users.Create(t.Context(), "ws", bad.email, "", kenner.RoleViewer, bad.pw); kenner.ErrorCode(err) != kenner.EInvalid {
			t.Errorf("create %q/%q: %v, want invalid", bad.email, bad.pw, err)
		}
	}
	u, pw, err := users.Create(t.Context(), "ws", "Ann@Example.com", "Ann", kenner.RoleMarketer, "")
	if err != nil || len(pw) < auth.MinPasswordLength || u.PasswordHash == pw {
		t.Fatalf("create: %+v %q %v", u, pw, err)
	}
	if _, err := users.Login(t.Context(), "ann@example.com", "wrong password"); kenner.ErrorCode(err) != kenner.EUnauthorized {
		t.Errorf("wrong password: %v", err)
	}
	_, errUnknown := users.Login(t.Context(), "nobody@example.com", "wrong password")
	_, errWrong := users.Login(t.Context(), "ann@example.com", "wrong password")
	if errUnknown.Error() != errWrong.Error() {
		t.Errorf("an unknown email answers differently (%v) from a wrong password (%v)", errUnknown, errWrong)
	}
	got, err := users.Login(t.Context(), "ANN@example.com", pw)
	if err != nil || got.ID != u.ID {
		t.Fatalf("login: %+v %v", got, err)
	}
	secret, se, err := users.StartSession(t.Context(), got)
	if err != nil || se.CSRF == "" || se.Hash == secret {
		t.Fatalf("session: %+v %v", se, err)
	}
	if _, who, err := users.Session(t.Context(), secret); err != nil || who.ID != u.ID {
		t.Errorf("session lookup: %+v %v", who, err)
	}
	if _, err := users.SetPassword(t.Context(), "ws", u.ID, "a new long password"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := users.Session(t.Context(), secret); kenner.ErrorCode(err) != kenner.EUnauthorized {
		t.Errorf("a session outlived the password change: %v", err)
	}
	if _, err := users.Login(t.Context(), "ann@example.com", "a new long password"); err != nil {
		t.Errorf("login with the new password: %v", err)
	}
}
