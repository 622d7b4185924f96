package server

import (
	"net/http"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/auth"
	"github.com/kenner-cdp/kenner/web"
)

// Forgetter drops what a component keeps in memory of a deleted workspace (cached
// credentials and keys, analytics columns, compiled definitions).
type Forgetter interface {
	ForgetWorkspace(ws string)
}

// deploymentOwner lets through only the owners of the deployment's first workspace: they
// alone see and manage the others.
func deploymentOwner(tok *kenner.Token) error {
	if tok.WorkspaceID != kenner.DeploymentWorkspace || tok.Role != kenner.RoleOwner {
		return kenner.Errorf(kenner.EForbidden, "workspaces are managed by the owners of the deployment's first workspace")
	}
	return nil
}

func (s *Server) listWorkspaces(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	if err := deploymentOwner(tok); err != nil {
		return err
	}
	wss, err := s.deps.Store.Workspaces(r.Context())
	if err != nil {
		return err
	}
	if wss == nil {
		wss = []kenner.Workspace{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"workspaces": wss, "next": ""})
	return nil
}

func (s *Server) workspaceFor(r *http.Request, tok *kenner.Token) (*kenner.Workspace, error) {
	if err := deploymentOwner(tok); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	wss, err := s.deps.Store.Workspaces(r.Context())
	if err != nil {
		return nil, err
	}
	for i := range wss {
		if wss[i].ID == id {
			return &wss[i], nil
		}
	}
	return nil, kenner.Errorf(kenner.ENotFound, "no workspace %q", id)
}

func (s *Server) getWorkspace(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	ws, err := s.workspaceFor(r, tok)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, ws)
	return nil
}

// createWorkspace makes a workspace with a source, an owner token and an owner console login,
// whose secrets are in the answer only.
func (s *Server) createWorkspace(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	if err := deploymentOwner(tok); err != nil {
		return err
	}
	var in struct {
		Name       string `json:"name"`
		OwnerEmail string `json:"owner_email"`
	}
	if err := web.Decode(r, maxAdminBody, &in); err != nil {
		return err
	}
	made, err := auth.CreateWorkspace(r.Context(), s.deps.Store, s.deps.Creds, s.deps.Users, &kenner.Workspace{Name: in.Name}, in.OwnerEmail)
	if err != nil {
		return err
	}
	noteAuditTarget(r, "/v1/workspaces/"+made.Workspace.ID)
	web.JSON(w, http.StatusCreated, made)
	return nil
}

// deleteWorkspace removes a workspace and all it holds: its people, events, configuration and
// the keys its events in the log are sealed with (so a replay cannot bring them back).
func (s *Server) deleteWorkspace(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	ws, err := s.workspaceFor(r, tok)
	if err != nil {
		return err
	}
	if ws.ID == kenner.DeploymentWorkspace {
		return kenner.Errorf(kenner.EConflict, "the deployment's first workspace cannot be deleted: its owners manage the others")
	}
	if strings.TrimSpace(r.URL.Query().Get("confirm")) != ws.ID {
		return kenner.Errorf(kenner.EInvalid, "confirm: deleting a workspace cannot be undone; repeat its id as ?confirm=%s", ws.ID)
	}
	if err := s.deps.Store.DeleteWorkspace(r.Context(), ws.ID); err != nil {
		return err
	}
	s.forgetWorkspace(ws.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// forgetWorkspace drops every in-memory trace of a deleted workspace on this node.
func (s *Server) forgetWorkspace(ws string) {
	s.deps.Creds.ForgetWorkspace(ws)
	s.acache.forget(ws)
	for _, f := range s.deps.Forget {
		f.ForgetWorkspace(ws)
	}
}
