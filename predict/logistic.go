package predict

import (
	"cmp"
	"math"
	"slices"

	"github.com/kenner-cdp/kenner"
)

// Logistic is an L2-regularized logistic regression over standardized features.
type Logistic struct {
	Weights   []float64 `json:"weights"`
	Intercept float64   `json:"intercept"`
	// Mean and Scale standardize each feature before the weights apply, so that the weights
	// compare (the model card's top features) and the penalty treats features alike.
	Mean  []float64 `json:"mean"`
	Scale []float64 `json:"scale"`
}

// FitLogistic fits P(y=1 | x) by maximum likelihood with an L2 penalty of lambda per weight
// (the intercept is not penalized). y holds 0 or 1.
func FitLogistic(x [][]float64, y []float64, lambda float64) (Logistic, Fit, error) {
	if len(x) == 0 || len(x) != len(y) {
		return Logistic{}, Fit{}, kenner.Errorf(kenner.EInvalid, "no training examples")
	}
	var pos float64
	for _, v := range y {
		pos += v
	}
	if pos == 0 || pos == float64(len(y)) {
		return Logistic{}, Fit{}, kenner.Errorf(kenner.EInvalid, "the label has one class only (%d of %d examples positive): there is nothing to learn", int(pos), len(y))
	}
	d := len(x[0])
	m := Logistic{Mean: make([]float64, d), Scale: make([]float64, d)}
	n := float64(len(x))
	for _, row := range x {
		for j, v := range row {
			m.Mean[j] += v / n
		}
	}
	for _, row := range x {
		for j, v := range row {
			m.Scale[j] += (v - m.Mean[j]) * (v - m.Mean[j]) / n
		}
	}
	for j := range m.Scale {
		m.Scale[j] = math.Sqrt(m.Scale[j])
		if m.Scale[j] == 0 {
			m.Scale[j] = 1 // a constant feature: its weight stays at 0 under the penalty
		}
	}
	z := make([][]float64, len(x))
	for i, row := range x {
		z[i] = m.standardize(row)
	}
	obj := func(w []float64, grad []float64) float64 {
		if grad != nil {
			clear(grad)
		}
		var loss float64
		for i, row := range z {
			s := w[d]
			for j, v := range row {
				s += w[j] * v
			}
			// log(1 + e^s) - y s, computed without overflow.
			loss += softplus(s) - y[i]*s
			if grad != nil {
				r := sigmoid(s) - y[i]
				for j, v := range row {
					grad[j] += r * v
				}
				grad[d] += r
			}
		}
		for j := 0; j < d; j++ {
			loss += 0.5 * lambda * w[j] * w[j]
			if grad != nil {
				grad[j] += lambda * w[j]
			}
		}
		if grad != nil {
			for j := range grad {
				grad[j] /= n
			}
		}
		return loss / n
	}
	w0 := make([]float64, d+1)
	w0[d] = math.Log(pos / (n - pos))
	w, fit, err := minimize(obj, w0)
	if err != nil {
		return Logistic{}, fit, err
	}
	m.Weights, m.Intercept = w[:d], w[d]
	fit.LogLik = -obj(w, nil) * n
	return m, fit, nil
}

func (m Logistic) standardize(x []float64) []float64 {
	z := make([]float64, len(x))
	for j, v := range x {
		z[j] = (v - m.Mean[j]) / m.Scale[j]
	}
	return z
}

// Predict is P(y=1 | x).
func (m Logistic) Predict(x []float64) float64 {
	s := m.Intercept
	for j, v := range x {
		s += m.Weights[j] * (v - m.Mean[j]) / m.Scale[j]
	}
	return sigmoid(s)
}

func sigmoid(s float64) float64 {
	if s >= 0 {
		return 1 / (1 + math.Exp(-s))
	}
	e := math.Exp(s)
	return e / (1 + e)
}

func softplus(s float64) float64 {
	if s > 0 {
		return s + math.Log1p(math.Exp(-s))
	}
	return math.Log1p(math.Exp(s))
}

// Weight is one feature's weight in a model card.
type Weight struct {
	Feature string  `json:"feature"`
	Weight  float64 `json:"weight"`
}

// TopWeights lists the n features with the largest weights (by magnitude; the weights are per
// standard deviation of the feature, so they compare).
func (m Logistic) TopWeights(fs Features, n int) []Weight {
	ws := make([]Weight, len(m.Weights))
	for i, w := range m.Weights {
		ws[i] = Weight{Feature: fs[i].Name(), Weight: w}
	}
	slices.SortStableFunc(ws, func(a, b Weight) int { return cmp.Compare(math.Abs(b.Weight), math.Abs(a.Weight)) })
	return ws[:min(n, len(ws))]
}
