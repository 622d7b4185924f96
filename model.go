package kenner

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"
)

// Model kinds.
const (
	// ModelCLV fits BG/NBD and Gamma-Gamma to the workspace's orders and scores each buyer:
	// probability of being alive, expected purchases and value, lifetime value, RFM cell.
	ModelCLV = "clv"
	// ModelClassifier learns a yes/no label the marketer defines (churn, a propensity to buy,
	// membership of a seed segment for lookalikes) from profile fields, by logistic regression.
	ModelClassifier = "classifier"
	// ModelLead scores leads by points for what they do and who they are, decaying over time,
	// with stages (subscriber, MQL, SQL) whose crossings are lead.stage_changed changes.
	ModelLead = "lead"
	// ModelAffinity learns which products are bought together, and recommends each buyer the
	// products their purchases go with (up- and cross-sell).
	ModelAffinity = "affinity"
)

// LeadRule gives a lead points: for each event of a name (Event, "$page" for page views,
// with an optional CEL filter Where over the event e: a page pattern is
// e.context.page.path.startsWith("/pricing")), or once while the profile meets Condition
// (a CEL condition over traits and computed traits).
type LeadRule struct {
	Event     string  `json:"event,omitempty"`
	Where     string  `json:"where,omitempty"`
	Condition string  `json:"condition,omitempty"`
	Points    float64 `json:"points"`
}

// LeadStage is a stage a lead reaches at Threshold points.
type LeadStage struct {
	Name      string  `json:"name"`
	Threshold float64 `json:"threshold"`
}

// Model states.
const (
	ModelUntrained = "untrained"
	ModelTraining  = "training"
	ModelTrained   = "trained"
	ModelFailed    = "failed"
)

// Model is a prediction model of a workspace: its definition, and the parameters of its
// current trained version, which every profile's predictions.<name> is computed with.
type Model struct {
	WorkspaceID string `json:"-"`
	ID          string `json:"id"`
	// Name is the key of the model's scores in a profile's predictions (predictions.clv).
	Name string `json:"name"`
	Kind string `json:"kind"`

	// Event names the order events (clv, affinity); Revenue is the dotted path of their value.
	Event   string `json:"event,omitempty"`
	Revenue string `json:"revenue,omitempty"`
	// Item is the dotted path of the products an order holds (affinity); a list on the way
	// is walked (properties.products.product_id reads every product's id).
	Item string `json:"item,omitempty"`
	// Top is how many products an affinity model recommends per person (default 5).
	Top int `json:"top,omitempty"`
	// CalibrationEnd, when set, trains on the purchases up to that day only (a back-test:
	// the rest of the history checks the forecast); otherwise on everything up to the training.
	CalibrationEnd string `json:"calibration_end,omitempty"`
	// HorizonDays is the lifetime value's horizon; DiscountRate the yearly discount rate.
	HorizonDays  int     `json:"horizon_days,omitempty"`
	DiscountRate float64 `json:"discount_rate,omitempty"`

	// Label is the classifier's CEL condition over the profile: true marks a positive example
	// (traits.churned == true, "vip" in segments...).
	Label string `json:"label,omitempty"`
	// Features are the profile fields the classifier reads (traits.tenure, computed.orders,
	// events.<name>.count, predictions.clv.p_alive); empty: every trait and computed trait the
	// label does not read, the counts and recency of Events, and the scores of clv models.
	Features []string `json:"features,omitempty"`
	// Events are event names whose count and days since the last one a classifier learns from
	// (events.<name>.count, events.<name>.days_since).
	Events []string `json:"events,omitempty"`
	// Rules and Stages define a lead model; HalfLife halves event points that old (0: they
	// never fade). ScoreModel names a classifier whose probability adds ModelPoints × p.
	Rules       []LeadRule  `json:"rules,omitempty"`
	Stages      []LeadStage `json:"stages,omitempty"`
	HalfLife    Duration    `json:"half_life,omitempty"`
	ScoreModel  string      `json:"score_model,omitempty"`
	ModelPoints float64     `json:"model_points,omitempty"`

	// Retrain, when set, trains the model again that long after its last training.
	Retrain Duration `json:"retrain,omitempty"`

	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
	// Version is the current trained version (0: none); Params its parameters, Card its
	// metrics. Scores are computed with them.
	Version   int             `json:"version"`
	Params    json.RawMessage `json:"params,omitempty"`
	Card      json.RawMessage `json:"card,omitempty"`
	TrainedAt time.Time       `json:"trained_at,omitzero"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// ModelVersion is one training of a model, kept for comparison and audit.
type ModelVersion struct {
	ModelID   string          `json:"model_id"`
	Version   int             `json:"version"`
	Status    string          `json:"status"`
	Message   string          `json:"message,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Card      json.RawMessage `json:"card,omitempty"`
	TrainedAt time.Time       `json:"trained_at"`
}

