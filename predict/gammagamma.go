package predict

import (
	"math"

	"gonum.org/v1/gonum/mathext"

	"github.com/kenner-cdp/kenner"
)

// Spend is a customer's repeat purchases as the Gamma-Gamma model reads them: how many (X) and
// their mean value (Mean). Customers without a repeat purchase carry no information on spend
// and are left out of a fit.
type Spend struct {
	X      float64
	Mean   float64
	Weight float64 // 0 counts as 1
}

// GammaGamma is the spend model of Fader, Hardie and Lee (2005, "RFM and CLV"): a customer's
// purchase values are Gamma(P, ν) around their own mean, with ν drawn from Gamma(Q, G).
type GammaGamma struct {
	P     float64 `json:"p"`
	Q     float64 `json:"q"`
	Gamma float64 `json:"gamma"`
}

// FitGammaGamma estimates the parameters by maximum likelihood over the customers with repeat
// purchases of positive value.
func FitGammaGamma(all []Spend) (GammaGamma, Fit, error) {
	var ss []Spend
	var n, mean float64
	for _, s := range all {
		if s.X > 0 && s.Mean > 0 {
			w := s.Weight
			if w == 0 {
				w = 1
			}
			ss = append(ss, Spend{X: s.X, Mean: s.Mean, Weight: w})
			n += w
			mean += w * s.Mean
		}
	}
	if len(ss) < 2 {
		return GammaGamma{}, Fit{}, kenner.Errorf(kenner.EInvalid, "fewer than two customers have repeat purchases with a value: the spend model cannot be fitted")
	}
	mean /= n
	nll := func(p []float64, grad []float64) float64 {
		m := GammaGamma{P: math.Exp(p[0]), Q: math.Exp(p[1]), Gamma: math.Exp(p[2])}
		var g [3]float64
		ll := m.logLik(ss, &g)
		if grad != nil {
			grad[0] = -g[0] * m.P / n
			grad[1] = -g[1] * m.Q / n
			grad[2] = -g[2] * m.Gamma / n
		}
		return -ll / n
	}
	p, fit, err := minimize(nll, []float64{0, 0, math.Log(mean)})
	if err != nil {
		return GammaGamma{}, fit, err
	}
	m := GammaGamma{P: math.Exp(p[0]), Q: math.Exp(p[1]), Gamma: math.Exp(p[2])}
	fit.LogLik = m.logLik(ss, nil)
	if err := finite("Gamma-Gamma", m.P, m.Q, m.Gamma, fit.LogLik); err != nil {
		return GammaGamma{}, fit, err
	}
	return m, fit, nil
}

// logLik is the log-likelihood of the customers' mean values and, when g is not nil, its
// gradient with respect to (p, q, gamma).
func (m GammaGamma) logLik(ss []Spend, g *[3]float64) float64 {
	p, q, gm := m.P, m.Q, m.Gamma
	lq, _ := math.Lgamma(q)
	var psiQ float64
	if g != nil {
		psiQ = mathext.Digamma(q)
	}
	var total float64
	for _, s := range ss {
		x, z := s.X, s.Mean
		px := p * x
		l1, _ := math.Lgamma(px + q)
		l2, _ := math.Lgamma(px)
		lden := math.Log(gm + x*z)
		total += s.Weight * (l1 - l2 - lq + q*math.Log(gm) + (px-1)*math.Log(z) + px*math.Log(x) - (px+q)*lden)
		if g == nil {
			continue
		}
		psi := mathext.Digamma(px + q)
		g[0] += s.Weight * x * (psi - mathext.Digamma(px) + math.Log(z) + math.Log(x) - lden)
		g[1] += s.Weight * (psi - psiQ + math.Log(gm) - lden)
		g[2] += s.Weight * (q/gm - (px+q)/(gm+x*z))
	}
	return total
}

// ExpectedValue is the expected value of a customer's future purchase, given x repeat purchases
// of mean value mean: a weighted average of their own mean and the population's.
func (m GammaGamma) ExpectedValue(x, mean float64) float64 {
	if x <= 0 || mean <= 0 {
		return m.PopulationValue()
	}
	return m.P * (m.Gamma + x*mean) / (m.P*x + m.Q - 1)
}

// PopulationValue is the mean purchase value of the population (infinite when Q <= 1: the
// spend distribution then has no mean, and 0 is answered).
func (m GammaGamma) PopulationValue() float64 {
	if m.Q <= 1 {
		return 0
	}
	return m.P * m.Gamma / (m.Q - 1)
}
