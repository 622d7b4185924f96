package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/web"
)

// Suppressions lifts identifiers off the suppression list (privacy.Suppressor).
type Suppressions interface {
	Lift(ctx context.Context, workspaceID, kind, value string) error
}

// listSuppressions lists the workspace's erased identifiers, newest first: kind, keyed hash
// and when; the values themselves are kept nowhere.
func (s *Server) listSuppressions(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	q := r.URL.Query()
	limit, err := pageLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	var after int64
	if a := q.Get("after"); a != "" {
		if after, err = strconv.ParseInt(a, 10, 64); err != nil || after <= 0 {
			return kenner.Errorf(kenner.EInvalid, "after must be a cursor from a previous page")
		}
	}
	page, next, err := s.deps.Store.WorkspaceSuppressions(r.Context(), tok.WorkspaceID, after, limit)
	if err != nil {
		return err
	}
	if page == nil {
		page = []kenner.Suppression{}
	}
	cursor := ""
	if next > 0 {
		cursor = strconv.FormatInt(next, 10)
	}
	web.JSON(w, http.StatusOK, map[string]any{"suppressions": page, "next": cursor})
	return nil
}

// liftSuppression lets an erased identifier in again (DELETE /v1/suppressions/{kind}:{value}).
func (s *Server) liftSuppression(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	if s.deps.Suppressions == nil {
		return kenner.Errorf(kenner.ENotFound, "there is no suppression list on this server")
	}
	ref, err := s.profileRef(r)
	if err != nil {
		return err
	}
	if ref.Kind == kenner.KindProfileID {
		return kenner.Errorf(kenner.EInvalid, "name the identifier (email:..., user_id:...), not a profile id")
	}
	if err := s.deps.Suppressions.Lift(r.Context(), tok.WorkspaceID, ref.Kind, ref.Value); err != nil {
		if kenner.ErrorCode(err) == kenner.ENotFound {
			return kenner.Errorf(kenner.ENotFound, "%s is not suppressed", r.PathValue("ref"))
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
