package predict

import (
	"math"
	"testing"
)

func TestGammaGammaOnCDNOWMatchesThePaper(t *testing.T) {
	cs, zbar := cdnowSample(t)
	ss := make([]Spend, len(cs))
	for i, c := range cs {
		ss[i] = Spend{X: c.X, Mean: zbar[i]}
	}
	m, fit, err := FitGammaGamma(ss)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("p=%.4f q=%.4f gamma=%.4f LL=%.2f %s", m.P, m.Q, m.Gamma, fit.LogLik, fit.Status)
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p", m.P, 6.25}, {"q", m.Q, 3.74}, {"gamma", m.Gamma, 15.44}} {
		if !sig3(c.got, c.want) {
			t.Errorf("%s = %.5g, want %.4g to 3 significant figures", c.name, c.got, c.want)
		}
	}
	// The expected value shrinks a customer's own mean towards the population's.
	pop := m.PopulationValue()
	if v := m.ExpectedValue(1, 100); !(v < 100 && v > pop) {
		t.Errorf("E[M | x=1, mean=100] = %.2f, want between the population mean %.2f and 100", v, pop)
	}
}

func TestCLVDiscountsAndGrowsWithTheHorizon(t *testing.T) {
	v := CLV{Purchases: BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}, Spend: GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44},
		Period: 52.0 / 12, Periods: 12, Rate: 0.01}
	c := Customer{X: 4, Tx: 35, T: 38}
	year, err := v.Value(c, 40)
	if err != nil {
		t.Fatal(err)
	}
	v.Periods = 24
	two, _ := v.Value(c, 40)
	v.Rate = 0
	undiscounted, _ := v.Value(c, 40)
	e, _ := v.Purchases.ExpectedPurchases(c, 24*v.Period)
	if want := e * v.Spend.ExpectedValue(4, 40); math.Abs(undiscounted-want) > 1e-6*want {
		t.Errorf("undiscounted CLV = %.4f, want E[Y]·E[M] = %.4f", undiscounted, want)
	}
	if !(year > 0 && two > year && undiscounted > two) {
		t.Errorf("CLV 12m=%.2f 24m=%.2f undiscounted=%.2f", year, two, undiscounted)
	}
}
