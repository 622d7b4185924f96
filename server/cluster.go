package server

import (
	"net/http"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/cluster"
	"github.com/kenner-cdp/kenner/web"
)

// Cluster tells which node holds what (cluster.Node, or cluster.Alone for one node).
type Cluster interface {
	Status() cluster.Status
}

// getCluster answers the nodes and the partitions each holds, as this node sees them.
func (s *Server) getCluster(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	if tok.WorkspaceID != kenner.DeploymentWorkspace {
		// The servers are the deployment's, not a tenant's: their names and addresses are
		// for its own administrators.
		return kenner.Errorf(kenner.EForbidden, "the cluster is shown to the administrators of the deployment's first workspace")
	}
	if s.deps.Cluster == nil {
		return kenner.Errorf(kenner.EUnavailable, "cluster status is not available")
	}
	web.JSON(w, http.StatusOK, s.deps.Cluster.Status())
	return nil
}
