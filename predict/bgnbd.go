package predict

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"

	"github.com/kenner-cdp/kenner"
)

// Customer is one customer's purchase history as the BG/NBD model reads it, in one time unit
// (days or weeks: the fitted Alpha is in that unit).
type Customer struct {
	// X is the number of repeat purchases: periods (days) with a purchase after the first one.
	X float64
	// Tx is the time of the last purchase, counted from the first.
	Tx float64
	// T is the time from the first purchase to the end of observation.
	T float64
	// Weight is how many customers share this history (0 counts as 1), so that a large
	// population can be fitted as its distinct histories.
	Weight float64
}

func (c Customer) weight() float64 {
	if c.Weight == 0 {
		return 1
	}
	return c.Weight
}

// BGNBD is the beta-geometric/negative binomial model of Fader, Hardie and Lee (2005): while
// alive, a customer buys at a rate drawn from Gamma(R, Alpha); after each purchase they drop out
// with a probability drawn from Beta(A, B).
type BGNBD struct {
	R     float64 `json:"r"`
	Alpha float64 `json:"alpha"`
	A     float64 `json:"a"`
	B     float64 `json:"b"`
}

// checkCustomers rejects histories no model can be fitted to, with a message for the marketer.
func checkCustomers(cs []Customer) error {
	if len(cs) == 0 {
		return kenner.Errorf(kenner.EInvalid, "no customer has made a purchase")
	}
	repeat := false
	for _, c := range cs {
		if c.X < 0 || c.Tx < 0 || c.T < c.Tx || math.IsNaN(c.X+c.Tx+c.T) || c.Weight < 0 {
			return kenner.Errorf(kenner.EInvalid, "invalid purchase history (x=%g, t_x=%g, T=%g)", c.X, c.Tx, c.T)
		}
		if c.X > 0 {
			repeat = true
		}
	}
	if !repeat {
		return kenner.Errorf(kenner.EInvalid, "no customer has bought more than once: repeat purchases are what the model learns from")
	}
	return nil
}

// FitBGNBD estimates the model's parameters by maximum likelihood.
func FitBGNBD(cs []Customer) (BGNBD, Fit, error) {
	if err := checkCustomers(cs); err != nil {
		return BGNBD{}, Fit{}, err
	}
	var n, meanT float64
	for _, c := range cs {
		n += c.weight()
		meanT += c.weight() * c.T
	}
	meanT /= n
	nll := func(p []float64, grad []float64) float64 {
		m := BGNBD{R: math.Exp(p[0]), Alpha: math.Exp(p[1]), A: math.Exp(p[2]), B: math.Exp(p[3])}
		var g [4]float64
		ll := m.logLik(cs, &g)
		if grad != nil {
			// d/d log θ = θ d/dθ; the objective is the negative mean log-likelihood.
			grad[0] = -g[0] * m.R / n
			grad[1] = -g[1] * m.Alpha / n
			grad[2] = -g[2] * m.A / n
			grad[3] = -g[3] * m.B / n
		}
		return -ll / n
	}
	// Alpha is a time scale: start it at the customers' mean observation time.
	p, fit, err := minimize(nll, []float64{0, math.Log(max(meanT, 1e-3)), 0, 0})
	if err != nil {
		return BGNBD{}, fit, err
	}
	m := BGNBD{R: math.Exp(p[0]), Alpha: math.Exp(p[1]), A: math.Exp(p[2]), B: math.Exp(p[3])}
	fit.LogLik = m.LogLikelihood(cs)
	if err := finite("BG/NBD", m.R, m.Alpha, m.A, m.B, fit.LogLik); err != nil {
		return BGNBD{}, fit, err
	}
	return m, fit, nil
}

// LogLikelihood is the log-likelihood of the histories under the model.
func (m BGNBD) LogLikelihood(cs []Customer) float64 { return m.logLik(cs, nil) }

