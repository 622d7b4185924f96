package storetest

import (
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
)

// testUsers: console users are unique by email (any case), listed per workspace; a new
// password and a deletion end the user's sessions; sessions expire.
func testUsers(t *testing.T, s kenner.Store) {
	for _, ws := range []string{"ws_u", "ws_v"} {
		if err := s.CreateWorkspace(ctx(t), &kenner.Workspace{ID: ws, Name: ws}); err != nil && kenner.ErrorCode(err) != kenner.EConflict {
			t.Fatal(err)
		}
	}
	ann := &kenner.User{WorkspaceID: "ws_u", Email: " Ann@Example.com ", Name: "Ann", Role: kenner.RoleMarketer, PasswordHash: "h1"}
	if err := s.CreateUser(ctx(t), ann); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx(t), &kenner.User{WorkspaceID: "ws_v", Email: "ann@example.com", Role: kenner.RoleViewer, PasswordHash: "h"}); kenner.ErrorCode(err) != kenner.EConflict {
		t.Errorf("second user with the same email: %v, want conflict", err)
	}
	got, err := s.UserByEmail(ctx(t), "ANN@example.com")
	if err != nil || got.ID != ann.ID || got.Email != "ann@example.com" || got.Role != kenner.RoleMarketer || got.PasswordHash != "h1" || got.WorkspaceID != "ws_u" {
		t.Fatalf("by email: %+v %v", got, err)
	}
	if list, _ := s.Users(ctx(t), "ws_u"); len(list) != 1 || list[0].Name != "Ann" {
		t.Errorf("users: %+v", list)
	}
	if _, err := s.User(ctx(t), "ws_v", ann.ID); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("another workspace's user: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, h := range []string{"sess-a", "sess-b"} {
		if err := s.CreateSession(ctx(t), &kenner.Session{Hash: h, UserID: ann.ID, WorkspaceID: "ws_u", CSRF: "c-" + h, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	se, err := s.SessionByHash(ctx(t), "sess-a", now)
	if err != nil || se.UserID != ann.ID || se.CSRF != "c-sess-a" || !se.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("session: %+v %v", se, err)
	}
	if _, err := s.SessionByHash(ctx(t), "sess-a", now.Add(2*time.Hour)); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("expired session: %v", err)
	}
	if err := s.DeleteSession(ctx(t), "sess-b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(ctx(t), "sess-b", now); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("deleted session: %v", err)
	}
	if err := s.SetUserPassword(ctx(t), "ws_u", ann.ID, "h2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(ctx(t), "sess-a", now); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("a session outlived a password change: %v", err)
	}
	if u, _ := s.User(ctx(t), "ws_u", ann.ID); u.PasswordHash != "h2" {
		t.Errorf("password not changed: %+v", u)
	}
	s.CreateSession(ctx(t), &kenner.Session{Hash: "sess-c", UserID: ann.ID, WorkspaceID: "ws_u", CSRF: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err := s.DeleteUser(ctx(t), "ws_u", ann.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(ctx(t), "sess-c", now); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("a session outlived its user: %v", err)
	}
	if err := s.DeleteUser(ctx(t), "ws_u", ann.ID); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("deleting twice: %v", err)
	}
}
