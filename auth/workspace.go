package auth

import (
	"context"
	"errors"
	"strings"

	"github.com/kenner-cdp/kenner"
)

// WorkspaceStore is what making and removing workspaces needs of the store.
type WorkspaceStore interface {
	CreateWorkspace(ctx context.Context, w *kenner.Workspace) error
	DeleteWorkspace(ctx context.Context, id string) error
}

// NewWorkspace is a workspace just made, with the credentials that are shown only once.
type NewWorkspace struct {
	Workspace       kenner.Workspace `json:"workspace"`
	WriteKey        string           `json:"write_key"`
	AdminToken      string           `json:"admin_token"`
	ConsoleEmail    string           `json:"console_email"`
	ConsolePassword string           `json:"console_password"`
}

// CreateWorkspace makes a workspace ready to use, as the first start makes the first one: a
// source named "default", an owner token, and an owner console login (ownerEmail; empty: one
// made from the workspace's id). When a step fails, what the earlier ones made is removed.
func CreateWorkspace(ctx context.Context, store WorkspaceStore, creds *Service, users *Users, w *kenner.Workspace, ownerEmail string) (_ *NewWorkspace, err error) {
	w.Name = strings.TrimSpace(w.Name)
	if w.Name == "" {
		return nil, kenner.Errorf(kenner.EInvalid, "name: give the workspace a name")
	}
	if len(w.Name) > 100 {
		return nil, kenner.Errorf(kenner.EInvalid, "name: at most 100 characters")
	}
	if err := store.CreateWorkspace(ctx, w); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, store.DeleteWorkspace(context.WithoutCancel(ctx), w.ID))
		}
	}()
	out := &NewWorkspace{Workspace: *w}
	if _, out.WriteKey, err = creds.CreateSource(ctx, w.ID, "default"); err != nil {
		return nil, err
	}
	if _, out.AdminToken, err = creds.CreateToken(ctx, w.ID, "initial owner", kenner.RoleOwner, nil); err != nil {
		return nil, err
	}
	if ownerEmail == "" {
		ownerEmail = "owner@" + strings.ReplaceAll(w.ID, "_", "-") + ".kenner.local"
	}
	owner, password, err := users.Create(ctx, w.ID, ownerEmail, "Owner", kenner.RoleOwner, "")
	if err != nil {
		return nil, err
	}
	out.ConsoleEmail, out.ConsolePassword = owner.Email, password
	return out, nil
}

// ForgetWorkspace drops every cached credential, so that a deleted workspace's write keys and
// tokens stop working on this node at once (on other nodes of a cluster within cacheTTL).
func (s *Service) ForgetWorkspace(string) {
	s.mu.Lock()
	clear(s.sources)
	clear(s.byID)
	clear(s.tokens)
	s.mu.Unlock()
}
