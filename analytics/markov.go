package analytics

import (
	"maps"
	"math"
	"slices"
)

// markov is a first-order Markov chain over channels: start, the channels of every path in
// order (a channel repeated in a row counts once), then conversion or null.
type markov struct {
	counts map[string]map[string]float64 // from → to → paths
}

const (
	stateStart = "(start)"
	stateConv  = "(conversion)"
	stateNull  = "(null)"
)

func newMarkov() *markov { return &markov{counts: map[string]map[string]float64{}} }

func (m *markov) step(from, to string) {
	if m.counts[from] == nil {
		m.counts[from] = map[string]float64{}
	}
	m.counts[from][to]++
}

func (m *markov) path(ts []Touch, converted bool) {
	if len(ts) == 0 && !converted {
		return
	}
	prev := stateStart
	for _, t := range ts {
		if t.Channel == prev {
			continue
		}
		m.step(prev, t.Channel)
		prev = t.Channel
	}
	end := stateNull
	if converted {
		end = stateConv
	}
	m.step(prev, end)
}

// conversion is the probability of reaching conversion from the start, with removed's
// transitions going to null instead (removed "" removes nothing).
func (m *markov) conversion(removed string) float64 {
	p := map[string]float64{stateConv: 1}
	states := slices.Sorted(maps.Keys(m.counts))
	totals := map[string]float64{}
	for s, to := range m.counts {
		for _, n := range to {
			totals[s] += n
		}
	}
	// Value iteration: the chain is small (one state per channel) and may loop (A, B, A).
	for range 1000 {
		var delta float64
		for _, s := range states {
			if s == removed {
				continue // leads to null: probability 0
			}
			var v float64
			for to, n := range m.counts[s] {
				if to != removed {
					v += n / totals[s] * p[to]
				}
			}
			delta = math.Max(delta, math.Abs(v-p[s]))
			p[s] = v
		}
		if delta < 1e-12 {
			break
		}
	}
	return p[stateStart]
}

// removalEffects is, per channel, the share of the chain's conversion probability lost when
// the channel is removed.
func (m *markov) removalEffects() map[string]float64 {
	out := map[string]float64{}
	base := m.conversion("")
	if base == 0 {
		return out
	}
	for s := range m.counts {
		if s == stateStart {
			continue
		}
		out[s] = 1 - m.conversion(s)/base
	}
	return out
}
