package matchrun

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/jsonobj"
	"github.com/kenner-cdp/kenner/match"
)

// Result is what a run found and did. It names no trait value: counts, the estimated
// parameters, the thresholds and the curve, and (dry run) the pairs that would merge by
// profile id.
type Result struct {
	DryRun       bool               `json:"dry_run"`
	Records      int                `json:"records"`
	Fields       []string           `json:"fields"`
	FieldsUnused []string           `json:"fields_unused,omitempty"`
	RulesUnused  []string           `json:"rules_unused,omitempty"`
	Candidates   int                `json:"candidate_pairs"`
	PerRule      map[string]int     `json:"candidate_pairs_per_rule"`
	Model        ModelReport        `json:"model"`
	MergeWeight  float64            `json:"merge_weight"`
	ReviewWeight float64            `json:"review_weight"`
	Curve        []CurvePoint       `json:"threshold_curve"`
	AboveMerge   int                `json:"pairs_above_merge"`
	Reviewable   int                `json:"pairs_between"`
	Merged       int                `json:"merges"`
	Clusters     int                `json:"clusters"`
	ReviewsAdded int                `json:"reviews_added"`
	Skipped      map[string]int     `json:"skipped,omitempty"`
	WouldMerge   []PlannedMerge     `json:"would_merge,omitempty"`
	Seconds      map[string]float64 `json:"seconds"`
}

// ModelReport is the estimated model: λ and, per field and level, m, u and the weight.
type ModelReport struct {
	Lambda     float64       `json:"lambda"`
	Iterations int           `json:"iterations"`
	Converged  bool          `json:"converged"`
	Fields     []FieldReport `json:"fields"`
}

// FieldReport is one compared field's parameters.
type FieldReport struct {
	Name   string        `json:"name"`
	Kind   string        `json:"kind"`
	TF     bool          `json:"tf,omitempty"`
	Levels []LevelReport `json:"levels"`
}

// LevelReport is one agreement level: P(level | match), P(level | non-match), log2 of their
// ratio.
type LevelReport struct {
	Level  string  `json:"level"`
	M      float64 `json:"m"`
	U      float64 `json:"u"`
	Weight float64 `json:"weight"`
}

// CurvePoint is the threshold curve at one weight: how many candidate pairs reach it, and the
// precision and recall the model expects of merging them (from the pairs' probabilities).
type CurvePoint struct {
	Weight      float64 `json:"weight"`
	Probability float64 `json:"probability"`
	Pairs       int     `json:"pairs"`
	Precision   float64 `json:"expected_precision"`
	Recall      float64 `json:"expected_recall"`
}

// PlannedMerge is a merge a dry run would make.
type PlannedMerge struct {
	A      string  `json:"a"`
	B      string  `json:"b"`
	Weight float64 `json:"weight"`
}

func (res *Result) summary() string {
	verb := "merged"
	if res.DryRun {
		verb = "would merge"
	}
	return fmt.Sprintf("%d profiles, %d candidate pairs: %s %d pairs into %d clusters, %d pairs to review",
		res.Records, res.Candidates, verb, res.Merged, res.Clusters, res.Reviewable)
}

// record is a profile as the run compares it.
type record struct {
	profileID string
	updated   time.Time
}