// ModelStore keeps prediction models. A model is a definition like a computed trait: creating,
// changing or deleting one changes the workspace's definitions version, so that processors
// compile it in and the build re-evaluates the segments that read predictions.
type ModelStore interface {
	// CreateModel stores a new model, filling its id and times (EConflict: the name is taken).
	CreateModel(ctx context.Context, m *Model) error
	// UpdateModel replaces a model's definition, status and current version (ENotFound).
	UpdateModel(ctx context.Context, m *Model) error
	DeleteModel(ctx context.Context, workspaceID, id string) error
	Model(ctx context.Context, workspaceID, id string) (*Model, error)
	// Models lists a workspace's models by name.
	Models(ctx context.Context, workspaceID string) ([]Model, error)
	// AddModelVersion records a training of a model (EConflict: that version exists).
	AddModelVersion(ctx context.Context, workspaceID string, v *ModelVersion) error
	// ModelVersions lists a model's versions, newest first.
	ModelVersions(ctx context.Context, workspaceID, modelID string) ([]ModelVersion, error)
}

// modelDocument is what a store keeps of a model besides its identity, name and times, as one
// JSON document: both stores write it the same way.
type modelDocument struct {
	Model
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// ModelDocument encodes the parts of m a store keeps as one document.
func ModelDocument(m *Model) ([]byte, error) {
	d := modelDocument{Model: *m}
	d.Model.CreatedAt, d.Model.UpdatedAt = time.Time{}, time.Time{}
	return json.Marshal(d)
}

// SetModelDocument fills m from a document ModelDocument wrote, keeping its identity, name and
// times.
func SetModelDocument(m *Model, doc []byte) error {
	var d modelDocument
	if err := json.Unmarshal(doc, &d); err != nil {
		return err
	}
	id, ws, name, created, updated := m.ID, m.WorkspaceID, m.Name, m.CreatedAt, m.UpdatedAt
	*m = d.Model
	m.ID, m.WorkspaceID, m.Name, m.CreatedAt, m.UpdatedAt = id, ws, name, created, updated
	return nil
}

// LeadStageSegment is the id under which a lead model's stage is kept as a membership (the
// stages above the first; being in none is being in the first).
func LeadStageSegment(modelID, stage string) string { return "lead:" + modelID + ":" + stage }

// IsLeadStageSegment reports whether a segment id is a lead stage's.
func IsLeadStageSegment(id string) bool { return strings.HasPrefix(id, "lead:") }

// Model defaults.
const (
	DefaultOrderEvent   = "Order Completed"
	DefaultRevenue      = "properties.revenue"
	DefaultHorizonDays  = 365
	DefaultDiscountRate = 0.1
	DefaultItem         = "properties.products.product_id"
	DefaultTop          = 5
)

// SetDefaults fills what a model definition left out with the defaults of its kind, and
// checks what no default can supply. It does not compile the label (the segment engine does).
func (m *Model) SetDefaults() error {
	switch m.Kind {
	case ModelCLV:
		if m.Event == "" {
			m.Event = DefaultOrderEvent
		}
		if m.Revenue == "" {
			m.Revenue = DefaultRevenue
		}
		if m.HorizonDays == 0 {
			m.HorizonDays = DefaultHorizonDays
		}
		if m.DiscountRate == 0 {
			m.DiscountRate = DefaultDiscountRate
		}
		if m.HorizonDays < 1 || m.HorizonDays > 3650 {
			return Errorf(EInvalid, "horizon_days must be between 1 and 3650, got %d", m.HorizonDays)
		}
		if m.DiscountRate < 0 || m.DiscountRate >= 1 {
			return Errorf(EInvalid, "discount_rate is a yearly rate between 0 and 1 (0.1 for 10%%), got %g", m.DiscountRate)
		}
		if m.CalibrationEnd != "" {
			if _, err := time.Parse(time.DateOnly, m.CalibrationEnd); err != nil {
				return Errorf(EInvalid, "calibration_end %q: want a day like 1997-09-30", m.CalibrationEnd)
			}
		}
		if m.Label != "" || len(m.Features) > 0 || len(m.Events) > 0 {
			return Errorf(EInvalid, "label, features and events are for classifiers; a clv model learns from its order event")
		}
	case ModelClassifier:
		if m.Label == "" {
			return Errorf(EInvalid, "a classifier needs a label: a condition true for the positive examples (traits.churned == true)")
		}
		if m.Event != "" || m.Revenue != "" || m.CalibrationEnd != "" || m.HorizonDays != 0 {
			return Errorf(EInvalid, "event, revenue, calibration_end and horizon_days are for clv models")
		}
		for _, f := range m.Features {
			kind, rest, _ := strings.Cut(f, ".")
			if rest == "" || !slices.Contains([]string{"traits", "computed", "events", "predictions"}, kind) {
				return Errorf(EInvalid, "feature %q: name a profile field as traits.<name>, computed.<name>, events.<event>.count or .days_since, or predictions.<clv model>.<score>", f)
			}
		}
		for _, e := range m.Events {
			if strings.TrimSpace(e) == "" {
				return Errorf(EInvalid, "events: an empty event name")
			}
		}
	case ModelAffinity:
		if m.Event == "" {
			m.Event = DefaultOrderEvent
		}
		if m.Item == "" {
			m.Item = DefaultItem
		}
		if m.Top == 0 {
			m.Top = DefaultTop
		}
		if m.Top < 1 || m.Top > 50 {
			return Errorf(EInvalid, "top must be between 1 and 50, got %d", m.Top)
		}
		if m.Revenue != "" || m.Label != "" || m.CalibrationEnd != "" || m.HorizonDays != 0 || len(m.Rules) > 0 {
			return Errorf(EInvalid, "an affinity model reads its order event's items only (event, item, top)")
		}
	case ModelLead:
		if len(m.Rules) == 0 {
			return Errorf(EInvalid, "a lead model needs rules: points for events (event, where) or profile conditions (condition)")
		}
		for i, r := range m.Rules {
			if (r.Event == "") == (r.Condition == "") {
				return Errorf(EInvalid, "rule %d: give an event (with an optional where) or a condition, not both", i+1)
			}
			if r.Where != "" && r.Event == "" {
				return Errorf(EInvalid, "rule %d: where filters an event; name the event", i+1)
			}
			if r.Points == 0 || math.IsNaN(r.Points) || math.IsInf(r.Points, 0) {
				return Errorf(EInvalid, "rule %d: points must be a number other than 0", i+1)
			}
		}
		if len(m.Stages) == 0 {
			return Errorf(EInvalid, "a lead model needs stages, e.g. [{\"name\":\"subscriber\",\"threshold\":0},{\"name\":\"MQL\",\"threshold\":50}]")
		}
		seen := map[string]bool{}
		for i, st := range m.Stages {
			if strings.TrimSpace(st.Name) == "" || seen[st.Name] || strings.ContainsAny(st.Name, ":\x00") {
				return Errorf(EInvalid, "stage %d: a name, unique, without ':'", i+1)
			}
			seen[st.Name] = true
			if i > 0 && st.Threshold <= m.Stages[i-1].Threshold {
				return Errorf(EInvalid, "stages must be in ascending order of threshold (%s at %g after %s at %g)", st.Name, st.Threshold, m.Stages[i-1].Name, m.Stages[i-1].Threshold)
			}
		}
		if m.HalfLife < 0 {
			return Errorf(EInvalid, "half_life must not be negative")
		}
		if (m.ScoreModel == "") != (m.ModelPoints == 0) {
			return Errorf(EInvalid, "score_model and model_points go together: the classifier whose probability adds model_points × p")
		}
		if m.Event != "" || m.Revenue != "" || m.Label != "" || m.CalibrationEnd != "" || m.HorizonDays != 0 || m.Item != "" {
			return Errorf(EInvalid, "event, revenue, item, label, calibration_end and horizon_days are for other kinds of model")
		}
		// A lead model has nothing to fit: it scores from its definition.
		m.Status = ModelTrained
	case "":
		return Errorf(EInvalid, "kind is required: clv, classifier, lead or affinity")
	default:
		return Errorf(EInvalid, "unknown kind %q: want clv, classifier, lead or affinity", m.Kind)
	}
	if m.Retrain != 0 && time.Duration(m.Retrain) < time.Hour {
		return Errorf(EInvalid, "retrain must be at least 1h (or absent: train on request only)")
	}
	if m.Status == "" {
		m.Status = ModelUntrained
	}
	return nil
}
