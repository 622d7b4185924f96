package analytics

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// Funnel orders.
const (
	// Ordered: the steps in order, other events allowed between them.
	Ordered = "ordered"
	// Strict: the steps in order, one right after the other.
	Strict = "strict"
	// AnyOrder: every step, in any order.
	AnyOrder = "any"
)

// MaxSteps bounds a funnel's steps.
const MaxSteps = 20

// StepHit is one event of a person for a funnel: when, which steps it satisfies (bit i: step
// i), and the value it is broken down by.
type StepHit struct {
	At        time.Time
	Steps     uint32
	Breakdown string
}

// Funnel counts people through steps within a window. Add each person's hits in time order,
// then read Result.
type Funnel struct {
	steps  int
	window time.Duration
	order  string
	groups map[string]*funnelGroup
}

type funnelGroup struct {
	reached []int             // people who reached step i
	between [][]time.Duration // per step i > 0: the times from step i-1
	total   []time.Duration   // the times from the first step to the last
}

// NewFunnel checks a funnel's definition.
func NewFunnel(steps int, window time.Duration, order string) (*Funnel, error) {
	if steps < 2 || steps > MaxSteps {
		return nil, fmt.Errorf("a funnel has 2 to %d steps, not %d", MaxSteps, steps)
	}
	if window <= 0 {
		return nil, fmt.Errorf("the conversion window must be positive")
	}
	if order == "" {
		order = Ordered
	}
	if !slices.Contains([]string{Ordered, Strict, AnyOrder}, order) {
		return nil, fmt.Errorf("order: want ordered, strict or any, not %q", order)
	}
	return &Funnel{steps: steps, window: window, order: order, groups: map[string]*funnelGroup{}}, nil
}

// Add counts one person: their furthest progress through the funnel from any start, and the
// times it took (the earliest attempt among those that got furthest). Their breakdown value is
// that of the event that started it.
func (f *Funnel) Add(hits []StepHit) {
	best, bestTimes, bestValue := 0, []time.Time(nil), ""
	for s := range hits {
		var n int
		var times []time.Time
		switch f.order {
		case AnyOrder:
			if hits[s].Steps == 0 {
				continue
			}
			n, times = f.anyFrom(hits, s)
		default:
			if hits[s].Steps&1 == 0 {
				continue
			}
			n, times = f.orderedFrom(hits, s)
		}
		if n > best {
			best, bestTimes, bestValue = n, times, hits[s].Breakdown
		}
		if best == f.steps {
			break
		}
	}
	if best == 0 {
		return
	}
	g := f.groups[bestValue]
	if g == nil {
		g = &funnelGroup{reached: make([]int, f.steps), between: make([][]time.Duration, f.steps)}
		f.groups[bestValue] = g
	}
	for i := range best {
		g.reached[i]++
		if i > 0 {
			g.between[i] = append(g.between[i], bestTimes[i].Sub(bestTimes[i-1]))
		}
	}
	if best == f.steps {
		g.total = append(g.total, bestTimes[best-1].Sub(bestTimes[0]))
	}
}

// orderedFrom follows the steps in order from hit s (which is step 0): each next step is the
// earliest hit after the previous one, within the window of the start; strict funnels stop at
// the first hit that is not the next step.
func (f *Funnel) orderedFrom(hits []StepHit, s int) (int, []time.Time) {
	times := []time.Time{hits[s].At}
	start := hits[s].At
	for j := s + 1; j < len(hits) && len(times) < f.steps; j++ {
		if hits[j].At.Sub(start) > f.window {
			break
		}
		if hits[j].Steps&(1<<len(times)) != 0 {
			times = append(times, hits[j].At)
		} else if f.order == Strict {
			break
		}
	}
	return len(times), times
}

// anyFrom counts the distinct steps done within the window from hit s, each hit doing the
// first step it satisfies that is not done yet.
func (f *Funnel) anyFrom(hits []StepHit, s int) (int, []time.Time) {
	var done uint32
	var times []time.Time
	start := hits[s].At
	for j := s; j < len(hits) && len(times) < f.steps; j++ {
		if hits[j].At.Sub(start) > f.window {
			break
		}
		if open := hits[j].Steps &^ done; open != 0 {
			done |= open & -open // the lowest step still open
			times = append(times, hits[j].At)
		}
	}
	return len(times), times
}

// FunnelStep is one step of a funnel's result.
type FunnelStep struct {
	Step int `json:"step"`
	// People who reached the step, and the shares of those at the previous step and at the
	// first.
	People         int     `json:"people"`
	FromPrevious   float64 `json:"conversion_from_previous"`
	FromStart      float64 `json:"conversion_from_start"`
	DroppedOff     int     `json:"dropped_off"` // reached the previous step, not this one
	MedianFromPrev float64 `json:"median_seconds_from_previous,omitempty"`
}

// FunnelResult is a funnel's result for one breakdown value ("" without a breakdown).
type FunnelResult struct {
	Breakdown       string       `json:"breakdown"`
	Steps           []FunnelStep `json:"steps"`
	Converted       int          `json:"converted"`
	MedianToConvert float64      `json:"median_seconds_to_convert"`
}

// Result is the funnel per breakdown value, the largest first; with a breakdown, a result for
// everyone ("$all") comes first.
func (f *Funnel) Result() []FunnelResult {
	var out []FunnelResult
	all := &funnelGroup{reached: make([]int, f.steps), between: make([][]time.Duration, f.steps)}
	for _, g := range f.groups {
		for i := range f.steps {
			all.reached[i] += g.reached[i]
			all.between[i] = append(all.between[i], g.between[i]...)
		}
		all.total = append(all.total, g.total...)
	}
	keys := make([]string, 0, len(f.groups))
	for k := range f.groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := f.groups[keys[i]].reached[0], f.groups[keys[j]].reached[0]
		return a > b || a == b && keys[i] < keys[j]
	})
	if len(keys) != 1 || keys[0] != "" {
		out = append(out, f.result("$all", all))
	}
	for _, k := range keys {
		out = append(out, f.result(k, f.groups[k]))
	}
	if len(out) == 0 {
		out = append(out, f.result("", all))
	}
	return out
}

func (f *Funnel) result(name string, g *funnelGroup) FunnelResult {
	r := FunnelResult{Breakdown: name, Converted: g.reached[f.steps-1], MedianToConvert: median(g.total)}
	for i := range f.steps {
		st := FunnelStep{Step: i, People: g.reached[i]}
		if g.reached[0] > 0 {
			st.FromStart = float64(g.reached[i]) / float64(g.reached[0])
		}
		if i == 0 {
			st.FromPrevious = 1
			if g.reached[0] == 0 {
				st.FromPrevious = 0
			}
		} else {
			if g.reached[i-1] > 0 {
				st.FromPrevious = float64(g.reached[i]) / float64(g.reached[i-1])
			}
			st.DroppedOff = g.reached[i-1] - g.reached[i]
			st.MedianFromPrev = median(g.between[i])
		}
		r.Steps = append(r.Steps, st)
	}
	return r
}

// median of durations in seconds (0 for none).
func median(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2].Seconds()
	}
	return (s[n/2-1] + s[n/2]).Seconds() / 2
}