func (r *Runner) run(ctx context.Context, run *kenner.MatchRun, p Params) (*Result, error) {
	ws := run.WorkspaceID
	res := &Result{DryRun: p.DryRun, Skipped: map[string]int{}, Seconds: map[string]float64{}}
	clock := time.Now()
	lap := func(phase string) {
		res.Seconds[phase] = math.Round(time.Since(clock).Seconds()*1000) / 1000
		clock = time.Now()
	}
	if r.cfg.Caught != nil {
		r.progress(ctx, run, Progress{Phase: "waiting for processing"})
		if err := r.cfg.Caught(ctx); err != nil {
			return nil, err
		}
	}
	r.progress(ctx, run, Progress{Phase: "reading profiles"})
	recs, meta, present, err := r.read(ctx, ws, p.Fields, p.Since != nil)
	if err != nil {
		return nil, err
	}
	res.Records = len(recs)
	var fields []match.Field
	for _, f := range p.Fields {
		if present[f.Name] {
			fields = append(fields, f)
			res.Fields = append(res.Fields, f.Name)
		} else {
			res.FieldsUnused = append(res.FieldsUnused, f.Name)
		}
	}
	if len(fields) == 0 {
		return nil, kenner.Errorf(kenner.EInvalid, "no profile has any of the compared traits (%s)", strings.Join(res.FieldsUnused, ", "))
	}
	rules, unused, err := p.rules(present)
	if err != nil {
		return nil, err
	}
	res.RulesUnused = unused
	lap("read")

	r.progress(ctx, run, Progress{Phase: "blocking", Records: len(recs)})
	var keep func(a, b int) bool
	if p.Since != nil {
		since := *p.Since
		keep = func(a, b int) bool { return !meta[a].updated.Before(since) || !meta[b].updated.Before(since) }
	}
	pairs, perRule := match.Candidates(recs, rules, keep)
	res.Candidates, res.PerRule = len(pairs), perRule
	if len(pairs) == 0 {
		lap("block")
		return res, nil
	}
	match.Grade(fields, recs, pairs)
	lap("block")

	r.progress(ctx, run, Progress{Phase: "estimating", Records: len(recs), Pairs: len(pairs)})
	model, err := match.Train(fields, recs, pairs, 1)
	if err != nil {
		return nil, err
	}
	res.Model = report(model)
	mergeW, reviewW := p.thresholds(model)
	res.MergeWeight, res.ReviewWeight = round(mergeW), round(reviewW)
	links := make([]match.Link, len(pairs))
	for i, pr := range pairs {
		w, _ := model.Weight(recs[pr.A], recs[pr.B])
		links[i] = match.Link{A: pr.A, B: pr.B, Weight: w}
	}
	res.Curve = curve(model, links)
	lap("estimate")

	r.progress(ctx, run, Progress{Phase: "deciding", Records: len(recs), Pairs: len(pairs)})
	var strong []match.Link
	for _, l := range links {
		if l.Weight >= reviewW {
			strong = append(strong, l)
		}
	}
	g, err := r.guard(ctx, ws, meta, strong)
	if err != nil {
		return nil, err
	}
	var eligible []match.Link
	for _, l := range strong {
		if why := g.refuse(l.A, l.B); why != "" {
			res.Skipped[why]++
			continue
		}
		eligible = append(eligible, l)
		if l.Weight >= mergeW {
			res.AboveMerge++
		}
	}
	clusters, joined, refused := model.ClusterLinks(recs, eligible, mergeW)
	res.Clusters, res.Merged = len(clusters), len(joined)
	inCluster := map[int]int{}
	for i, c := range clusters {
		for _, x := range c {
			inCluster[x] = i + 1
		}
	}
	var reviews []kenner.MatchReview
	now := r.cfg.Now().UTC().Truncate(time.Millisecond)
	review := func(l match.Link, reason string) {
		if ca, cb := inCluster[l.A], inCluster[l.B]; ca != 0 && ca == cb {
			return // merged together through other links
		}
		w, ex := model.Explain(recs[l.A], recs[l.B])
		reviews = append(reviews, kenner.MatchReview{RunID: run.ID, Status: kenner.ReviewPending, Weight: round(w),
			Probability: model.Probability(w), Reason: reason, A: g.side(l.A, recs), B: g.side(l.B, recs),
			Fields: fieldsOf(ex), CreatedAt: now})
	}
	for _, l := range refused {
		review(l, "kept apart by the guard against chaining: the profiles it would join are not alike on average")
	}
	for _, l := range eligible {
		if l.Weight < mergeW {
			review(l, "")
		}
	}
	res.Reviewable = len(reviews)
	lap("decide")
	if p.DryRun {
		for _, l := range joined[:min(len(joined), 50)] {
			res.WouldMerge = append(res.WouldMerge, PlannedMerge{A: meta[l.A].profileID, B: meta[l.B].profileID, Weight: round(l.Weight)})
		}
		return res, nil
	}

	r.progress(ctx, run, Progress{Phase: "merging", Records: len(recs), Pairs: len(pairs), Merges: len(joined)})
	var calls [][]byte
	for i, l := range joined {
		w, ex := model.Explain(recs[l.A], recs[l.B])
		raw, err := mergeCall(run.ID+"-"+strconv.Itoa(i), g.ids[l.A], g.ids[l.B], r.cfg.ExternalIDs, now,
			kenner.MatchEvidence{Run: run.ID, How: "run " + run.ID, Weight: round(w), Threshold: res.MergeWeight, Fields: fieldsOf(ex)})
		if err != nil {
			res.Skipped[err.Error()]++
			res.Merged--
			continue
		}
		calls = append(calls, raw)
	}
	if err := r.appendCalls(ctx, ws, calls); err != nil {
		return nil, err
	}
	if len(reviews) > 0 {
		n, err := r.cfg.Store.AddMatchReviews(ctx, ws, reviews)
		if err != nil {
			return nil, err
		}
		res.ReviewsAdded = n
	}
	if r.cfg.Caught != nil {
		if err := r.cfg.Caught(ctx); err != nil {
			return nil, err
		}
	}
	lap("merge")
	return res, nil
}

