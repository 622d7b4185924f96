package process

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/predict"
	"github.com/kenner-cdp/kenner/segment"
)

// maxTrainingRows bounds the profiles a classifier learns from: a deterministic sample of a
// larger workspace (by a hash of the profile), so that training a million profiles stays
// within memory and minutes.
const maxTrainingRows = 200_000

// Trainer trains prediction models: on request (the API, the CLI), when a model's retraining
// interval has passed, and again after a restart for a training a crash interrupted. One
// training runs at a time; each reads every profile once.
type Trainer struct {
	proc   *Processor
	store  kenner.Store
	wake   func() // wakes the builder after a definitions change
	logger *slog.Logger
	queue  chan job
	mu     sync.Mutex
	queued map[string]bool // workspace/model
	cur    *training       // the running training (one at a time)
	// scheduled: this node resumes interrupted trainings and starts the retrainings that
	// are due (in a cluster, only the leader does).
	scheduled atomic.Bool
}

type job struct{ ws, id string }

// TrainingProgress is how far the running training of a model has got: the phase
// ("processing": waiting for the log to be applied; "building": the profiles' histories being
// folded; "reading": the pass over the profiles, then the fit), and Done of Total in it.
type TrainingProgress struct {
	Phase string `json:"phase"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
}

// training is the running training's progress.
type training struct {
	key         string
	mu          sync.Mutex
	phase       string
	done, total atomic.Int64
}

func (tr *training) set(phase string, done, total int64) {
	tr.mu.Lock()
	tr.phase = phase
	tr.mu.Unlock()
	tr.done.Store(done)
	tr.total.Store(total)
}

// Progress reports the running training of the model, if it is the one running.
func (t *Trainer) Progress(ws, id string) (TrainingProgress, bool) {
	t.mu.Lock()
	tr := t.cur
	t.mu.Unlock()
	if tr == nil || tr.key != ws+"/"+id {
		return TrainingProgress{}, false
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return TrainingProgress{Phase: tr.phase, Done: tr.done.Load(), Total: tr.total.Load()}, true
}

// reading starts the pass over the workspace's profiles, and returns what counts them.
func (t *Trainer) reading(ctx context.Context, ws string) func(n int) {
	t.mu.Lock()
	tr := t.cur
	t.mu.Unlock()
	if tr == nil {
		return func(int) {}
	}
	total, _ := t.store.CountProfiles(ctx, ws)
	tr.set("reading", 0, total)
	return func(n int) { tr.done.Add(int64(n)) }
}

// NewTrainer returns a Trainer; wake (may be nil) is called when a model changes, so that the
// builder evaluates the segments that read its predictions.
func NewTrainer(proc *Processor, store kenner.Store, wake func(), logger *slog.Logger) *Trainer {
	if wake == nil {
		wake = func() {}
	}
	t := &Trainer{proc: proc, store: store, wake: wake, logger: logger, queue: make(chan job, 64), queued: map[string]bool{}}
	t.scheduled.Store(true)
	return t
}

// Schedule turns on or off this node's share of the scheduled work (resuming interrupted
// trainings, retraining on the models' intervals): in a cluster, the leader's alone. Turned on,
// it resumes the interrupted trainings at once.
func (t *Trainer) Schedule(ctx context.Context, on bool) {
	if on && !t.scheduled.Swap(true) {
		t.resume(ctx)
	}
	if !on {
		t.scheduled.Store(false)
	}
}

// Start queues a training of the model and marks it training (EConflict: it is already
// queued or training; EUnavailable: too many are queued).
func (t *Trainer) Start(ctx context.Context, ws, id string) (*kenner.Model, error) {
	m, err := t.store.Model(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	key := ws + "/" + id
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.queued[key] {
		return nil, kenner.Errorf(kenner.EConflict, "model %q is already training", m.Name)
	}
	if len(t.queue) == cap(t.queue) {
		return nil, kenner.Errorf(kenner.EUnavailable, "too many trainings are queued; try again later")
	}
	m.Status, m.Message = kenner.ModelTraining, ""
	if err := t.store.UpdateModel(ctx, m); err != nil {
		return nil, err
	}
	// Only Start sends, under t.mu, so the room checked above is still there.
	t.queue <- job{ws, id}
	t.queued[key] = true
	return m, nil
}

// Run trains queued models and retrains those due, until ctx is done.
func (t *Trainer) Run(ctx context.Context) {
	t.resume(ctx)
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-t.queue:
			if _, err := t.Train(ctx, j.ws, j.id); err != nil && ctx.Err() == nil && kenner.ErrorCode(err) == kenner.EInternal {
				t.logger.Error("model training", "workspace", j.ws, "model", j.id, "err", err)
			}
			t.mu.Lock()
			delete(t.queued, j.ws+"/"+j.id)
			t.mu.Unlock()
		case <-tick.C:
			t.due(ctx)
		}
	}
}

// resume queues the trainings a stop interrupted (models left "training").
func (t *Trainer) resume(ctx context.Context) {
	if !t.scheduled.Load() {
		return
	}
	t.each(ctx, func(m kenner.Model) bool { return m.Status == kenner.ModelTraining })
}

// due queues the models whose retraining interval has passed.
func (t *Trainer) due(ctx context.Context) {
	if !t.scheduled.Load() {
		return
	}
	now := time.Now()
	t.each(ctx, func(m kenner.Model) bool {
		return m.Retrain > 0 && m.Status != kenner.ModelTraining && now.Sub(m.TrainedAt) >= time.Duration(m.Retrain)
	})
}

func (t *Trainer) each(ctx context.Context, want func(kenner.Model) bool) {
	wss, err := t.store.Workspaces(ctx)
	if err != nil {
		return
	}
	for _, w := range wss {
		ms, err := t.store.Models(ctx, w.ID)
		if err != nil {
			continue
		}
		for _, m := range ms {
			if want(m) {
				if _, err := t.Start(ctx, w.ID, m.ID); err != nil && kenner.ErrorCode(err) != kenner.EConflict {
					t.logger.Warn("queue model training", "workspace", w.ID, "model", m.Name, "err", err)
				}
			}
		}
	}
}

// Train trains the model now and records the version, trained or failed with the reason. A
// failed training leaves the previous version scoring. The error is the training's.
func (t *Trainer) Train(ctx context.Context, ws, id string) (*kenner.Model, error) {
	m, err := t.store.Model(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	versions, err := t.store.ModelVersions(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	v := &kenner.ModelVersion{ModelID: id, Version: 1}
	if len(versions) > 0 {
		v.Version = versions[0].Version + 1
	}
	start := time.Now()
	tr := &training{key: ws + "/" + id}
	tr.set("processing", 0, 0)
	t.mu.Lock()
	t.cur = tr
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.cur = nil
		t.mu.Unlock()
	}()
	params, card, trainErr := t.fit(ctx, ws, m)
	if ctx.Err() != nil {
		return nil, ctx.Err() // stopped: the model stays "training" and resumes after a restart
	}
	v.TrainedAt = time.Now().UTC()
	if trainErr != nil {
		v.Status, v.Message = kenner.ModelFailed, kenner.ErrorMessage(trainErr)
		if kenner.ErrorCode(trainErr) == kenner.EInternal {
			v.Message = "internal error: " + trainErr.Error()
		}
	} else {
		v.Status, v.Params, v.Card = kenner.ModelTrained, params, card
	}
	if err := t.store.AddModelVersion(ctx, ws, v); err != nil {
		return nil, err
	}
	// The definition may have changed while training: keep it, record the outcome.
	if cur, err := t.store.Model(ctx, ws, id); err == nil {
		m = cur
	}
	m.Status, m.Message, m.TrainedAt = v.Status, v.Message, v.TrainedAt
	if trainErr == nil {
		m.Version, m.Params, m.Card = v.Version, v.Params, v.Card
	}
	if err := t.store.UpdateModel(ctx, m); err != nil {
		return nil, err
	}
	t.wake()
	t.logger.Info("model trained", "workspace", ws, "model", m.Name, "version", v.Version, "status", v.Status,
		"message", v.Message, "took", time.Since(start).Round(time.Millisecond))
	return m, trainErr
}

// fit reads the training data of m and fits it.
func (t *Trainer) fit(ctx context.Context, ws string, m *kenner.Model) (params, card json.RawMessage, err error) {
	// Everything accepted before the training counts: the processor applies it first, then
	// the build folds it into the model's histories.
	if err := t.proc.Caught(ctx); err != nil {
		return nil, nil, err
	}
	if err := t.awaitBuild(ctx, ws); err != nil {
		return nil, nil, err
	}
	count := t.reading(ctx, ws)
	ctx = context.WithValue(ctx, countKey{}, count)
	switch m.Kind {
	case kenner.ModelCLV:
		return t.fitCLV(ctx, ws, m)
	case kenner.ModelClassifier:
		return t.fitClassifier(ctx, ws, m)
	case kenner.ModelLead:
		return t.fitLead(ctx, ws, m)
	case kenner.ModelAffinity:
		return t.fitAffinity(ctx, ws, m)
	}
	return nil, nil, kenner.Errorf(kenner.EInvalid, "unknown model kind %q", m.Kind)
}

// awaitBuild waits until every profile carries what the current definitions keep: a model
// created just now has its purchase histories folded from the stored events by the build.
func (t *Trainer) awaitBuild(ctx context.Context, ws string) error {
	t.wake()
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		b, err := t.store.Build(ctx, ws)
		if err != nil {
			return err
		}
		if b.Built >= b.Version {
			return nil
		}
		t.mu.Lock()
		if t.cur != nil {
			t.cur.set("building", b.Processed, b.Total)
		}
		t.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// CLVCard is what a clv model's card shows.
type CLVCard struct {
	Customers      int            `json:"customers"`
	RepeatBuyers   int            `json:"repeat_buyers"`
	CalibrationEnd time.Time      `json:"calibration_end"`
	BGNBD          predict.Fit    `json:"bgnbd_fit"`
	GammaGamma     predict.Fit    `json:"gamma_gamma_fit"`
	RFMSegments    map[string]int `json:"rfm_segments"`
}

func (t *Trainer) fitCLV(ctx context.Context, ws string, m *kenner.Model) (json.RawMessage, json.RawMessage, error) {
	end := time.Now().UTC()
	if m.CalibrationEnd != "" {
		d, err := time.Parse(time.DateOnly, m.CalibrationEnd)
		if err != nil {
			return nil, nil, kenner.Errorf(kenner.EInvalid, "calibration_end %q: want a day like 1997-09-30", m.CalibrationEnd)
		}
		end = d
	}
	eng, err := t.proc.Engine(ctx, ws)
	if err != nil {
		return nil, nil, err
	}
	key, ok := eng.ModelAggregate(m.Name)
	if !ok {
		return nil, nil, kenner.Errorf(kenner.EInvalid, "model %q keeps no purchase history", m.Name)
	}
	fields := &kenner.ProfileFields{Aggregates: map[string]bool{key: true}}
	var hs []predict.History
	err = pages(ctx, t.store, ws, 0, fields, func(ctx context.Context, ps []*kenner.Profile) ([]predict.History, error) {
		countRead(ctx, len(ps))
		var out []predict.History
		for _, p := range ps {
			if h, ok := predict.Summarize(p.Aggregates[key], end); ok {
				out = append(out, h)
			}
		}
		return out, nil
	}, func(page []predict.History) error {
		hs = append(hs, page...)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(hs) == 0 {
		return nil, nil, kenner.Errorf(kenner.EInvalid, "no profile has a %q event before %s: nothing to learn from", m.Event, end.Format(time.DateOnly))
	}
	// Identical histories are fitted once, weighted: most customers of a large shop share a few.
	byCustomer := map[predict.Customer]float64{}
	bySpend := map[predict.Spend]float64{}
	rfm := make([]predict.RFMInput, len(hs))
	card := CLVCard{Customers: len(hs), CalibrationEnd: end, RFMSegments: map[string]int{}}
	for i, h := range hs {
		byCustomer[h.Customer]++
		if h.Customer.X > 0 {
			card.RepeatBuyers++
			bySpend[predict.Spend{X: h.Customer.X, Mean: h.Mean}]++
		}
		rfm[i] = h.RFM
	}
	cs := make([]predict.Customer, 0, len(byCustomer))
	for c, w := range byCustomer {
		c.Weight = w
		cs = append(cs, c)
	}
	ss := make([]predict.Spend, 0, len(bySpend))
	for s, w := range bySpend {
		s.Weight = w
		ss = append(ss, s)
	}
	// Map order must not change the sums' rounding: a retraining on the same data gives the
	// same parameters.
	slices.SortFunc(cs, func(a, b predict.Customer) int { return cmpFloats(a.X, b.X, a.Tx, b.Tx, a.T, b.T) })
	slices.SortFunc(ss, func(a, b predict.Spend) int { return cmpFloats(a.X, b.X, a.Mean, b.Mean) })
	p := predict.CLVParams{HorizonDays: m.HorizonDays, DiscountRate: m.DiscountRate}
	if p.BGNBD, card.BGNBD, err = predict.FitBGNBD(cs); err != nil {
		return nil, nil, fmt.Errorf("purchases (BG/NBD): %w", err)
	}
	if !card.BGNBD.Converged {
		return nil, nil, kenner.Errorf(kenner.EInvalid, "the purchase model (BG/NBD) did not converge (%s)", card.BGNBD.Status)
	}
	if p.Spend, card.GammaGamma, err = predict.FitGammaGamma(ss); err != nil {
		return nil, nil, fmt.Errorf("spend (Gamma-Gamma): %w", err)
	}
	if !card.GammaGamma.Converged {
		return nil, nil, kenner.Errorf(kenner.EInvalid, "the spend model (Gamma-Gamma) did not converge (%s)", card.GammaGamma.Status)
	}
	if p.RFM, err = predict.FitRFM(rfm); err != nil {
		return nil, nil, err
	}
	for _, h := range hs {
		card.RFMSegments[p.RFM.Score(h.RFM).Segment]++
	}
	return marshalPair(p, card)
}

// ClassifierCard is what a classifier's card shows.
type ClassifierCard struct {
	Examples int `json:"examples"`
	// Split says how the holdout was chosen: "time" (the latest fifth to appear) or
	// "hash of user id" (a fifth of the people).
	Split       string                   `json:"split"`
	Positives   int                      `json:"positives"`
	Train       int                      `json:"train"`
	Holdout     int                      `json:"holdout"`
	AUC         float64                  `json:"auc"`
	LogLoss     float64                  `json:"log_loss"`
	BaseRate    float64                  `json:"base_rate"`
	Calibration []predict.CalibrationBin `json:"calibration"`
	TopFeatures []predict.Weight         `json:"top_features"`
	Features    int                      `json:"features"`
	Fit         predict.Fit              `json:"fit"`
}

func (t *Trainer) fitClassifier(ctx context.Context, ws string, m *kenner.Model) (json.RawMessage, json.RawMessage, error) {
	defs, err := t.proc.definitions(ctx, ws)
	if err != nil {
		return nil, nil, err
	}
	if m.Label == "" {
		return nil, nil, kenner.Errorf(kenner.EInvalid, "a classifier needs a label: a condition true for the positive examples")
	}
	// The label is evaluated as a segment would be; the model's own predictions are left
	// out, so it cannot learn from itself.
	const labelID = "__label"
	defs.Segments = segment.WithSegment(defs.Segments, kenner.Segment{ID: labelID, Name: "label", Condition: m.Label})
	// The model itself is compiled untrained: it keeps its event histories without scoring.
	for i := range defs.Models {
		if defs.Models[i].ID == m.ID {
			defs.Models[i].Version, defs.Models[i].Params = 0, nil
		}
	}
	eng, err := segment.CompileDefinitions(defs, t.proc.cfg.Segments)
	if err != nil {
		return nil, nil, fmt.Errorf("label: %w", err)
	}
	only := map[string]bool{labelID: true}
	// What the label reads, through the segments it names, would give the answer away.
	labelReads, _ := eng.Reads(eng.WithNamed(only))
	total, err := t.store.CountProfiles(ctx, ws)
	if err != nil {
		return nil, nil, err
	}
	keep := uint32(1 << 20)
	if total > maxTrainingRows {
		keep = uint32(float64(1<<20) * maxTrainingRows / float64(total))
	}
	now := time.Now().UTC()
	type example struct {
		id    string
		first time.Time
		rank  int64
		row   map[string]any
		label float64
		fold  uint32 // the split when not by time
	}
	var examples []example
	// Whole profiles: every trait and computed trait is a candidate feature, and the split
	// reads when each profile appeared.
	err = pages(ctx, t.store, ws, 0, nil, func(ctx context.Context, ps []*kenner.Profile) ([]example, error) {
		countRead(ctx, len(ps))
		var out []example
		for _, p := range ps {
			if hash(p.ID)%(1<<20) >= keep {
				continue
			}
			in := eng.Input(p, nil, now)
			res := eng.Evaluate(in, p.Segments, only)[labelID]
			ex := example{id: p.ID, first: p.FirstSeen, rank: p.Rank, row: eng.ClassifierFields(&in, m.Name)}
			if res.Member {
				ex.label = 1
			}
			out = append(out, ex)
		}
		return out, nil
	}, func(page []example) error {
		examples = append(examples, page...)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(examples) < 20 {
		return nil, nil, kenner.Errorf(kenner.EInvalid, "only %d profiles to learn from; a classifier needs at least 20", len(examples))
	}
	// Split by time: the profiles that appeared last are held out, as the future would be.
	// When they all appeared within a day (one import), time says nothing: a fifth of the
	// people, chosen by a hash of their user id (stable across imports and replays), is.
	slices.SortFunc(examples, func(a, b example) int {
		return cmpFloats(float64(a.first.UnixNano()), float64(b.first.UnixNano()), float64(a.rank), float64(b.rank))
	})
	byTime := examples[len(examples)-1].first.Sub(examples[0].first) >= 24*time.Hour
	card := ClassifierCard{Split: "time"}
	if !byTime {
		card.Split = "hash of user id"
		for i := range examples {
			key := examples[i].id
			if ids, err := identifiers(ctx, t.store, ws, key); err == nil {
				for _, id := range ids {
					if id.Kind == kenner.KindUserID {
						key = id.Value
						break
					}
				}
			}
			examples[i].fold = hash(key) % 5
		}
		// Held out (fold 0) last; each part in the order of appearance.
		slices.SortStableFunc(examples, func(a, b example) int {
			return cmpFloats(b2f(a.fold == 0), b2f(b.fold == 0))
		})
	}
	cut := len(examples) * 4 / 5
	if !byTime {
		cut = slices.IndexFunc(examples, func(e example) bool { return e.fold == 0 })
		if cut <= 0 || cut >= len(examples) {
			cut = len(examples) * 4 / 5
		}
	}
	names := m.Features
	if len(names) == 0 {
		seen := map[string]bool{}
		for _, ex := range examples {
			for k := range ex.row {
				seen[k] = true
			}
		}
		for k := range seen {
			kind, name, _ := cutDot(k)
			if kind == "traits" && (labelReads.AllTraits || labelReads.Traits[name]) {
				continue
			}
			names = append(names, k)
		}
		slices.Sort(names)
	}
	rows := make([]map[string]any, len(examples))
	y := make([]float64, len(examples))
	for i, ex := range examples {
		rows[i], y[i] = ex.row, ex.label
		card.Positives += int(ex.label)
	}
	card.Examples, card.Train, card.Holdout = len(examples), cut, len(examples)-cut
	card.BaseRate = float64(card.Positives) / float64(card.Examples)
	if card.Positives == 0 || card.Positives == card.Examples {
		return nil, nil, kenner.Errorf(kenner.EInvalid, "the label is %v for every one of the %d profiles: there is nothing to learn (check the condition)", card.Positives > 0, card.Examples)
	}
	fs := predict.LearnFeatures(rows[:cut], names)
	if len(fs) == 0 {
		return nil, nil, kenner.Errorf(kenner.EInvalid, "no profile has any of the features %v", names)
	}
	x := make([][]float64, cut)
	for i := range x {
		x[i] = fs.Vector(rows[i])
	}
	model, fit, err := predict.FitLogistic(x, y[:cut], 1)
	if err != nil {
		return nil, nil, err
	}
	if !fit.Converged {
		return nil, nil, kenner.Errorf(kenner.EInvalid, "the fit did not converge (%s)", fit.Status)
	}
	p := make([]float64, len(rows)-cut)
	for i := range p {
		p[i] = model.Predict(fs.Vector(rows[cut+i]))
	}
	card.AUC, card.LogLoss = predict.AUC(p, y[cut:]), predict.LogLoss(p, y[cut:])
	card.Calibration, card.TopFeatures, card.Features, card.Fit = predict.Calibration(p, y[cut:]), model.TopWeights(fs, 10), len(fs), fit
	if card.AUC != card.AUC { // NaN: the holdout has one class
		card.AUC = 0
	}
	return marshalPair(predict.ClassifierParams{Features: fs, Model: model}, card)
}

// AffinityCard is what an affinity model's card shows.
type AffinityCard struct {
	Buyers   int            `json:"buyers"`
	Products int            `json:"products"`
	Pairs    []predict.Pair `json:"top_pairs"`
}

// fitAffinity reads every buyer's set of products and counts the pairs bought together.
func (t *Trainer) fitAffinity(ctx context.Context, ws string, m *kenner.Model) (json.RawMessage, json.RawMessage, error) {
	eng, err := t.proc.Engine(ctx, ws)
	if err != nil {
		return nil, nil, err
	}
	key, ok := eng.ModelAggregate(m.Name)
	if !ok {
		return nil, nil, kenner.Errorf(kenner.EInvalid, "model %q keeps no products", m.Name)
	}
	fields := &kenner.ProfileFields{Aggregates: map[string]bool{key: true}}
	var baskets [][]string
	err = pages(ctx, t.store, ws, 0, fields, func(ctx context.Context, ps []*kenner.Profile) ([][]string, error) {
		countRead(ctx, len(ps))
		var out [][]string
		for _, p := range ps {
			if items := segment.Items(p.Aggregates[key]); len(items) > 0 {
				out = append(out, items)
			}
		}
		return out, nil
	}, func(page [][]string) error {
		baskets = append(baskets, page...)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(baskets) == 0 {
		return nil, nil, kenner.Errorf(kenner.EInvalid, "no profile has a %q event with products at %s: nothing to learn from", m.Event, m.Item)
	}
	a, pairs, err := predict.FitAffinity(baskets, m.Top)
	if err != nil {
		return nil, nil, err
	}
	products := map[string]bool{}
	for _, b := range baskets {
		for _, it := range b {
			products[it] = true
		}
	}
	return marshalPair(a, AffinityCard{Buyers: len(baskets), Products: len(products), Pairs: pairs})
}

// LeadCard is what a lead model's card shows: how many leads are in each stage.
type LeadCard struct {
	Leads  int            `json:"leads"`
	Stages map[string]int `json:"stages"`
}

// fitLead has nothing to fit (a lead model scores from its rules): it counts the leads per
// stage for the card.
func (t *Trainer) fitLead(ctx context.Context, ws string, m *kenner.Model) (json.RawMessage, json.RawMessage, error) {
	eng, err := t.proc.Engine(ctx, ws)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now().UTC()
	card := LeadCard{Stages: map[string]int{}}
	for _, st := range m.Stages {
		card.Stages[st.Name] = 0
	}
	err = pages(ctx, t.store, ws, 0, nil, func(ctx context.Context, ps []*kenner.Profile) (map[string]int, error) {
		countRead(ctx, len(ps))
		out := map[string]int{}
		for _, p := range ps {
			if s, ok := eng.Predictions(p, now)[m.Name].(map[string]any); ok {
				out[fmt.Sprint(s["stage"])]++
			}
		}
		return out, nil
	}, func(page map[string]int) error {
		for k, n := range page {
			card.Stages[k] += n
			card.Leads += n
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return marshalPair(map[string]any{}, card)
}

// countKey carries the training's profile counter to the pass's workers.
type countKey struct{}

// countRead adds n profiles read to the training's progress.
func countRead(ctx context.Context, n int) {
	if f, ok := ctx.Value(countKey{}).(func(int)); ok {
		f(n)
	}
}

func marshalPair(params, card any) (json.RawMessage, json.RawMessage, error) {
	p, err := json.Marshal(params)
	if err != nil {
		return nil, nil, err
	}
	c, err := json.Marshal(card)
	return p, c, err
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func hash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

func cutDot(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// cmpFloats compares pairs (a0, b0), (a1, b1), ... in order.
func cmpFloats(v ...float64) int {
	for i := 0; i+1 < len(v); i += 2 {
		if v[i] < v[i+1] {
			return -1
		}
		if v[i] > v[i+1] {
			return 1
		}
	}
	return 0
}
