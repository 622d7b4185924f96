package analytics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Attribution models.
const (
	FirstTouch    = "first_touch"
	LastTouch     = "last_touch"
	LastNonDirect = "last_non_direct"
	Linear        = "linear"
	TimeDecay     = "time_decay"
	Position      = "position_based"
	DataDriven    = "data_driven"
)

// Models lists the attribution models in the order reports show them.
var Models = []string{FirstTouch, LastTouch, LastNonDirect, Linear, TimeDecay, Position, DataDriven}

// Conversion is one conversion of a person: when, and what it was worth (in the report's
// currency).
type Conversion struct {
	At      time.Time `json:"at"`
	Revenue float64   `json:"revenue"`
	// Value is the part of the person's predicted lifetime value this conversion carries (their
	// value shared among their conversions in the range), credited like the revenue.
	Value float64 `json:"value,omitempty"`
}

// Journey is one person's touches and conversions across all their devices, each in time order.
type Journey struct {
	Person      string
	Touches     []Touch
	Conversions []Conversion
}

// Options are an attribution's settings.
type Options struct {
	// Lookback is how far before a conversion a touch still counts (default 30 days).
	Lookback time.Duration
	// HalfLife is time decay's: a touch this long before the conversion counts half as much as
	// one at the moment of it (default 7 days).
	HalfLife time.Duration
	// By is what credit is reported by: channel (default), source, medium, campaign,
	// source_medium, or campaign_full ("source / medium / campaign", lowercased: how spend is
	// keyed).
	By string
}

// Credit is what one key (a channel, a campaign) earned under a model: its share of the
// conversions and of their revenue.
type Credit struct {
	Key         string  `json:"key"`
	Conversions float64 `json:"conversions"`
	Revenue     float64 `json:"revenue"`
	// Value is the predicted lifetime value of the customers credited (when asked for).
	Value float64 `json:"value,omitempty"`
}

// Report is an attribution: per model, the credit of each key, most conversions first.
type Report struct {
	Conversions  int                 `json:"conversions"`
	Revenue      float64             `json:"revenue"`
	Value        float64             `json:"value,omitempty"`
	Unattributed int                 `json:"unattributed"` // conversions with no touch in the lookback (credited to Direct)
	Models       map[string][]Credit `json:"models"`
	// RemovalEffects are the data-driven model's: per channel, the share of conversions lost
	// when the channel is taken out of every path.
	RemovalEffects map[string]float64 `json:"removal_effects"`
}

func (o *Options) defaults() error {
	if o.Lookback == 0 {
		o.Lookback = 30 * 24 * time.Hour
	}
	if o.HalfLife == 0 {
		o.HalfLife = 7 * 24 * time.Hour
	}
	if o.By == "" {
		o.By = "channel"
	}
	if o.Lookback < 0 || o.HalfLife < 0 {
		return fmt.Errorf("lookback and half-life must be positive")
	}
	if !slices.Contains([]string{"channel", "source", "medium", "campaign", "source_medium", "campaign_full"}, o.By) {
		return fmt.Errorf("by: want channel, source, medium, campaign or source_medium, not %q", o.By)
	}
	return nil
}

// Key is what a touch is reported under.
func (t Touch) Key(by string) string {
	orNone := func(s string) string {
		if s == "" {
			return "(none)"
		}
		return s
	}
	switch by {
	case "source":
		if t.Source == "" && t.Referrer != "" {
			return t.Referrer
		}
		return orNone(t.Source)
	case "medium":
		return orNone(t.Medium)
	case "campaign":
		return orNone(t.Campaign)
	case "source_medium":
		src := t.Source
		if src == "" {
			src = t.Referrer
		}
		return orNone(src) + " / " + orNone(t.Medium)
	case "campaign_full":
		return CampaignKey(t.Source, t.Medium, t.Campaign)
	}
	return t.Channel
}

// CampaignKey joins touches and spend: "source / medium / campaign", lowercased ("(none)"
// for a part not given).
func CampaignKey(source, medium, campaign string) string {
	part := func(s string) string {
		if s = strings.ToLower(strings.TrimSpace(s)); s == "" {
			return "(none)"
		}
		return s
	}
	return part(source) + " / " + part(medium) + " / " + part(campaign)
}

// window returns the touches of a journey in a conversion's lookback: at or before it, and
// no more than the lookback before.
func window(ts []Touch, c Conversion, lookback time.Duration) []Touch {
	from := c.At.Add(-lookback)
	lo := sort.Search(len(ts), func(i int) bool { return !ts[i].At.Before(from) })
	hi := sort.Search(len(ts), func(i int) bool { return ts[i].At.After(c.At) })
	if lo > hi {
		return nil
	}
	return ts[lo:hi]
}

