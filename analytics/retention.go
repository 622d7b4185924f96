package analytics

import (
	"fmt"
	"sort"
	"time"
)

// Periods of retention cohorts and trends.
const (
	Day   = "day"
	Week  = "week"
	Month = "month"
)

// PeriodStart is the start of the day, the week (Monday) or the month holding t, in loc.
func PeriodStart(t time.Time, period string, loc *time.Location) time.Time {
	t = t.In(loc)
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	switch period {
	case Week:
		wd := (int(d.Weekday()) + 6) % 7 // Monday 0
		return d.AddDate(0, 0, -wd)
	case Month:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
	}
	return d
}

// nextPeriod is the start of the period after the one starting at p.
func nextPeriod(p time.Time, period string) time.Time {
	switch period {
	case Week:
		return p.AddDate(0, 0, 7)
	case Month:
		return p.AddDate(0, 1, 0)
	}
	return p.AddDate(0, 0, 1)
}

// Retention counts cohorts: people by the period of their first start event, and how many of
// them did the returning event in each period after. Add each person, then read Result.
type Retention struct {
	period  string
	periods int
	loc     *time.Location
	cohorts map[time.Time][]int // cohort start → [size, returned in period 1, 2, ...]
}

// NewRetention counts periods periods after each cohort's (period: day, week or month).
func NewRetention(period string, periods int, loc *time.Location) (*Retention, error) {
	if period != Day && period != Week && period != Month {
		return nil, fmt.Errorf("period: want day, week or month, not %q", period)
	}
	if periods < 1 || periods > 52 {
		return nil, fmt.Errorf("periods: 1 to 52, not %d", periods)
	}
	if loc == nil {
		loc = time.UTC
	}
	return &Retention{period: period, periods: periods, loc: loc, cohorts: map[time.Time][]int{}}, nil
}

// Add counts a person: first is their first start event (zero: not in any cohort), returns
// the times of their returning events in order.
func (r *Retention) Add(first time.Time, returns []time.Time) {
	if first.IsZero() {
		return
	}
	c := PeriodStart(first, r.period, r.loc)
	row := r.cohorts[c]
	if row == nil {
		row = make([]int, r.periods+1)
		r.cohorts[c] = row
	}
	row[0]++
	bounds := []time.Time{c}
	for range r.periods + 1 {
		bounds = append(bounds, nextPeriod(bounds[len(bounds)-1], r.period))
	}
	seen := make([]bool, r.periods+1)
	for _, t := range returns {
		for k := 1; k <= r.periods; k++ {
			if !t.Before(bounds[k]) && t.Before(bounds[k+1]) && !seen[k] {
				seen[k] = true
				row[k]++
			}
		}
	}
}

// Cohort is one row of a retention table.
type Cohort struct {
	Start    time.Time `json:"start"`
	People   int       `json:"people"`
	Returned []int     `json:"returned"` // in period 1, 2, ... after the cohort's
	Shares   []float64 `json:"shares"`
}

// Result is the cohorts, oldest first.
func (r *Retention) Result() []Cohort {
	var out []Cohort
	for start, row := range r.cohorts {
		c := Cohort{Start: start, People: row[0], Returned: row[1:]}
		for _, n := range row[1:] {
			c.Shares = append(c.Shares, float64(n)/float64(row[0]))
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}
