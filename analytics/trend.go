package analytics

import (
	"fmt"
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

// Trend adds events up by period and breakdown value.
type Trend struct {
	measure string
	period  string
	loc     *time.Location
	cells   map[trendKey]*trendCell
}

type trendKey struct {
	start     time.Time
	breakdown string
}

type trendCell struct {
	count  int
	sum    float64
	valued int
	people map[int64]struct{}
}

// NewTrend checks a trend's definition.
func NewTrend(measure, period string, loc *time.Location) (*Trend, error) {
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
	return &Trend{measure: measure, period: period, loc: loc, cells: map[trendKey]*trendCell{}}, nil
}

// Add counts one event of a person (a dense number for them), with its property's value when
// it has one.
func (t *Trend) Add(at time.Time, person int64, value float64, hasValue bool, breakdown string) {
	k := trendKey{PeriodStart(at, t.period, t.loc), breakdown}
	c := t.cells[k]
	if c == nil {
		c = &trendCell{}
		if t.measure == Unique {
			c.people = map[int64]struct{}{}
		}
		t.cells[k] = c
	}
	c.count++
	if hasValue {
		c.sum += value
		c.valued++
	}
	if c.people != nil {
		c.people[person] = struct{}{}
	}
}

// Series is one breakdown value's trend: a value per period from the range's start.
type Series struct {
	Breakdown string    `json:"breakdown"`
	Values    []float64 `json:"values"`
	Total     float64   `json:"total"`
}

// Result is the periods from from to to (each period once, those without events at 0) and a
// series per breakdown value, largest total first.
func (t *Trend) Result(from, to time.Time) ([]time.Time, []Series) {
	var periods []time.Time
	index := map[time.Time]int{}
	for p := PeriodStart(from, t.period, t.loc); p.Before(to); p = nextPeriod(p, t.period) {
		index[p] = len(periods)
		periods = append(periods, p)
	}
	series := map[string]*Series{}
	unique := map[string]map[int64]struct{}{}
	for k, c := range t.cells {
		i, ok := index[k.start]
		if !ok {
			continue
		}
		s := series[k.breakdown]
		if s == nil {
			s = &Series{Breakdown: k.breakdown, Values: make([]float64, len(periods))}
			series[k.breakdown] = s
			unique[k.breakdown] = map[int64]struct{}{}
		}
		var v float64
		switch t.measure {
		case Count:
			v = float64(c.count)
			s.Total += v
		case Unique:
			v = float64(len(c.people))
			for p := range c.people {
				unique[k.breakdown][p] = struct{}{}
			}
		case Sum:
			v = c.sum
			s.Total += v
		case Avg:
			if c.valued > 0 {
				v = c.sum / float64(c.valued)
			}
		}
		s.Values[i] = v
	}
	var out []Series
	for b, s := range series {
		switch t.measure {
		case Unique:
			s.Total = float64(len(unique[b]))
		case Avg:
			var sum float64
			var n int
			for k, c := range t.cells {
				if _, ok := index[k.start]; ok && k.breakdown == b {
					sum += c.sum
					n += c.valued
				}
			}
			if n > 0 {
				s.Total = sum / float64(n)
			}
		}
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Total > out[j].Total || out[i].Total == out[j].Total && out[i].Breakdown < out[j].Breakdown
	})
	return periods, out
}
