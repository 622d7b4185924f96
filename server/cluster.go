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
	if s.deps.Cluster == nil {
		return kenner.Errorf(kenner.EUnavailable, "cluster status is not available")
	}
	web.JSON(w, http.StatusOK, s.deps.Cluster.Status())
	return nil
}
