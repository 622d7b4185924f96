package console

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/kenner-cdp/kenner"
)

// deploymentOwner: the owners of the deployment's first workspace manage the others.
func deploymentOwner(rq *request) bool {
	return rq.user.WorkspaceID == kenner.DeploymentWorkspace && rq.user.Role == kenner.RoleOwner
}

// workspaceRows lists the deployment's workspaces for its owners' settings page.
func (c *Console) workspaceRows(r *http.Request, rq *request) []kenner.Workspace {
	if !deploymentOwner(rq) {
		return nil
	}
	var out struct {
		Workspaces []kenner.Workspace `json:"workspaces"`
	}
	c.call(r.Context(), rq, "GET", "/v1/workspaces", nil, &out)
	return out.Workspaces
}

// createWorkspace makes a workspace; its credentials are shown once.
func (c *Console) createWorkspace(w http.ResponseWriter, r *http.Request, rq *request) {
	var out struct {
		Workspace       kenner.Workspace `json:"workspace"`
		WriteKey        string           `json:"write_key"`
		AdminToken      string           `json:"admin_token"`
		ConsoleEmail    string           `json:"console_email"`
		ConsolePassword string           `json:"console_password"`
	}
	in := map[string]string{"name": r.PostFormValue("name"), "owner_email": r.PostFormValue("owner_email")}
	if err := c.call(r.Context(), rq, "POST", "/v1/workspaces", in, &out); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.settingsPage(w, r, rq, "", kenner.ErrorMessage(err))
		return
	}
	c.settingsPage(w, r, rq, fmt.Sprintf("Workspace %q is ready. Its owner signs in as %s with the password %s; its default source's write key is %s and its owner API token %s. They are shown only now: hand them over safely.",
		out.Workspace.Name, out.ConsoleEmail, out.ConsolePassword, out.WriteKey, out.AdminToken), "")
}

// deleteWorkspace removes a workspace once its id is typed again.
func (c *Console) deleteWorkspace(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	path := "/v1/workspaces/" + url.PathEscape(id) + "?confirm=" + url.QueryEscape(r.PostFormValue("confirm"))
	if err := c.call(r.Context(), rq, "DELETE", path, nil, nil); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.settingsPage(w, r, rq, "", kenner.ErrorMessage(err))
		return
	}
	c.settingsPage(w, r, rq, fmt.Sprintf("Workspace %s and everything it held are deleted.", id), "")
}
