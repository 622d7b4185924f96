package projection

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/analytics"
	"github.com/kenner-cdp/kenner/segment"
)

// errLoading answers a query while the projection is still reading the log.
func (p *Projection) ready() error {
	if p.cfg.Log == nil {
		return nil // fed by hand (tests, benchmarks)
	}
	if ok, share := p.Progress(); !ok {
		return kenner.Errorf(kenner.EUnavailable, "analytics is still reading the event history (%.0f%%); try again shortly", 100*share)
	}
	return nil
}

// clamp applies retention to a range.
func (p *Projection) clamp(from, to time.Time) (int64, int64) {
	if p.cfg.Retention > 0 {
		if floor := p.cfg.Now().Add(-p.cfg.Retention); from.Before(floor) {
			from = floor
		}
	}
	return from.UnixMilli(), to.UnixMilli()
}

// people groups the rows in [from, to) that keep accepts by person: rows[starts[k]:starts[k+1]]
// are person k's, in time order.
func (t *table) people(from, to int64, keep func(i int) bool) (rows []int32, starts []int32) {
	n := t.persons()
	counts := make([]int32, n+1)
	var picked []int32
	for i := range t.at {
		if t.at[i] < from || t.at[i] >= to || t.flags[i]&flagDeleted != 0 || !keep(i) {
			continue
		}
		k := t.person(i)
		if k < 0 {
			continue
		}
		counts[k+1]++
		picked = append(picked, int32(i))
	}
	for k := 1; k <= n; k++ {
		counts[k] += counts[k-1]
	}
	starts = slices.Clone(counts)
	rows = make([]int32, len(picked))
	for _, i := range picked {
		k := t.person(int(i))
		rows[counts[k]] = i
		counts[k]++
	}
	for k := range n {
		seg := rows[starts[k]:starts[k+1]]
		if len(seg) > 1 && !slices.IsSortedFunc(seg, func(a, b int32) int { return int(t.at[a] - t.at[b]) }) {
			// Nearly in order already: the log is in arrival order.
			slices.SortStableFunc(seg, func(a, b int32) int {
				switch {
				case t.at[a] < t.at[b]:
					return -1
				case t.at[a] > t.at[b]:
					return 1
				}
				return 0
			})
		}
	}
	return rows, starts
}

// firstTouches is each person's first touch ever (an index into touches, -1: none).
func (t *table) firstTouches() []int32 {
	first := make([]int32, t.persons())
	when := make([]int64, t.persons())
	for i := range first {
		first[i] = -1
	}
	for i := range t.at {
		if t.flags[i]&flagTouch == 0 || t.flags[i]&flagDeleted != 0 {
			continue
		}
		k := t.person(i)
		if k >= 0 && (first[k] < 0 || t.at[i] < when[k]) {
			first[k], when[k] = t.touch[i], t.at[i]
		}
	}
	return first
}

// Breakdowns of people by their first touch, or by an event's name; "segment" breaks people
// down by whether they are in a segment now (Segment in the query). Besides these, a dotted
// path into the event (properties.plan, context.campaign.name, traits.country) breaks events
// down by its value: their bodies are read from the store, so a trend names its event and a
// funnel is broken down by its first step's.
var Breakdowns = []string{"", "event", "first_touch_channel", "first_touch_source", "first_touch_medium", "first_touch_campaign", "segment"}

// propertyPrefixes are where a property breakdown's path may start.
var propertyPrefixes = []string{"properties.", "context.", "traits."}

func isProperty(by string) bool {
	for _, p := range propertyPrefixes {
		if strings.HasPrefix(by, p) && len(by) > len(p) {
			return true
		}
	}
	return false
}

// NoValue is the breakdown of events whose property is missing.
const NoValue = "(none)"

// Segment is a segment's members for a breakdown: its name and its members' profile ids.
type Segment struct {
	Name    string
	Members map[string]struct{}
}

// breakdown is a query's breakdown, ready for the rows.
type breakdown struct {
	by     string
	values map[int64]string // a property's value by the event's log place (property breakdowns)
	first  []int32          // first touches (first_touch_*)
	member map[int32]bool   // profile indexes in the segment (segment)
	in     string
	out    string
}