// weights returns each touch's share of one conversion under a rule-based model.
func weights(w []float64, model string, ts []Touch, c Conversion, halfLife time.Duration) []float64 {
	n := len(ts)
	for range n {
		w = append(w, 0)
	}
	switch model {
	case FirstTouch:
		w[0] = 1
	case LastTouch:
		w[n-1] = 1
	case LastNonDirect:
		i := n - 1
		for j := n - 1; j >= 0; j-- {
			if ts[j].Channel != Direct {
				i = j
				break
			}
		}
		w[i] = 1
	case Linear:
		for i := range w {
			w[i] = 1 / float64(n)
		}
	case TimeDecay:
		var sum float64
		for i, t := range ts {
			w[i] = math.Exp2(-float64(c.At.Sub(t.At)) / float64(halfLife))
			sum += w[i]
		}
		for i := range w {
			w[i] /= sum
		}
	case Position:
		switch n {
		case 1:
			w[0] = 1
		case 2:
			w[0], w[1] = 0.5, 0.5
		default:
			w[0], w[n-1] = 0.4, 0.4
			for i := 1; i < n-1; i++ {
				w[i] = 0.2 / float64(n-2)
			}
		}
	}
	return w
}

// Attributor credits conversions journey by journey: Add each, then Report. It keeps what
// the data-driven model needs of the converting paths (each touch's key and channel), not
// the journeys.
type Attributor struct {
	o         Options
	rep       *Report
	sums      map[string]map[string]*Credit
	chain     *markov
	converted []convertedPath
	w         []float64
}

// convertedPath is a conversion and its touches, for the data-driven model's second pass.
type convertedPath struct {
	keys, channels []string
	revenue, value float64
}

// NewAttributor checks the options.
func NewAttributor(o Options) (*Attributor, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	a := &Attributor{o: o, rep: &Report{Models: map[string][]Credit{}}, sums: map[string]map[string]*Credit{}, chain: newMarkov()}
	for _, m := range Models {
		a.sums[m] = map[string]*Credit{}
	}
	return a, nil
}

func (a *Attributor) add(model, key string, share float64, c Conversion) {
	cr := a.sums[model][key]
	if cr == nil {
		cr = &Credit{Key: key}
		a.sums[model][key] = cr
	}
	cr.Conversions += share
	cr.Revenue += share * c.Revenue
	cr.Value += share * c.Value
}

// Add credits a journey's conversions (its slices may be reused once Add returns). A
// conversion with no touch in its lookback is credited to Direct under every model.
func (a *Attributor) Add(j Journey) {
	last := 0 // touches before this index were on a converting path already
	for _, c := range j.Conversions {
		a.rep.Conversions++
		a.rep.Revenue += c.Revenue
		a.rep.Value += c.Value
		ts := window(j.Touches, c, a.o.Lookback)
		if len(ts) == 0 {
			a.rep.Unattributed++
			for _, m := range Models {
				a.add(m, Touch{Channel: Direct}.Key(a.o.By), 1, c)
			}
			a.chain.path(nil, true)
			continue
		}
		for _, m := range Models[:len(Models)-1] {
			a.w = weights(a.w[:0], m, ts, c, a.o.HalfLife)
			for i, w := range a.w {
				if w > 0 {
					a.add(m, ts[i].Key(a.o.By), w, c)
				}
			}
		}
		a.chain.path(ts, true)
		p := convertedPath{keys: make([]string, len(ts)), channels: make([]string, len(ts)), revenue: c.Revenue, value: c.Value}
		for i, t := range ts {
			p.keys[i], p.channels[i] = t.Key(a.o.By), t.Channel
		}
		a.converted = append(a.converted, p)
		for last < len(j.Touches) && !j.Touches[last].At.After(c.At) {
			last++
		}
	}
	if last < len(j.Touches) {
		a.chain.path(j.Touches[last:], false)
	}
}

// Report finishes the data-driven model and returns the credit of every model.
func (a *Attributor) Report() *Report {
	rep := a.rep
	rep.RemovalEffects = a.chain.removalEffects()
	channels := map[string]int{}
	for _, p := range a.converted {
		// Each conversion is shared among the channels of its path by their removal effects,
		// and a channel's part among its touches equally.
		clear(channels)
		for _, ch := range p.channels {
			channels[ch]++
		}
		var total float64
		for ch := range channels {
			total += rep.RemovalEffects[ch]
		}
		for i, ch := range p.channels {
			share := 1 / float64(len(channels)) / float64(channels[ch]) // no effect anywhere: equal parts
			if total > 0 {
				share = rep.RemovalEffects[ch] / total / float64(channels[ch])
			}
			if share > 0 {
				a.add(DataDriven, p.keys[i], share, Conversion{Revenue: p.revenue, Value: p.value})
			}
		}
	}
	for _, m := range Models {
		out := make([]Credit, 0, len(a.sums[m]))
		for _, c := range a.sums[m] {
			out = append(out, *c)
		}
		slices.SortFunc(out, func(x, y Credit) int {
			return cmp.Or(cmp.Compare(y.Conversions, x.Conversions), cmp.Compare(x.Key, y.Key))
		})
		rep.Models[m] = out
	}
	return rep
}

// Attribute credits every conversion of the journeys to the touches in its lookback under
// every model.
func Attribute(journeys []Journey, o Options) (*Report, error) {
	a, err := NewAttributor(o)
	if err != nil {
		return nil, err
	}
	for _, j := range journeys {
		a.Add(j)
	}
	return a.Report(), nil
}
