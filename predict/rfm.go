package predict

import (
	"math"
	"slices"

	"github.com/kenner-cdp/kenner"
)

// RFMInput is one customer's recency (time since the last purchase), frequency (purchases) and
// monetary value (what they spent).
type RFMInput struct {
	Recency, Frequency, Monetary float64
}

// RFM holds the quintile boundaries of a population: a customer scores 1 to 5 on each
// dimension by where they fall, 5 being the best (most recent, most frequent, highest value).
type RFM struct {
	Recency   [4]float64 `json:"recency"`
	Frequency [4]float64 `json:"frequency"`
	Monetary  [4]float64 `json:"monetary"`
}

// RFMScore is a customer's scores and the cell they fall in.
type RFMScore struct {
	R       int    `json:"r"`
	F       int    `json:"f"`
	M       int    `json:"m"`
	Score   string `json:"score"` // "555"
	Segment string `json:"segment"`
}

// FitRFM computes the quintile boundaries of the customers.
func FitRFM(cs []RFMInput) (RFM, error) {
	if len(cs) == 0 {
		return RFM{}, kenner.Errorf(kenner.EInvalid, "no customer has made a purchase")
	}
	col := func(f func(RFMInput) float64) [4]float64 {
		v := make([]float64, len(cs))
		for i, c := range cs {
			v[i] = f(c)
		}
		slices.Sort(v)
		var q [4]float64
		for i := range q {
			q[i] = quantile(v, float64(i+1)/5)
		}
		return q
	}
	return RFM{
		Recency:   col(func(c RFMInput) float64 { return c.Recency }),
		Frequency: col(func(c RFMInput) float64 { return c.Frequency }),
		Monetary:  col(func(c RFMInput) float64 { return c.Monetary }),
	}, nil
}

// quantile is the p-quantile of sorted v, interpolated between neighbours.
func quantile(v []float64, p float64) float64 {
	pos := p * float64(len(v)-1)
	i := int(math.Floor(pos))
	if i+1 >= len(v) {
		return v[len(v)-1]
	}
	return v[i] + (pos-float64(i))*(v[i+1]-v[i])
}

// above counts the boundaries strictly below v: a value on a boundary belongs to the lower
// quintile, so ties (many customers with one purchase) share a score.
func above(cuts [4]float64, v float64) int {
	n := 0
	for _, c := range cuts {
		if v > c {
			n++
		}
	}
	return n
}

// Score places a customer in the quintiles and names their cell.
func (m RFM) Score(c RFMInput) RFMScore {
	s := RFMScore{R: 5 - above(m.Recency, c.Recency), F: 1 + above(m.Frequency, c.Frequency), M: 1 + above(m.Monetary, c.Monetary)}
	s.Score = string([]byte{byte('0' + s.R), byte('0' + s.F), byte('0' + s.M)})
	s.Segment = RFMSegment(s.R, s.F)
	return s
}

// RFMSegment names the cell of a recency and a frequency score, in the grid marketers use:
// recent and frequent customers are champions, frequent ones who stopped coming are at risk,
// and so on down to the lost.
func RFMSegment(r, f int) string {
	switch {
	case r >= 5 && f >= 4:
		return "Champions"
	case r >= 3 && f >= 4:
		return "Loyal"
	case r >= 4 && f >= 2:
		return "Potential loyalists"
	case r == 5 && f == 1:
		return "New customers"
	case r == 4 && f == 1:
		return "Promising"
	case r == 3 && f == 3:
		return "Need attention"
	case r == 3:
		return "About to sleep"
	case r <= 2 && f == 5:
		return "Can't lose them"
	case r <= 2 && f >= 3:
		return "At risk"
	case r == 2 || f >= 2:
		return "Hibernating"
	default:
		return "Lost"
	}
}

// RFMSegments lists the cell names, best first.
func RFMSegments() []string {
	return []string{"Champions", "Loyal", "Potential loyalists", "New customers", "Promising", "Need attention",
		"About to sleep", "Can't lose them", "At risk", "Hibernating", "Lost"}
}