func (t *table) breakdown(by string, seg *Segment) (*breakdown, error) {
	b := &breakdown{by: by}
	switch {
	case by == "segment":
		if seg == nil {
			return nil, kenner.Errorf(kenner.EInvalid, "breakdown segment: name the segment (segment=<id>)")
		}
		b.member = map[int32]bool{}
		for id := range seg.Members {
			if k, ok := t.profiles.ids[id]; ok {
				b.member[k] = true
			}
		}
		b.in, b.out = seg.Name, "not in "+seg.Name
	case strings.HasPrefix(by, "first_touch_"):
		b.first = t.firstTouches()
	}
	return b, nil
}

func (t *table) breakdownOf(b *breakdown, person int64, row int) string {
	if b.values != nil {
		if v, ok := b.values[t.rank[row]]; ok {
			return v
		}
		return NoValue
	}
	switch b.by {
	case "event":
		return t.names.of[t.name[row]]
	case "":
		return ""
	case "segment":
		if person < int64(len(t.profiles.of)) && b.member[int32(person)] {
			return b.in
		}
		return b.out
	}
	f := b.first[person]
	if f < 0 {
		if b.by == "first_touch_channel" {
			return analytics.Direct // no campaign, ad or other site ever: they came direct
		}
		return "(none)"
	}
	tc := t.touches.of[f]
	switch b.by {
	case "first_touch_source":
		return tc.Key("source")
	case "first_touch_medium":
		return tc.Key("medium")
	case "first_touch_campaign":
		return tc.Key("campaign")
	}
	return tc.Channel
}

func checkBreakdown(by string) error {
	if !slices.Contains(Breakdowns, by) && !isProperty(by) {
		return kenner.Errorf(kenner.EInvalid, "breakdown: want event, first_touch_channel, first_touch_source, first_touch_medium, first_touch_campaign, segment, or a property (properties.plan, context.campaign.name), not %q", by)
	}
	return nil
}

// propertyValues reads the value at path of the events of name done in [from, to), from their
// bodies in the store, outside the projection's lock; keyed by the events' log place, which
// stays put whatever the table does meanwhile.
func (p *Projection) propertyValues(ctx context.Context, ws, name string, from, to int64, path string) (map[int64]string, error) {
	p.mu.RLock()
	var ranks []int64
	if t := p.tables[ws]; t != nil {
		if id, ok := t.names.ids[name]; ok {
			for i := range t.at {
				if t.name[i] == id && t.at[i] >= from && t.at[i] < to && t.flags[i]&flagDeleted == 0 {
					ranks = append(ranks, t.rank[i])
				}
			}
		}
	}
	p.mu.RUnlock()
	out := make(map[int64]string, len(ranks))
	const chunk = 5000
	for start := 0; start < len(ranks); start += chunk {
		part := ranks[start:min(start+chunk, len(ranks))]
		bodies, err := p.cfg.Identities.EventBodies(ctx, ws, part)
		if err != nil {
			return nil, err
		}
		for rank, body := range bodies {
			var doc map[string]any
			if json.Unmarshal(body, &doc) != nil {
				continue
			}
			if v := valueText(lookup(doc, path)); v != "" {
				out[rank] = v
			}
		}
	}
	return out, nil
}

