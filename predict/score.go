package predict

import (
	"math"
	"slices"
	"time"

	"github.com/kenner-cdp/kenner"
)

// week is the models' time unit: the papers' (alpha is in weeks), and fine enough for
// purchases counted by day.
const week = 7 * 24 * time.Hour

// History is a customer's purchases summarised at a moment (the end of observation).
type History struct {
	Customer Customer // in weeks
	// Mean is the mean value of the repeat purchase days (a day's purchases summed); 0
	// without repeat purchases.
	Mean float64
	RFM  RFMInput // recency in days, frequency in purchase days, monetary the total value
}

// Summarize reads a days aggregate (one bucket per UTC day with purchases, Sum their value) as
// it stood at end: days after end are left out. ok is false when there was no purchase by end.
func Summarize(a *kenner.Aggregate, end time.Time) (h History, ok bool) {
	if a == nil {
		return History{}, false
	}
	days := make([]kenner.Bucket, 0, len(a.Buckets))
	for _, b := range a.Buckets {
		if b.Start <= end.Unix() && b.Count > 0 {
			days = append(days, b)
		}
	}
	if len(days) == 0 {
		return History{}, false
	}
	slices.SortFunc(days, func(x, y kenner.Bucket) int { return int(x.Start - y.Start) })
	first, last := days[0].Start, days[len(days)-1].Start
	var total, repeat float64
	for i, d := range days {
		total += d.Sum
		if i > 0 {
			repeat += d.Sum
		}
	}
	x := float64(len(days) - 1)
	h.Customer = Customer{X: x, Tx: float64(last-first) / week.Seconds(), T: float64(end.Unix()-first) / week.Seconds()}
	if x > 0 {
		h.Mean = repeat / x
	}
	h.RFM = RFMInput{Recency: float64(end.Unix()-last) / (24 * time.Hour).Seconds(), Frequency: float64(len(days)), Monetary: total}
	return h, true
}

// CLVParams is a trained clv model: what it needs to score a customer.
type CLVParams struct {
	BGNBD        BGNBD      `json:"bgnbd"`
	Spend        GammaGamma `json:"gamma_gamma"`
	RFM          RFM        `json:"rfm"`
	HorizonDays  int        `json:"horizon_days"`
	DiscountRate float64    `json:"discount_rate"` // yearly
}

// month is a discounting period, in weeks.
const month = 365.25 / 12 / 7

// Score is a customer's predictions: probability of being alive, purchases and value expected
// over the horizon, the expected value of a purchase, and the RFM cell.
func (p CLVParams) Score(h History) (map[string]any, error) {
	horizon := float64(p.HorizonDays) / 7
	periods := int(math.Ceil(horizon / month))
	v := CLV{Purchases: p.BGNBD, Spend: p.Spend, Period: horizon / float64(max(periods, 1)), Periods: periods,
		Rate: math.Pow(1+p.DiscountRate, horizon/float64(max(periods, 1))/(365.25/7)) - 1}
	purchases, err := p.BGNBD.ExpectedPurchases(h.Customer, horizon)
	if err != nil {
		return nil, err
	}
	clv, err := v.Value(h.Customer, h.Mean)
	if err != nil {
		return nil, err
	}
	r := p.RFM.Score(h.RFM)
	return map[string]any{
		"p_alive":            round(p.BGNBD.PAlive(h.Customer), 4),
		"expected_purchases": round(purchases, 4),
		"expected_value":     round(p.Spend.ExpectedValue(h.Customer.X, h.Mean), 2),
		"clv":                round(clv, 2),
		"orders":             h.RFM.Frequency,
		"rfm": map[string]any{
			"r": float64(r.R), "f": float64(r.F), "m": float64(r.M), "score": r.Score, "segment": r.Segment,
		},
	}, nil
}

// ClassifierParams is a trained classifier.
type ClassifierParams struct {
	Features Features `json:"features"`
	Model    Logistic `json:"logistic"`
}

// Score is the probability of the label for a profile's fields (by Feature.Field).
func (p ClassifierParams) Score(fields map[string]any) float64 {
	return round(p.Model.Predict(p.Features.Vector(fields)), 4)
}

// round keeps scores readable in profiles and exports; the models are not that precise.
func round(v float64, digits int) float64 {
	f := math.Pow(10, float64(digits))
	return math.Round(v*f) / f
}
