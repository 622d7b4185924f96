package server

import (
	"net/http"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/auth"
	"github.com/kenner-cdp/kenner/web"
)

// Console users: like tokens, no role sees or acts on users above its own.

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	list, err := s.deps.Store.Users(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, map[string]any{"users": upTo(tok.Role, list, func(u kenner.User) kenner.Role { return u.Role }), "next": ""})
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	var in struct {
		Email    string      `json:"email"`
		Name     string      `json:"name"`
		Role     kenner.Role `json:"role"`
		Password string      `json:"password"`
	}
	if err := web.Decode(r, maxAdminBody, &in); err != nil {
		return err
	}
	if in.Role.Valid() && !tok.Role.AtLeast(in.Role) {
		return kenner.Errorf(kenner.EForbidden, "a %s cannot create a %s user", tok.Role, in.Role)
	}
	u, password, err := s.users().Create(r.Context(), tok.WorkspaceID, in.Email, in.Name, in.Role, in.Password)
	if err != nil {
		return err
	}
	out := map[string]any{"id": u.ID, "email": u.Email, "name": u.Name, "role": u.Role, "created_at": u.CreatedAt}
	if in.Password == "" {
		out["password"] = password // generated: shown once
	}
	web.JSON(w, http.StatusCreated, out)
	return nil
}

// userFor finds the user named in the path, refusing users above the caller's role.
func (s *Server) userFor(r *http.Request, tok *kenner.Token) (*kenner.User, error) {
	u, err := s.deps.Store.User(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if !tok.Role.AtLeast(u.Role) {
		return nil, kenner.Errorf(kenner.EForbidden, "a %s cannot act on a %s user", tok.Role, u.Role)
	}
	return u, nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	u, err := s.userFor(r, tok)
	if err != nil {
		return err
	}
	if err := s.deps.Store.DeleteUser(r.Context(), tok.WorkspaceID, u.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// resetUserPassword sets a user's password (a generated one, shown once, when none is sent)
// and ends their sessions.
func (s *Server) resetUserPassword(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	var in struct {
		Password string `json:"password"`
	}
	if r.ContentLength != 0 {
		if err := web.Decode(r, maxAdminBody, &in); err != nil {
			return err
		}
	}
	u, err := s.userFor(r, tok)
	if err != nil {
		return err
	}
	password, err := s.users().SetPassword(r.Context(), tok.WorkspaceID, u.ID, in.Password)
	if err != nil {
		return err
	}
	out := map[string]any{"id": u.ID}
	if in.Password == "" {
		out["password"] = password
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

// users is the console users' service (Deps.Users).
func (s *Server) users() *auth.Users { return s.deps.Users }

// changeOwnPassword changes the signed-in console user's password after checking the
// current one (the console's account page calls it as the user); API tokens have none.
func (s *Server) changeOwnPassword(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	id, ok := strings.CutPrefix(tok.ID, "user:")
	if !ok {
		return kenner.Errorf(kenner.EInvalid, "only a console user has a password: this is an API token")
	}
	var in struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
	if err := web.Decode(r, maxAdminBody, &in); err != nil {
		return err
	}
	u, err := s.deps.Store.User(r.Context(), tok.WorkspaceID, id)
	if err != nil {
		return err
	}
	if _, err := s.users().Login(r.Context(), u.Email, in.Current); err != nil {
		return kenner.Errorf(kenner.EForbidden, "the current password is not right")
	}
	if _, err := s.users().SetPassword(r.Context(), tok.WorkspaceID, id, in.New); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
