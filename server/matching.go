package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/matchrun"
	"github.com/kenner-cdp/kenner/privacy"
	"github.com/kenner-cdp/kenner/web"
)

// Matcher runs probabilistic matching over a workspace (matchrun.Runner).
type Matcher interface {
	Start(ctx context.Context, ws string, p matchrun.Params, by string) (*kenner.MatchRun, error)
	Accept(ctx context.Context, ws string, id int64, by string) (*kenner.MatchReview, error)
}

func (s *Server) startMatchRun(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	if s.deps.Matcher == nil {
		return kenner.Errorf(kenner.EUnavailable, "probabilistic matching is not running on this node")
	}
	var p matchrun.Params
	if err := web.Decode(r, 1<<20, &p); err != nil {
		return err
	}
	run, err := s.deps.Matcher.Start(r.Context(), tok.WorkspaceID, p, tok.Name)
	if err != nil {
		return err
	}
	noteAuditTarget(r, "/v1/match/runs/"+run.ID)
	web.JSON(w, http.StatusAccepted, run)
	return nil
}

func (s *Server) listMatchRuns(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	limit, err := pageLimit(r.URL.Query().Get("limit"))
	if err != nil {
		return err
	}
	runs, err := s.deps.Store.MatchRuns(r.Context(), tok.WorkspaceID, limit)
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []kenner.MatchRun{}
	}
	counts, err := s.deps.Store.CountMatchReviews(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, map[string]any{"runs": runs, "reviews": counts})
	return nil
}

func (s *Server) getMatchRun(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	run, err := s.deps.Store.MatchRun(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, run)
	return nil
}

func (s *Server) listMatchReviews(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	q := r.URL.Query()
	f := kenner.MatchReviewFilter{WorkspaceID: tok.WorkspaceID, Status: q.Get("status"), RunID: q.Get("run")}
	if f.Status == "" {
		f.Status = kenner.ReviewPending
	}
	if f.Status == "any" {
		f.Status = ""
	}
	if f.Status != "" && f.Status != kenner.ReviewPending && !kenner.ValidReviewDecision(f.Status) {
		return kenner.Errorf(kenner.EInvalid, "status: want pending, accepted, rejected or any, not %q", f.Status)
	}
	var err error
	if f.Limit, err = pageLimit(q.Get("limit")); err != nil {
		return err
	}
	if c := q.Get("cursor"); c != "" {
		if f.After, err = strconv.ParseInt(c, 10, 64); err != nil || f.After <= 0 {
			return kenner.Errorf(kenner.EInvalid, "cursor: not a cursor this API returned")
		}
	}
	rs, err := s.deps.Store.MatchReviews(r.Context(), f)
	if err != nil {
		return err
	}
	mask := s.masker(tok)
	for i := range rs {
		maskReview(mask, &rs[i])
	}
	next := ""
	if len(rs) == f.Limit && len(rs) > 0 {
		next = strconv.FormatInt(rs[len(rs)-1].ID, 10)
	}
	if rs == nil {
		rs = []kenner.MatchReview{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"reviews": rs, "next": next})
	return nil
}

func reviewID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, kenner.Errorf(kenner.ENotFound, "no match review %q", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) getMatchReview(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	id, err := reviewID(r)
	if err != nil {
		return err
	}
	rv, err := s.deps.Store.MatchReview(r.Context(), tok.WorkspaceID, id)
	if err != nil {
		return err
	}
	maskReview(s.masker(tok), rv)
	web.JSON(w, http.StatusOK, rv)
	return nil
}

// decideMatchReview accepts (the profiles are merged, recorded as a probabilistic merge) or
// rejects (the pair never comes back to review nor merges in a later run) a pending review.
func (s *Server) decideMatchReview(status string) func(http.ResponseWriter, *http.Request, *kenner.Token) error {
	return func(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
		id, err := reviewID(r)
		if err != nil {
			return err
		}
		var rv *kenner.MatchReview
		if status == kenner.ReviewAccepted {
			if s.deps.Matcher == nil {
				return kenner.Errorf(kenner.EUnavailable, "probabilistic matching is not running on this node")
			}
			if rv, err = s.deps.Matcher.Accept(r.Context(), tok.WorkspaceID, id, tok.Name); err != nil {
				return err
			}
			s.wake()
		} else {
			if err := s.deps.Store.DecideMatchReview(r.Context(), tok.WorkspaceID, id, status, tok.Name, time.Now()); err != nil {
				return err
			}
			if rv, err = s.deps.Store.MatchReview(r.Context(), tok.WorkspaceID, id); err != nil {
				return err
			}
		}
		noteAuditTarget(r, "/v1/match/reviews/"+strconv.FormatInt(id, 10))
		maskReview(s.masker(tok), rv)
		web.JSON(w, http.StatusOK, rv)
		return nil
	}
}

// maskReview hides the personal data of a review from a role that does not see PII: the
// identifiers and the compared values that are PII traits (a nested one by its object's name
// or its own).
func maskReview(mask *privacy.PII, rv *kenner.MatchReview) {
	if mask == nil {
		return
	}
	for _, side := range []*kenner.MatchSide{&rv.A, &rv.B} {
		for i, id := range side.Identifiers {
			side.Identifiers[i] = privacy.MaskIdentifier(id)
		}
		for k, v := range side.Values {
			top, _, _ := strings.Cut(k, ".")
			last := k[strings.LastIndex(k, ".")+1:]
			if mask.IsPII(top) || mask.IsPII(last) {
				raw, _ := json.Marshal(v)
				var masked string
				json.Unmarshal(privacy.MaskTraitValue(last, raw), &masked)
				side.Values[k] = masked
			}
		}
	}
}