func (r *Runner) appendCalls(ctx context.Context, ws string, calls [][]byte) error {
	src := &kenner.Source{ID: kenner.MatchSourceID, WorkspaceID: ws}
	for len(calls) > 0 {
		n := min(len(calls), 500)
		if err := r.cfg.Ingest.Accept(ctx, src, calls[:n]); err != nil {
			return fmt.Errorf("merging: %w", err)
		}
		calls = calls[n:]
	}
	return nil
}

// read reads the compared traits of every live profile, a page at a time.
// With times, whole profiles are read: a view of some fields has no update time.
func (r *Runner) read(ctx context.Context, ws string, fields []match.Field, times bool) ([]match.Record, []record, map[string]bool, error) {
	want := &kenner.ProfileFields{Traits: map[string]bool{}}
	for _, f := range fields {
		top, _, _ := strings.Cut(f.Name, ".")
		want.Traits[top] = true
	}
	if times {
		want = nil
	}
	var recs []match.Record
	var meta []record
	present := map[string]bool{}
	after := ""
	for {
		last, n, err := r.cfg.Store.ProfilePage(ctx, ws, after, 5000)
		if err != nil {
			return nil, nil, nil, err
		}
		if n == 0 {
			break
		}
		ps, err := r.cfg.Store.ScanProfiles(ctx, ws, after, last, want)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, pr := range ps {
			rec := match.Record{ID: pr.ID, Fields: map[string]string{}}
			for _, f := range fields {
				if v := traitText(pr.Traits, f.Name); v != "" {
					rec.Fields[f.Name] = v
					present[f.Name] = true
				}
			}
			if len(rec.Fields) == 0 {
				continue
			}
			recs = append(recs, rec)
			meta = append(meta, record{profileID: pr.ID, updated: pr.UpdatedAt})
		}
		after = last
		if err := ctx.Err(); err != nil {
			return nil, nil, nil, err
		}
	}
	return recs, meta, present, nil
}

// traitText is a trait's value as compared: a string or number, normalized, read through a
// dotted path into objects; "" when absent or of another type.
func traitText(traits map[string]kenner.Trait, path string) string {
	top, rest, nested := strings.Cut(path, ".")
	t, ok := traits[top]
	if !ok {
		return ""
	}
	raw := []byte(t.Value)
	for nested {
		var key string
		key, rest, nested = strings.Cut(rest, ".")
		obj, err := jsonobj.Parse(raw)
		if err != nil {
			return ""
		}
		if raw = obj.Get(key); raw == nil {
			return ""
		}
	}
	if s, ok := jsonobj.String(raw); ok {
		return match.Normalize(s)
	}
	if len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return string(raw)
	}
	return ""
}

func report(m *match.Model) ModelReport {
	out := ModelReport{Lambda: m.Lambda, Iterations: m.Iterations, Converged: m.Converged}
	for i, f := range m.Fields {
		fr := FieldReport{Name: f.Name, Kind: f.Kind, TF: f.TF}
		for l, name := range match.LevelNames(f.Kind) {
			fr.Levels = append(fr.Levels, LevelReport{Level: name, M: m.M[i][l], U: m.U[i][l], Weight: round(math.Log2(m.M[i][l] / m.U[i][l]))})
		}
		out.Fields = append(out.Fields, fr)
	}
	return out
}

// curve is the threshold curve at every whole weight the candidates span (at most 80
// points): for the pairs at or above it, the expected share of true matches and the expected
// share of all true matches among the candidates.
func curve(m *match.Model, links []match.Link) []CurvePoint {
	ws := make([]float64, len(links))
	var expected float64
	for i, l := range links {
		ws[i] = l.Weight
		expected += m.Probability(l.Weight)
	}
	slices.Sort(ws)
	lo, hi := math.Floor(ws[0]), math.Ceil(ws[len(ws)-1])
	step := math.Max(1, math.Ceil((hi-lo)/80))
	var out []CurvePoint
	i := len(ws)
	var sum float64
	for w := hi; w >= lo; w -= step {
		for i > 0 && ws[i-1] >= w {
			i--
			sum += m.Probability(ws[i])
		}
		n := len(ws) - i
		pt := CurvePoint{Weight: w, Probability: round4(m.Probability(w)), Pairs: n}
		if n > 0 {
			pt.Precision = round4(sum / float64(n))
		}
		if expected > 0 {
			pt.Recall = round4(sum / expected)
		}
		out = append(out, pt)
	}
	slices.Reverse(out)
	return out
}

func fieldsOf(ex []match.Explained) []kenner.MatchField {
	out := make([]kenner.MatchField, len(ex))
	for i, e := range ex {
		out[i] = kenner.MatchField{Field: e.Field, Level: e.Level, Contribution: round(e.Contribution)}
	}
	return out
}

func round(x float64) float64  { return math.Round(x*100) / 100 }
func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }
