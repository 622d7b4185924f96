package server

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/analytics"
	"github.com/kenner-cdp/kenner/analytics/projection"
	"github.com/kenner-cdp/kenner/web"
)

// Analytics answers analytics queries (projection.Projection).
type Analytics interface {
	Trend(ctx context.Context, ws string, q projection.TrendQuery) ([]time.Time, []analytics.Series, error)
	Funnel(ctx context.Context, ws string, q projection.FunnelQuery) ([]analytics.FunnelResult, error)
	Retention(ws string, q projection.RetentionQuery) ([]analytics.Cohort, error)
	Attribution(ctx context.Context, ws string, q projection.AttributionQuery) (*analytics.Report, error)
}

func (s *Server) analytics() (Analytics, error) {
	if s.deps.Analytics == nil {
		return nil, kenner.Errorf(kenner.EUnavailable, "analytics is not running on this node")
	}
	return s.deps.Analytics, nil
}

// analyticsReq is what every analytics request starts from: the engine, its query and range.
type analyticsReq struct {
	a        Analytics
	q        url.Values
	from, to time.Time
	loc      *time.Location
}

func (s *Server) analyticsRequest(r *http.Request) (analyticsReq, error) {
	a, err := s.analytics()
	if err != nil {
		return analyticsReq{}, err
	}
	q := r.URL.Query()
	from, to, loc, err := analyticsRange(q, time.Now())
	return analyticsReq{a: a, q: q, from: from, to: to, loc: loc}, err
}

// attributionQuery reads a conversion's settings: its event (default Order Completed), the
// lookback and time decay's half-life.
func attributionQuery(q url.Values, from, to time.Time) (projection.AttributionQuery, error) {
	aq := projection.AttributionQuery{Conversion: q.Get("conversion"), From: from, To: to, Where: q.Get("where"), Revenue: q.Get("revenue"), Currency: q.Get("currency")}
	if aq.Conversion == "" {
		aq.Conversion = kenner.DefaultOrderEvent
	}
	var err error
	if aq.Lookback, err = durationParam(q, "lookback", 30*24*time.Hour); err != nil {
		return aq, err
	}
	aq.HalfLife, err = durationParam(q, "half_life", 7*24*time.Hour)
	return aq, err
}

// analyticsRange reads from, to (dates or times; default the last 30 days up to now) and tz.
func analyticsRange(q url.Values, now time.Time) (from, to time.Time, loc *time.Location, err error) {
	loc = time.UTC
	if tz := q.Get("tz"); tz != "" {
		if loc, err = time.LoadLocation(tz); err != nil {
			return from, to, nil, kenner.Errorf(kenner.EInvalid, "tz: %q is not a time zone (Europe/Berlin, America/New_York)", tz)
		}
	}
	parse := func(name string, def time.Time, endOfDay bool) (time.Time, error) {
		v := q.Get(name)
		if v == "" {
			return def, nil
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t, nil
		}
		d, err := time.ParseInLocation(time.DateOnly, v, loc)
		if err != nil {
			return time.Time{}, kenner.Errorf(kenner.EInvalid, "%s: want a date (2026-03-01) or a time (2026-03-01T00:00:00Z), not %q", name, v)
		}
		if endOfDay {
			d = d.AddDate(0, 0, 1) // to a date includes that day
		}
		return d, nil
	}
	if to, err = parse("to", now, true); err != nil {
		return
	}
	if from, err = parse("from", to.AddDate(0, 0, -30), false); err != nil {
		return
	}
	if !from.Before(to) {
		err = kenner.Errorf(kenner.EInvalid, "from must be before to")
	}
	if to.Sub(from) > 5*366*24*time.Hour {
		err = kenner.Errorf(kenner.EInvalid, "the range is at most 5 years")
	}
	return
}

func durationParam(q url.Values, name string, def time.Duration) (time.Duration, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	d, err := kenner.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, kenner.Errorf(kenner.EInvalid, "%s: want a duration like 7d or 12h, not %q", name, v)
	}
	return d, nil
}

// writeTable answers rows as CSV (format=csv or Accept: text/csv).
func writeTable(w http.ResponseWriter, name string, header []string, rows [][]string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	cw := csv.NewWriter(w)
	cw.Write(header)
	cw.WriteAll(rows)
}

// segmentOf reads the segment a segment breakdown names (segment=<id>): its name and members.
func (s *Server) segmentOf(r *http.Request, ws string) (*projection.Segment, error) {
	q := r.URL.Query()
	if q.Get("breakdown") != "segment" {
		return nil, nil
	}
	id := q.Get("segment")
	if id == "" {
		return nil, kenner.Errorf(kenner.EInvalid, "segment: name the segment to break down by (its id)")
	}
	seg, err := s.deps.Store.Segment(r.Context(), ws, id)
	if err != nil {
		return nil, err
	}
	out := &projection.Segment{Name: seg.Name, Members: map[string]struct{}{}}
	for after := ""; ; {
		ms, next, err := s.deps.Store.SegmentMembers(r.Context(), ws, id, after, 10000)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			out.Members[m.ProfileID] = struct{}{}
		}
		if next == "" || len(ms) == 0 {
			return out, nil
		}
		after = next
	}
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func (s *Server) analyticsTrend(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	ar, err := s.analyticsRequest(r)
	if err != nil {
		return err
	}
	a, q, from, to, loc := ar.a, ar.q, ar.from, ar.to, ar.loc
	seg, err := s.segmentOf(r, tok.WorkspaceID)
	if err != nil {
		return err
	}
	tq := projection.TrendQuery{Event: q.Get("event"), Measure: q.Get("measure"), Interval: q.Get("interval"), From: from, To: to,
		Breakdown: q.Get("breakdown"), Segment: seg, Location: loc}
	if tq.Measure == "" {
		tq.Measure = analytics.Count
	}
	if tq.Interval == "" {
		tq.Interval = analytics.Day
	}
	periods, series, err := a.Trend(r.Context(), tok.WorkspaceID, tq)
	if err != nil {
		return err
	}
	out := map[string]any{"periods": periods, "series": nonNil(series), "from": from, "to": to}
	if q.Get("compare") == "true" {
		// The period before, as long as this one, for a comparison.
		prev := tq
		prev.From, prev.To = from.Add(-to.Sub(from)), from
		pp, ps, err := a.Trend(r.Context(), tok.WorkspaceID, prev)
		if err != nil {
			return err
		}
		out["previous"] = map[string]any{"periods": pp, "series": nonNil(ps), "from": prev.From, "to": prev.To}
	}
	if wantsCSV(r) {
		header := []string{"period"}
		for _, sr := range series {
			header = append(header, breakdownName(sr.Breakdown))
		}
		var rows [][]string
		for i, p := range periods {
			row := []string{p.Format(time.DateOnly)}
			for _, sr := range series {
				row = append(row, num(sr.Values[i]))
			}
			rows = append(rows, row)
		}
		writeTable(w, "trend", header, rows)
		return nil
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

func breakdownName(b string) string {
	if b == "" {
		return "value"
	}
	return b
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

func (s *Server) analyticsFunnel(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	ar, err := s.analyticsRequest(r)
	if err != nil {
		return err
	}
	a, q, from, to := ar.a, ar.q, ar.from, ar.to
	window, err := durationParam(q, "window", 7*24*time.Hour)
	if err != nil {
		return err
	}
	steps := q["step"]
	if len(steps) == 0 {
		return kenner.Errorf(kenner.EInvalid, "step: give the funnel's steps in order, one step= each (an event name, or $page)")
	}
	seg, err := s.segmentOf(r, tok.WorkspaceID)
	if err != nil {
		return err
	}
	res, err := a.Funnel(r.Context(), tok.WorkspaceID, projection.FunnelQuery{Steps: steps, Window: window, Order: q.Get("order"), From: from, To: to, Breakdown: q.Get("breakdown"), Segment: seg})
	if err != nil {
		return err
	}
	if wantsCSV(r) {
		var rows [][]string
		for _, fr := range res {
			for _, st := range fr.Steps {
				rows = append(rows, []string{breakdownName(fr.Breakdown), strconv.Itoa(st.Step + 1), steps[st.Step], strconv.Itoa(st.People),
					num(st.FromPrevious), num(st.FromStart), strconv.Itoa(st.DroppedOff), num(st.MedianFromPrev)})
			}
		}
		writeTable(w, "funnel", []string{"breakdown", "step", "event", "people", "conversion_from_previous", "conversion_from_start", "dropped_off", "median_seconds_from_previous"}, rows)
		return nil
	}
	web.JSON(w, http.StatusOK, map[string]any{"steps": steps, "results": res, "from": from, "to": to, "window_seconds": window.Seconds()})
	return nil
}

func (s *Server) analyticsRetention(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	ar, err := s.analyticsRequest(r)
	if err != nil {
		return err
	}
	a, q, from, to, loc := ar.a, ar.q, ar.from, ar.to, ar.loc
	periods := 8
	if v := q.Get("periods"); v != "" {
		if periods, err = strconv.Atoi(v); err != nil {
			return kenner.Errorf(kenner.EInvalid, "periods: %q is not a number", v)
		}
	}
	period := q.Get("period")
	if period == "" {
		period = analytics.Week
	}
	cohorts, err := a.Retention(tok.WorkspaceID, projection.RetentionQuery{Start: q.Get("start"), Return: q.Get("return"), Period: period, Periods: periods,
		From: from, To: to, Location: loc})
	if err != nil {
		return err
	}
	if wantsCSV(r) {
		header := []string{"cohort", "people"}
		for k := 1; k <= periods; k++ {
			header = append(header, fmt.Sprintf("%s_%d", period, k))
		}
		var rows [][]string
		for _, c := range cohorts {
			row := []string{c.Start.Format(time.DateOnly), strconv.Itoa(c.People)}
			for _, n := range c.Returned {
				row = append(row, strconv.Itoa(n))
			}
			rows = append(rows, row)
		}
		writeTable(w, "retention", header, rows)
		return nil
	}
	web.JSON(w, http.StatusOK, map[string]any{"cohorts": nonNil(cohorts), "period": period, "from": from, "to": to})
	return nil
}

func (s *Server) analyticsAttribution(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	ar, err := s.analyticsRequest(r)
	if err != nil {
		return err
	}
	a, q, from, to := ar.a, ar.q, ar.from, ar.to
	aq, err := attributionQuery(q, from, to)
	if err != nil {
		return err
	}
	aq.By = q.Get("by")
	rep, err := a.Attribution(r.Context(), tok.WorkspaceID, aq)
	if err != nil {
		return err
	}
	models := analytics.Models
	if m := q.Get("model"); m != "" {
		if !slices.Contains(models, m) {
			return kenner.Errorf(kenner.EInvalid, "model: want one of %s, not %q", strings.Join(models, ", "), m)
		}
		models = []string{m}
	}
	if wantsCSV(r) {
		var rows [][]string
		for _, m := range models {
			for _, c := range rep.Models[m] {
				rows = append(rows, []string{m, c.Key, num(c.Conversions), num(c.Revenue)})
			}
		}
		writeTable(w, "attribution", []string{"model", "key", "conversions", "revenue"}, rows)
		return nil
	}
	out := map[string]any{"conversion": aq.Conversion, "from": from, "to": to, "lookback_seconds": aq.Lookback.Seconds(),
		"conversions": rep.Conversions, "revenue": rep.Revenue, "unattributed": rep.Unattributed, "removal_effects": rep.RemovalEffects}
	byModel := map[string][]analytics.Credit{}
	for _, m := range models {
		byModel[m] = nonNil(rep.Models[m])
	}
	out["models"] = byModel
	web.JSON(w, http.StatusOK, out)
	return nil
}