// logLik sums the log-likelihood (FHL 2005, eq. 6) and, when g is not nil, its gradient with
// respect to (r, alpha, a, b). The sum of the two terms of the last factor is taken in log
// space: for long histories each underflows on its own.
func (m BGNBD) logLik(cs []Customer, g *[4]float64) float64 {
	r, al, a, b := m.R, m.Alpha, m.A, m.B
	lgr, _ := math.Lgamma(r)
	lgab, _ := math.Lgamma(a + b)
	lgb, _ := math.Lgamma(b)
	var psiR, psiAB, psiB float64
	if g != nil {
		psiR, psiAB, psiB = mathext.Digamma(r), mathext.Digamma(a+b), mathext.Digamma(b)
	}
	var total float64
	for _, c := range cs {
		w, x := c.weight(), c.X
		lrx, _ := math.Lgamma(r + x)
		lbx, _ := math.Lgamma(b + x)
		labx, _ := math.Lgamma(a + b + x)
		a1 := lrx - lgr + r*math.Log(al)
		a2 := lgab + lbx - lgb - labx
		a3 := -(r + x) * math.Log(al+c.T)
		last, w3, w4 := a3, 1.0, 0.0
		var a4 float64
		if x > 0 {
			a4 = math.Log(a) - math.Log(b+x-1) - (r+x)*math.Log(al+c.Tx)
			last = logAddExp(a3, a4)
			w3 = math.Exp(a3 - last)
			w4 = math.Exp(a4 - last)
		}
		total += w * (a1 + a2 + last)
		if g == nil {
			continue
		}
		psiRX, psiBX, psiABX := mathext.Digamma(r+x), mathext.Digamma(b+x), mathext.Digamma(a+b+x)
		dr := psiRX - psiR + math.Log(al) - w3*math.Log(al+c.T)
		dal := r/al - w3*(r+x)/(al+c.T)
		da := psiAB - psiABX
		db := psiAB + psiBX - psiB - psiABX
		if x > 0 {
			dr -= w4 * math.Log(al+c.Tx)
			dal -= w4 * (r + x) / (al + c.Tx)
			da += w4 / a
			db -= w4 / (b + x - 1)
		}
		g[0] += w * dr
		g[1] += w * dal
		g[2] += w * da
		g[3] += w * db
	}
	return total
}

// PAlive is the probability that a customer with this history is still a customer at its end
// (Fader, Hardie and Lee 2005).
func (m BGNBD) PAlive(c Customer) float64 {
	if c.X == 0 {
		return 1
	}
	// 1 / (1 + a/(b+x-1) * ((α+T)/(α+t_x))^(r+x)), the ratio taken in log space.
	lr := math.Log(m.A) - math.Log(m.B+c.X-1) + (m.R+c.X)*(math.Log(m.Alpha+c.T)-math.Log(m.Alpha+c.Tx))
	return 1 / (1 + math.Exp(lr))
}

// ExpectedPurchases is the number of purchases a customer with this history is expected to
// make in the next t time units (FHL 2005, eq. 10).
func (m BGNBD) ExpectedPurchases(c Customer, t float64) (float64, error) {
	if t <= 0 {
		return 0, nil
	}
	r, al, a, b, x := m.R, m.Alpha, m.A, m.B, c.X
	z := t / (al + c.T + t)
	h, err := hyp2f1(r+x, b+x, a+b+x-1, z)
	if err != nil {
		return 0, err
	}
	// 1 - ((α+T)/(α+T+t))^(r+x) · 2F1(...), with the power taken in log space.
	inner := 1 - math.Exp((r+x)*(math.Log(al+c.T)-math.Log(al+c.T+t))+math.Log(h))
	lead := (a + b + x - 1) / (a - 1)
	den := 1.0
	if x > 0 {
		den += math.Exp(math.Log(a) - math.Log(b+x-1) + (r+x)*(math.Log(al+c.T)-math.Log(al+c.Tx)))
	}
	v := lead * inner / den
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("expected purchases: not finite for x=%g t_x=%g T=%g", c.X, c.Tx, c.T)
	}
	return max(v, 0), nil
}

// PopulationPurchases is the number of purchases a new customer is expected to make in a
// period of length t (FHL 2005, eq. 7): what the model predicts before it knows anyone.
func (m BGNBD) PopulationPurchases(t float64) (float64, error) {
	r, al, a, b := m.R, m.Alpha, m.A, m.B
	z := t / (al + t)
	h, err := hyp2f1(r, b, a+b-1, z)
	if err != nil {
		return 0, err
	}
	return (a + b - 1) / (a - 1) * (1 - math.Exp(r*(math.Log(al)-math.Log(al+t)))*h), nil
}

func logAddExp(x, y float64) float64 {
	if x < y {
		x, y = y, x
	}
	return x + math.Log1p(math.Exp(y-x))
}
