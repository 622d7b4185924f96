package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/importer"
	"github.com/kenner-cdp/kenner/web"
)

// Syncs checks, tests and starts scheduled syncs (syncrun.Runner).
type Syncs interface {
	Check(ctx context.Context, sy *kenner.Sync) error
	Test(ctx context.Context, sy *kenner.Sync) (string, error)
	RunNow(ctx context.Context, ws, id string) (*kenner.SyncRun, error)
}

// syncRequest is a sync as a client writes it: every field optional in a PATCH.
type syncRequest struct {
	Name             *string         `json:"name"`
	Kind             *string         `json:"kind"`
	Source           *string         `json:"source"`
	Type             *string         `json:"type"`
	Mapping          json.RawMessage `json:"mapping"`
	Schedule         *string         `json:"schedule"`
	Config           json.RawMessage `json:"config"`
	OnDelete         *string         `json:"on_delete"`
	SuppressPurposes *[]string       `json:"suppress_purposes"`
	DeleteLimit      *int            `json:"delete_limit_percent"`
	Paused           *bool           `json:"paused"`
}

// apply writes the fields given onto sy; the mapping may be a JSON object or a YAML or JSON
// document as a string (what kenner import reads from a file).
func (s *Server) applySync(ctx context.Context, ws string, req *syncRequest, sy *kenner.Sync) error {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&sy.Name, req.Name)
	set(&sy.Kind, req.Kind)
	set(&sy.Type, req.Type)
	set(&sy.Schedule, req.Schedule)
	set(&sy.OnDelete, req.OnDelete)
	if req.Source != nil {
		src, err := s.sourceByRef(ctx, ws, *req.Source)
		if err != nil {
			return kenner.Errorf(kenner.EInvalid, "source: %s", kenner.ErrorMessage(err))
		}
		sy.SourceID = src.ID
	}
	if len(req.Mapping) > 0 && string(req.Mapping) != "null" {
		text := []byte(req.Mapping)
		var str string
		if json.Unmarshal(req.Mapping, &str) == nil {
			text = []byte(str)
		}
		m, err := importer.ParseMapping(text)
		if err != nil {
			return kenner.Errorf(kenner.EInvalid, "%v", err)
		}
		if sy.Mapping, err = json.Marshal(m); err != nil {
			return err
		}
	}
	if len(req.Config) > 0 && string(req.Config) != "null" {
		if !bytes.HasPrefix(bytes.TrimSpace(req.Config), []byte("{")) {
			return kenner.Errorf(kenner.EInvalid, "config must be an object")
		}
		cfg, err := kenner.KeepSecrets(req.Config, sy.Config)
		if err != nil {
			return err
		}
		sy.Config = cfg
	}
	if req.SuppressPurposes != nil {
		sy.SuppressPurposes = *req.SuppressPurposes
	}
	if req.DeleteLimit != nil {
		sy.DeleteLimit = *req.DeleteLimit
	}
	if req.Paused != nil {
		sy.Paused = *req.Paused
	}
	return nil
}

// syncJSON is a sync as the API shows it: credentials hidden, with its latest runs.
func syncJSON(sy *kenner.Sync, runs []kenner.SyncRun) map[string]any {
	out := *sy
	out.Config = kenner.HideSecrets(sy.Config)
	b, _ := json.Marshal(out)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if runs != nil {
		m["runs"] = runs
		if len(runs) > 0 {
			m["last_run"] = runs[0]
		}
	}
	return m
}

func (s *Server) syncsRunner() (Syncs, error) {
	if s.deps.Syncs == nil {
		return nil, kenner.Errorf(kenner.EUnavailable, "this server does not run syncs")
	}
	return s.deps.Syncs, nil
}

func (s *Server) listSyncs(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	list, err := s.deps.Store.Syncs(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(list))
	for i := range list {
		runs, err := s.deps.Store.SyncRuns(r.Context(), tok.WorkspaceID, list[i].ID, 1)
		if err != nil {
			return err
		}
		m := syncJSON(&list[i], nil)
		if len(runs) > 0 {
			m["last_run"] = runs[0]
		}
		out = append(out, m)
	}
	web.JSON(w, http.StatusOK, map[string]any{"syncs": out})
	return nil
}