// valueText writes a property's value as a breakdown's name.
func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return strings.TrimSpace(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TrendQuery is a trend: events (of one name, or all) measured per period.
type TrendQuery struct {
	Event     string
	Measure   string
	Interval  string
	From, To  time.Time
	Breakdown string
	Segment   *Segment // for the segment breakdown
	Location  *time.Location
}

// Trend answers a trend query.
func (p *Projection) Trend(ctx context.Context, ws string, q TrendQuery) ([]time.Time, []analytics.Series, error) {
	if err := p.ready(); err != nil {
		return nil, nil, err
	}
	if err := checkBreakdown(q.Breakdown); err != nil {
		return nil, nil, err
	}
	from, to := p.clamp(q.From, q.To)
	var values map[int64]string
	if isProperty(q.Breakdown) {
		if q.Event == "" {
			return nil, nil, kenner.Errorf(kenner.EInvalid, "breakdown %s: name the event (event=...): a property breakdown reads the bodies of the events counted", q.Breakdown)
		}
		var err error
		if values, err = p.propertyValues(ctx, ws, q.Event, from, to, q.Breakdown); err != nil {
			return nil, nil, err
		}
	}
	tr, err := analytics.NewTrend(q.Measure, q.Interval, q.Location, time.UnixMilli(from), q.To)
	if err != nil {
		return nil, nil, kenner.Errorf(kenner.EInvalid, "%v", err)
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	t := p.tables[ws]
	if t == nil {
		periods, series := tr.Result()
		return periods, series, nil
	}
	name, named := int32(-1), q.Event != ""
	if named {
		if id, ok := t.names.ids[q.Event]; ok {
			name = id
		}
	}
	bd, err := t.breakdown(q.Breakdown, q.Segment)
	if err != nil {
		return nil, nil, err
	}
	bd.values = values
	for i := range t.at {
		if t.at[i] < from || t.at[i] >= to || t.flags[i]&flagDeleted != 0 || named && t.name[i] != name {
			continue
		}
		k := t.person(i)
		if k < 0 {
			continue
		}
		tr.AddMillis(t.at[i], k, t.value[i], t.flags[i]&flagValue != 0, t.breakdownOf(bd, k, i))
	}
	periods, series := tr.Result()
	return periods, series, nil
}

// FunnelQuery is a funnel: steps by event name, done within the window of the first.
type FunnelQuery struct {
	Steps     []string
	Window    time.Duration
	Order     string
	From, To  time.Time // when the first step was done
	Breakdown string
	Segment   *Segment // for the segment breakdown
}

// Funnel answers a funnel query.
func (p *Projection) Funnel(ctx context.Context, ws string, q FunnelQuery) ([]analytics.FunnelResult, error) {
	if err := p.ready(); err != nil {
		return nil, err
	}
	if err := checkBreakdown(q.Breakdown); err != nil {
		return nil, err
	}
	var values map[int64]string
	if isProperty(q.Breakdown) && len(q.Steps) > 0 {
		// A funnel is broken down by its first step's event (the one that starts a person's
		// funnel), as product analytics tools do.
		from, to := p.clamp(q.From, q.To)
		var err error
		if values, err = p.propertyValues(ctx, ws, q.Steps[0], from, to, q.Breakdown); err != nil {
			return nil, err
		}
	}
	f, err := analytics.NewFunnel(len(q.Steps), q.Window, q.Order)
	if err != nil {
		return nil, kenner.Errorf(kenner.EInvalid, "%v", err)
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	t := p.tables[ws]
	if t == nil {
		return f.Result(), nil
	}
	masks := make([]uint32, len(t.names.of))
	for s, name := range q.Steps {
		if id, ok := t.names.ids[name]; ok {
			masks[id] |= 1 << s
		}
	}
	bd, err := t.breakdown(q.Breakdown, q.Segment)
	if err != nil {
		return nil, err
	}
	bd.values = values
	from, to := p.clamp(q.From, q.To)
	rows, starts := t.people(from, to+q.Window.Milliseconds(), func(i int) bool { return masks[t.name[i]] != 0 })
	var hits []analytics.StepHit
	for k := 0; k+1 < len(starts); k++ {
		seg := rows[starts[k]:starts[k+1]]
		if len(seg) == 0 {
			continue
		}
		hits = hits[:0]
		for _, i := range seg {
			m := masks[t.name[i]]
			if t.at[i] >= to {
				m &^= 1 // a first step after the range starts nothing
			}
			hits = append(hits, analytics.StepHit{At: time.UnixMilli(t.at[i]), Steps: m, Breakdown: t.breakdownOf(bd, int64(k), int(i))})
		}
		f.Add(hits)
	}
	return f.Result(), nil
}

// RetentionQuery is a retention table: people by the period of their first start event (in
// the range), and who did the returning event in each period after.
type RetentionQuery struct {
	Start, Return string // event names; "" any event
	Period        string
	Periods       int
	From, To      time.Time
	Location      *time.Location
}

// Retention answers a retention query.
func (p *Projection) Retention(ws string, q RetentionQuery) ([]analytics.Cohort, error) {
	if err := p.ready(); err != nil {
		return nil, err
	}
	r, err := analytics.NewRetention(q.Period, q.Periods, q.Location)
	if err != nil {
		return nil, kenner.Errorf(kenner.EInvalid, "%v", err)
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	t := p.tables[ws]
	if t == nil {
		return r.Result(), nil
	}
	match := func(event string) func(int) bool {
		if event == "" {
			return func(int) bool { return true }
		}
		id, ok := t.names.ids[event]
		return func(i int) bool { return ok && t.name[i] == id }
	}
	isStart, isReturn := match(q.Start), match(q.Return)
	from, to := p.clamp(time.Time{}, time.Now().AddDate(100, 0, 0))
	rows, starts := t.people(from, to, func(i int) bool { return isStart(i) || isReturn(i) })
	var returns []time.Time
	for k := 0; k+1 < len(starts); k++ {
		seg := rows[starts[k]:starts[k+1]]
		var first time.Time
		returns = returns[:0]
		for _, i := range seg {
			at := time.UnixMilli(t.at[i])
			if first.IsZero() && isStart(int(i)) {
				first = at
				continue
			}
			if !first.IsZero() && isReturn(int(i)) {
				returns = append(returns, at)
			}
		}
		if first.IsZero() || first.Before(q.From) || !first.Before(q.To) {
			continue
		}
		r.Add(first, returns)
	}
	return r.Result(), nil
}

// AttributionQuery credits the conversions (events of one name, worth their value) done in
// the range to the touches before them.
type AttributionQuery struct {
	Conversion string
	From, To   time.Time
	// Rates convert each conversion's value from its properties.currency to the report's
	// currency (nil: values are added as they are).
	Rates *kenner.CurrencyRates
	// Where keeps only the conversion events it holds for (CEL over the event, e); Revenue
	// and Currency name the properties holding a conversion's value and currency (default:
	// properties.revenue, value or total, and properties.currency). With any of them, the
	// conversions' bodies are read from the store.
	Where, Revenue, Currency string
	// PersonValue, when set, gives the predicted lifetime value of converting people by
	// profile id (their value is shared among their conversions in the range and credited
	// like revenue: the campaigns' CLV-based return). It is called outside the projection's
	// lock.
	PersonValue func(ctx context.Context, profileIDs []string) (map[string]float64, error)
	analytics.Options
}

// conversionValue is a conversion event's value as a filtered conversion reads it.
type conversionValue struct {
	value    float64
	currency string
}

// filterConversions reads the bodies of the conversion events in the range and keeps those
// the query's filter holds for, with their value: outside the projection's lock.
func (p *Projection) filterConversions(ctx context.Context, ws string, q AttributionQuery) (map[int32]conversionValue, error) {
	var filter *segment.EventFilter
	if q.Where != "" {
		f, err := segment.CompileEventFilter(q.Where, 0)
		if err != nil {
			return nil, kenner.Errorf(kenner.EInvalid, "where: %v", err)
		}
		filter = f
	}
	p.mu.RLock()
	t := p.tables[ws]
	var rows []int32
	var ranks []int64
	if t != nil {
		if conv, ok := t.names.ids[q.Conversion]; ok {
			from, to := p.clamp(q.From, q.To)
			for i := range t.at {
				if t.name[i] == conv && t.at[i] >= from && t.at[i] < to && t.flags[i]&flagDeleted == 0 {
					rows = append(rows, int32(i))
					ranks = append(ranks, t.rank[i])
				}
			}
		}
	}
	p.mu.RUnlock()
	bodies, err := p.cfg.Identities.EventBodies(ctx, ws, ranks)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]conversionValue, len(rows))
	for i, row := range rows {
		body, ok := bodies[ranks[i]]
		if !ok {
			continue // erased or no longer retained
		}
		var doc map[string]any
		if json.Unmarshal(body, &doc) != nil {
			continue
		}
		if filter != nil && !filter.Match(doc) {
			continue
		}
		var v conversionValue
		if q.Revenue != "" {
			v.value, _ = number(lookup(doc, q.Revenue))
		} else {
			for _, k := range []string{"properties.revenue", "properties.value", "properties.total"} {
				if x, ok := number(lookup(doc, k)); ok {
					v.value = x
					break
				}
			}
		}
		cur := q.Currency
		if cur == "" {
			cur = "properties.currency"
		}
		if c, ok := lookup(doc, cur).(string); ok {
			v.currency = strings.ToUpper(strings.TrimSpace(c))
		}
		out[row] = v
	}
	return out, nil
}

// convertersValue asks PersonValue about the people who converted in the range: their profile
// ids are read under the lock, the values outside it.
func (p *Projection) convertersValue(ctx context.Context, ws string, q AttributionQuery) (map[string]float64, error) {
	p.mu.RLock()
	var ids []string
	if t := p.tables[ws]; t != nil {
		if conv, ok := t.names.ids[q.Conversion]; ok {
			from, to := p.clamp(q.From, q.To)
			seen := map[int64]bool{}
			for i := range t.at {
				if t.name[i] != conv || t.at[i] < from || t.at[i] >= to || t.flags[i]&flagDeleted != 0 {
					continue
				}
				if k := t.person(i); k >= 0 && !seen[k] && k < int64(len(t.profiles.of)) {
					seen[k] = true
					ids = append(ids, t.profiles.of[k])
				}
			}
		}
	}
	p.mu.RUnlock()
	if len(ids) == 0 {
		return map[string]float64{}, nil
	}
	return q.PersonValue(ctx, ids)
}

// lookup reads a dotted path in a decoded JSON document.
func lookup(doc map[string]any, path string) any {
	var cur any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

// Attribution answers an attribution query.
func (p *Projection) Attribution(ctx context.Context, ws string, q AttributionQuery) (*analytics.Report, error) {
	if err := p.ready(); err != nil {
		return nil, err
	}
	if q.Conversion == "" {
		return nil, kenner.Errorf(kenner.EInvalid, "conversion: name the event that is a conversion")
	}
	a, err := analytics.NewAttributor(q.Options)
	if err != nil {
		return nil, kenner.Errorf(kenner.EInvalid, "%v", err)
	}
	var filtered map[int32]conversionValue
	if q.Where != "" || q.Revenue != "" || q.Currency != "" {
		if filtered, err = p.filterConversions(ctx, ws, q); err != nil {
			return nil, err
		}
	}
	var values map[string]float64
	if q.PersonValue != nil {
		if values, err = p.convertersValue(ctx, ws, q); err != nil {
			return nil, err
		}
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	t := p.tables[ws]
	if t == nil {
		return a.Report(), nil
	}
	conv, ok := t.names.ids[q.Conversion]
	if !ok {
		conv = -1
	}
	lookback := q.Lookback
	if lookback == 0 {
		lookback = 30 * 24 * time.Hour
	}
	from, to := p.clamp(q.From.Add(-lookback), q.To)
	convFrom := q.From.UnixMilli()
	rows, starts := t.people(from, to, func(i int) bool { return t.flags[i]&(flagView|flagTouch) != 0 || t.name[i] == conv })
	var hits []analytics.Hit
	var j analytics.Journey
	missing := map[string]bool{}
	for k := 0; k+1 < len(starts); k++ {
		seg := rows[starts[k]:starts[k+1]]
		if len(seg) == 0 {
			continue
		}
		hits, j.Conversions = hits[:0], j.Conversions[:0]
		for _, i := range seg {
			if t.name[i] == conv {
				if t.at[i] >= convFrom {
					value, currency := t.value[i], t.curOf[t.cur[i]]
					if filtered != nil {
						fv, kept := filtered[i]
						if !kept {
							continue
						}
						value, currency = fv.value, fv.currency
					}
					v, ok := q.Rates.Convert(value, currency)
					if !ok {
						missing[currency] = true
					}
					j.Conversions = append(j.Conversions, analytics.Conversion{At: time.UnixMilli(t.at[i]), Revenue: v})
				}
				continue
			}
			h := analytics.Hit{At: time.UnixMilli(t.at[i]), View: t.flags[i]&flagView != 0}
			if t.flags[i]&flagTouch != 0 {
				h.Touch, h.HasTouch = t.touches.of[t.touch[i]], true
			}
			hits = append(hits, h)
		}
		if values != nil && len(j.Conversions) > 0 && k < len(t.profiles.of) {
			share := values[t.profiles.of[k]] / float64(len(j.Conversions))
			for c := range j.Conversions {
				j.Conversions[c].Value = share
			}
		}
		// A person who did not convert still makes a path: the data-driven model needs those.
		j.Touches = analytics.AppendTouches(j.Touches[:0], hits, p.cfg.Rules, 0)
		if len(j.Conversions) > 0 || len(j.Touches) > 0 {
			a.Add(j)
		}
	}
	if len(missing) > 0 {
		var cs []string
		for c := range missing {
			cs = append(cs, c)
		}
		slices.Sort(cs)
		return nil, kenner.Errorf(kenner.EInvalid, "the currency rates have no rate for %s: add it (PUT /v1/currency-rates)", strings.Join(cs, ", "))
	}
	return a.Report(), nil
}

func (q TrendQuery) String() string {
	return fmt.Sprintf("%s %s by %s", q.Measure, q.Event, q.Interval)
}
