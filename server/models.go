package server

import (
	"context"
	"net/http"
	"slices"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/segment"
	"github.com/kenner-cdp/kenner/web"
)

// Trainer trains prediction models in the background (process.Trainer).
type Trainer interface {
	Start(ctx context.Context, ws, id string) (*kenner.Model, error)
	Progress(ws, id string) (process.TrainingProgress, bool)
}

// modelJSON is a model as the API shows it: with the running training's progress.
type modelJSON struct {
	*kenner.Model
	Progress *process.TrainingProgress `json:"progress,omitempty"`
}

func (s *Server) modelJSON(m *kenner.Model) modelJSON {
	out := modelJSON{Model: m}
	if s.deps.Trainer != nil && m.Status == kenner.ModelTraining {
		if p, ok := s.deps.Trainer.Progress(m.WorkspaceID, m.ID); ok {
			out.Progress = &p
		}
	}
	return out
}

// modelRequest is the part of a model a client defines; state and parameters are the
// trainer's.
type modelRequest struct {
	Name           string             `json:"name"`
	Kind           string             `json:"kind"`
	Event          string             `json:"event"`
	Revenue        string             `json:"revenue"`
	Item           string             `json:"item"`
	Top            int                `json:"top"`
	CalibrationEnd string             `json:"calibration_end"`
	HorizonDays    int                `json:"horizon_days"`
	DiscountRate   float64            `json:"discount_rate"`
	Label          string             `json:"label"`
	Features       []string           `json:"features"`
	Events         []string           `json:"events"`
	Rules          []kenner.LeadRule  `json:"rules"`
	Stages         []kenner.LeadStage `json:"stages"`
	HalfLife       kenner.Duration    `json:"half_life"`
	ScoreModel     string             `json:"score_model"`
	ModelPoints    float64            `json:"model_points"`
	Retrain        kenner.Duration    `json:"retrain"`
}

func (q modelRequest) apply(m *kenner.Model) {
	m.Name, m.Kind, m.Event, m.Revenue, m.CalibrationEnd = q.Name, q.Kind, q.Event, q.Revenue, q.CalibrationEnd
	m.HorizonDays, m.DiscountRate, m.Label, m.Features, m.Retrain = q.HorizonDays, q.DiscountRate, q.Label, q.Features, q.Retrain
	m.Rules, m.Stages, m.HalfLife, m.ScoreModel, m.ModelPoints = q.Rules, q.Stages, q.HalfLife, q.ScoreModel, q.ModelPoints
	m.Item, m.Top, m.Events = q.Item, q.Top, q.Events
}

func requestOf(m *kenner.Model) modelRequest {
	return modelRequest{Name: m.Name, Kind: m.Kind, Event: m.Event, Revenue: m.Revenue, CalibrationEnd: m.CalibrationEnd,
		HorizonDays: m.HorizonDays, DiscountRate: m.DiscountRate, Label: m.Label, Features: m.Features, Retrain: m.Retrain,
		Rules: m.Rules, Stages: m.Stages, HalfLife: m.HalfLife, ScoreModel: m.ScoreModel, ModelPoints: m.ModelPoints,
		Item: m.Item, Top: m.Top, Events: m.Events}
}

// checkModel fills the model's defaults and compiles it with the workspace's definitions: its
// name, and a classifier's label as a condition over profiles.
func (s *Server) checkModel(ctx context.Context, m *kenner.Model) error {
	if err := m.SetDefaults(); err != nil {
		return err
	}
	traits, segs, err := s.definitions(ctx, m.WorkspaceID)
	if err != nil {
		return err
	}
	models, err := s.deps.Store.Models(ctx, m.WorkspaceID)
	if err != nil {
		return err
	}
	models = slices.DeleteFunc(models, func(o kenner.Model) bool { return o.ID == m.ID })
	probe := *m
	probe.Version = 0 // the parameters are the trainer's, already checked
	d := segment.Definitions{Traits: traits, Segments: segs, Models: append(models, probe)}
	if m.Label != "" {
		d.Segments = segment.WithSegment(segs, kenner.Segment{ID: "__label", Name: "label", Condition: m.Label})
	}
	if _, err := segment.CompileDefinitions(d, segment.Options{}); err != nil {
		return err
	}
	return nil
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	ms, err := s.deps.Store.Models(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []kenner.Model{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"models": ms, "next": ""})
	return nil
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	m, err := s.deps.Store.Model(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, s.modelJSON(m))
	return nil
}

func (s *Server) createModel(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	var q modelRequest
	if err := web.Decode(r, 1<<20, &q); err != nil {
		return err
	}
	m := &kenner.Model{WorkspaceID: tok.WorkspaceID}
	q.apply(m)
	if err := s.checkModel(r.Context(), m); err != nil {
		return err
	}
	if err := s.deps.Store.CreateModel(r.Context(), m); err != nil {
		return err
	}
	s.wake() // a clv model's purchase histories are folded from the stored events by the build
	noteAuditTarget(r, "/v1/models/"+m.ID)
	web.JSON(w, http.StatusCreated, m)
	return nil
}

func (s *Server) updateModel(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	m, err := s.deps.Store.Model(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	q := requestOf(m)
	if err := web.Decode(r, 1<<20, &q); err != nil {
		return err
	}
	before := requestOf(m)
	q.apply(m)
	if err := s.checkModel(r.Context(), m); err != nil {
		return err
	}
	if m.Kind != before.Kind {
		return kenner.Errorf(kenner.EInvalid, "a model's kind cannot change (%s); create another model", before.Kind)
	}
	if m.Version > 0 && (m.Event != before.Event || m.Revenue != before.Revenue || m.Item != before.Item || m.Label != before.Label || !slices.Equal(m.Features, before.Features) || !slices.Equal(m.Events, before.Events)) {
		// The trained parameters no longer fit the definition: it scores nothing until trained.
		m.Version, m.Params, m.Card, m.Status, m.Message = 0, nil, nil, kenner.ModelUntrained, "the definition changed: train the model again"
	}
	if err := s.deps.Store.UpdateModel(r.Context(), m); err != nil {
		return err
	}
	s.wake()
	noteAuditTarget(r, "/v1/models/"+m.ID)
	web.JSON(w, http.StatusOK, m)
	return nil
}

func (s *Server) deleteModel(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	if err := s.deps.Store.DeleteModel(r.Context(), tok.WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	s.wake()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) trainModel(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	if s.deps.Trainer == nil {
		return kenner.Errorf(kenner.EUnavailable, "model training is not running on this node")
	}
	m, err := s.deps.Trainer.Start(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	noteAuditTarget(r, "/v1/models/"+m.ID)
	web.JSON(w, http.StatusAccepted, m)
	return nil
}

func (s *Server) listModelVersions(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	if _, err := s.deps.Store.Model(r.Context(), tok.WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	vs, err := s.deps.Store.ModelVersions(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []kenner.ModelVersion{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"versions": vs, "next": ""})
	return nil
}
