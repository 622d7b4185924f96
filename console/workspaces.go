package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/cluster"
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
	c.settingsPageWith(w, r, rq, fmt.Sprintf("Workspace %q is ready. Its credentials are shown only now: hand them over safely.", out.Workspace.Name), "",
		map[string]any{"Created": [][2]string{{"Console sign-in", out.ConsoleEmail}, {"Password", out.ConsolePassword},
			{"Write key (source \"default\")", out.WriteKey}, {"Owner API token", out.AdminToken}, {"Workspace id", out.Workspace.ID}}})
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

// clusterNode is one row of the settings page's cluster table.
type clusterNode struct {
	ID, Addr, Partitions, Since string
	Leader, Self                bool
}

// clusterRows lists the live nodes and what each processes (admins and owners).
func (c *Console) clusterRows(r *http.Request, rq *request) []clusterNode {
	if !rq.user.Role.AtLeast(kenner.RoleAdmin) || rq.user.WorkspaceID != kenner.DeploymentWorkspace {
		return nil
	}
	var st cluster.Status
	if c.call(r.Context(), rq, "GET", "/v1/cluster", nil, &st) != nil {
		return nil
	}
	var out []clusterNode
	for _, n := range st.Nodes {
		parts := make([]string, len(n.Held))
		for i, p := range n.Held {
			parts[i] = strconv.Itoa(p)
		}
		out = append(out, clusterNode{ID: n.ID, Addr: n.Addr, Partitions: strings.Join(parts, ", "), Since: n.Since.Format("2006-01-02 15:04"), Leader: n.Leader, Self: n.Self})
	}
	return out
}