// readSync applies a sync request onto sy (a new sync, or a saved one being edited) and checks
// the result, after pre, when given, has looked at the request: the steps every sync
// handler takes.
func (s *Server) readSync(r *http.Request, tok *kenner.Token, sy *kenner.Sync, pre func(*syncRequest) error) (Syncs, error) {
	runner, err := s.syncsRunner()
	if err != nil {
		return nil, err
	}
	var req syncRequest
	if err := web.Decode(r, maxMappingBytes*2, &req); err != nil {
		return nil, err
	}
	if pre != nil {
		if err := pre(&req); err != nil {
			return nil, err
		}
	}
	if err := s.applySync(r.Context(), tok.WorkspaceID, &req, sy); err != nil {
		return nil, err
	}
	return runner, runner.Check(r.Context(), sy)
}

func (s *Server) createSync(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	now := time.Now().UTC()
	sy := &kenner.Sync{ID: kenner.NewID("syn"), WorkspaceID: tok.WorkspaceID, CreatedAt: now, UpdatedAt: now}
	if _, err := s.readSync(r, tok, sy, func(req *syncRequest) error {
		if req.Source == nil {
			return kenner.Errorf(kenner.EInvalid, "source is required (the name or id of the source the rows are imported into)")
		}
		return nil
	}); err != nil {
		return err
	}
	if err := s.deps.Store.SaveSync(r.Context(), sy); err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/syncs/"+sy.ID)
	web.JSON(w, http.StatusCreated, syncJSON(sy, nil))
	return nil
}

func (s *Server) getSync(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	sy, err := s.deps.Store.Sync(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	runs, err := s.deps.Store.SyncRuns(r.Context(), tok.WorkspaceID, sy.ID, 20)
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []kenner.SyncRun{}
	}
	web.JSON(w, http.StatusOK, syncJSON(sy, runs))
	return nil
}

func (s *Server) updateSync(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	sy, err := s.deps.Store.Sync(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if _, err := s.readSync(r, tok, sy, func(req *syncRequest) error {
		if req.Kind != nil && *req.Kind != sy.Kind {
			return kenner.Errorf(kenner.EInvalid, "kind: a sync's kind cannot change; create another sync")
		}
		return nil
	}); err != nil {
		return err
	}
	sy.UpdatedAt = time.Now().UTC()
	sy.State = nil // the runs' to keep
	if err := s.deps.Store.SaveSync(r.Context(), sy); err != nil {
		return err
	}
	got, err := s.deps.Store.Sync(r.Context(), tok.WorkspaceID, sy.ID)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, syncJSON(got, nil))
	return nil
}

func (s *Server) deleteSync(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	if err := s.deps.Store.DeleteSync(r.Context(), tok.WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) runSync(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	runner, err := s.syncsRunner()
	if err != nil {
		return err
	}
	run, err := runner.RunNow(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusAccepted, run)
	return nil
}

func (s *Server) listSyncRuns(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	limit, err := pageLimit(r.URL.Query().Get("limit"))
	if err != nil {
		return err
	}
	if _, err := s.deps.Store.Sync(r.Context(), tok.WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	runs, err := s.deps.Store.SyncRuns(r.Context(), tok.WorkspaceID, r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []kenner.SyncRun{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"runs": runs})
	return nil
}

// testSync connects to the origin of a sync as written (not saved): the "test connection"
// of the console's form. A sync's id in the query tests its saved settings with the edits.
func (s *Server) testSync(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	sy := &kenner.Sync{WorkspaceID: tok.WorkspaceID, Name: "test"}
	if id := r.URL.Query().Get("id"); id != "" {
		var err error
		if sy, err = s.deps.Store.Sync(r.Context(), tok.WorkspaceID, id); err != nil {
			return err
		}
	}
	runner, err := s.readSync(r, tok, sy, nil)
	if err != nil {
		return err
	}
	msg, err := runner.Test(r.Context(), sy)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, map[string]any{"ok": true, "message": msg})
	return nil
}
