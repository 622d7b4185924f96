package server

import (
	"net/http"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/web"
)

func (s *Server) listReports(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	rs, err := s.deps.Store.Reports(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, map[string]any{"reports": nonNil(rs), "next": ""})
	return nil
}

func (s *Server) saveReport(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	var rep kenner.SavedReport
	if err := web.Decode(r, 64<<10, &rep); err != nil {
		return err
	}
	rep.ID, rep.WorkspaceID, rep.CreatedBy = "", tok.WorkspaceID, tok.Name
	if err := rep.Check(); err != nil {
		return err
	}
	if err := s.deps.Store.SaveReport(r.Context(), &rep); err != nil {
		return err
	}
	noteAuditTarget(r, "/v1/reports/"+rep.ID)
	web.JSON(w, http.StatusCreated, rep)
	return nil
}

func (s *Server) deleteReport(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	if err := s.deps.Store.DeleteReport(r.Context(), tok.WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
