package analytics

import (
	"fmt"
	"math/bits"
	"sort"
	"time"
)

// Trend measures.
const (
	Count  = "count"  // events
	Unique = "unique" // distinct people
	Sum    = "sum"    // of a property
	Avg    = "avg"    // of a property, per event that has it
)

// Trend adds events up by period and breakdown value over a range fixed up front, so that an
// event finds its period by a binary search over the periods' bounds, not a calendar sum.
type Trend struct {
	measure   string
	bounds    []int64 // period starts, unix ms, and the end of the last period
	periods   []time.Time
	breakdown map[string]int
	names     []string
	cells     []*trendCell // period × breakdown
}

type trendCell struct {
	count  int
	sum    float64
	valued int
	people []uint64 // a bit per person (Unique)
}

// NewTrend checks a trend's definition; events outside [from, to) are not counted.
func NewTrend(measure, period string, loc *time.Location, from, to time.Time) (*Trend, error) {
	switch measure {
	case Count, Unique, Sum, Avg:
	default:
		return nil, fmt.Errorf("measure: want count, unique, sum or avg, not %q", measure)
	}
	if period != Day && period != Week && period != Month {
		return nil, fmt.Errorf("interval: want day, week or month, not %q", period)
	}
	if loc == nil {
		loc = time.UTC
	}
	t := &Trend{measure: measure, breakdown: map[string]int{}}
	p := PeriodStart(from, period, loc)
	for ; p.Before(to); p = nextPeriod(p, period) {
		t.periods = append(t.periods, p)
		t.bounds = append(t.bounds, p.UnixMilli())
	}
	t.bounds = append(t.bounds, p.UnixMilli())
	return t, nil
}

// Add counts one event of a person (a dense number for them), with its property's value when
// it has one.
func (t *Trend) Add(at time.Time, person int64, value float64, hasValue bool, breakdown string) {
	t.AddMillis(at.UnixMilli(), person, value, hasValue, breakdown)
}

// AddMillis is Add with the time in unix milliseconds.
func (t *Trend) AddMillis(ms int64, person int64, value float64, hasValue bool, breakdown string) {
	n := len(t.periods)
	if n == 0 || ms < t.bounds[0] || ms >= t.bounds[n] {
		return
	}
	i := sort.Search(n, func(k int) bool { return t.bounds[k+1] > ms })
	b, ok := t.breakdown[breakdown]
	if !ok {
		b = len(t.names)
		t.breakdown[breakdown] = b
		t.names = append(t.names, breakdown)
		grown := make([]*trendCell, n*len(t.names))
		for p := range n {
			copy(grown[p*len(t.names):], t.cells[p*(len(t.names)-1):(p+1)*(len(t.names)-1)])
		}
		t.cells = grown
	}
	k := i*len(t.names) + b
	c := t.cells[k]
	if c == nil {
		c = &trendCell{}
		t.cells[k] = c
	}
	c.count++
	if hasValue {
		c.sum += value
		c.valued++
	}
	if t.measure == Unique {
		w := int(person >> 6)
		if w >= len(c.people) {
			grown := make([]uint64, max(w+1, 2*len(c.people)))
			copy(grown, c.people)
			c.people = grown
		}
		c.people[w] |= 1 << (person & 63)
	}
}

// Series is one breakdown value's trend: a value per period from the range's start.
type Series struct {
	Breakdown string    `json:"breakdown"`
	Values    []float64 `json:"values"`
	Total     float64   `json:"total"`
}

// Result is the periods of the range (each once, those without events at 0) and a series per
// breakdown value, largest total first.
func (t *Trend) Result() ([]time.Time, []Series) {
	n, m := len(t.periods), len(t.names)
	var out []Series
	for b, name := range t.names {
		s := Series{Breakdown: name, Values: make([]float64, n)}
		var union []uint64
		var sum float64
		var valued int
		for p := range n {
			c := t.cells[p*m+b]
			if c == nil {
				continue
			}
			switch t.measure {
			case Count:
				s.Values[p] = float64(c.count)
				s.Total += s.Values[p]
			case Unique:
				s.Values[p] = float64(popcount(c.people))
				if len(c.people) > len(union) {
					union = append(union, make([]uint64, len(c.people)-len(union))...)
				}
				for i, w := range c.people {
					union[i] |= w
				}
			case Sum:
				s.Values[p] = c.sum
				s.Total += c.sum
			case Avg:
				if c.valued > 0 {
					s.Values[p] = c.sum / float64(c.valued)
				}
				sum += c.sum
				valued += c.valued
			}
		}
		switch t.measure {
		case Unique:
			s.Total = float64(popcount(union))
		case Avg:
			if valued > 0 {
				s.Total = sum / float64(valued)
			}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Total > out[j].Total || out[i].Total == out[j].Total && out[i].Breakdown < out[j].Breakdown
	})
	return t.periods, out
}

func popcount(ws []uint64) int {
	n := 0
	for _, w := range ws {
		n += bits.OnesCount64(w)
	}
	return n
}
