package server

import (
	"net/http"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/web"
)

const maxAdminBody = 1 << 20

func (s *Server) listSources(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	sources, err := s.deps.Store.Sources(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	if sources == nil {
		sources = []kenner.Source{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"sources": sources, "next": ""})
	return nil
}

func (s *Server) createSource(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := web.Decode(r, maxAdminBody, &in); err != nil {
		return err
	}
	src, key, err := s.deps.Creds.CreateSource(r.Context(), tok.WorkspaceID, in.Name)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, map[string]any{
		"id": src.ID, "name": src.Name, "workspace_id": src.WorkspaceID, "created_at": src.CreatedAt, "write_key": key,
	})
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	tokens, err := s.deps.Store.Tokens(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	// No role sees (or acts on) tokens above its own: an admin does not learn of the owners'.
	web.JSON(w, http.StatusOK, map[string]any{"tokens": upTo(tok.Role, tokens, func(t kenner.Token) kenner.Role { return t.Role }), "next": ""})
	return nil
}

// upTo keeps the items (tokens, console users) whose role is at most role.
func upTo[T any](role kenner.Role, items []T, roleOf func(T) kenner.Role) []T {
	out := []T{}
	for _, it := range items {
		if role.AtLeast(roleOf(it)) {
			out = append(out, it)
		}
	}
	return out
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	var in struct {
		Name      string      `json:"name"`
		Role      kenner.Role `json:"role"`
		ExpiresAt *time.Time  `json:"expires_at"`
	}
	if err := web.Decode(r, maxAdminBody, &in); err != nil {
		return err
	}
	if in.Role.Valid() && !tok.Role.AtLeast(in.Role) {
		return kenner.Errorf(kenner.EForbidden, "a %s token cannot create a %s token", tok.Role, in.Role)
	}
	created, secret, err := s.deps.Creds.CreateToken(r.Context(), tok.WorkspaceID, in.Name, in.Role, in.ExpiresAt)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusCreated, map[string]any{
		"id": created.ID, "name": created.Name, "role": created.Role, "expires_at": created.ExpiresAt, "token": secret,
	})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	id := r.PathValue("id")
	tokens, err := s.deps.Store.Tokens(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	for _, t := range tokens {
		if t.ID == id && !tok.Role.AtLeast(t.Role) {
			return kenner.Errorf(kenner.EForbidden, "a %s token cannot revoke a %s token", tok.Role, t.Role)
		}
	}
	if err := s.deps.Creds.RevokeToken(r.Context(), tok.WorkspaceID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
