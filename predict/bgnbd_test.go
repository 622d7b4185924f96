package predict

import (
	"errors"
	"math"
	"testing"

	"github.com/kenner-cdp/kenner"
)

// sig3 reports whether got equals want to 3 significant figures.
func sig3(got, want float64) bool {
	return math.Abs(got-want) <= 0.5*math.Pow(10, math.Floor(math.Log10(math.Abs(want)))-2)
}

func TestBGNBDOnCDNOWMatchesThePaper(t *testing.T) {
	cs, _ := cdnowSample(t)
	if len(cs) != 2357 {
		t.Fatalf("customers = %d, want 2357", len(cs))
	}
	m, fit, err := FitBGNBD(cs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("r=%.4f alpha=%.4f a=%.4f b=%.4f LL=%.2f iterations=%d %s", m.R, m.Alpha, m.A, m.B, fit.LogLik, fit.Iterations, fit.Status)
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"r", m.R, 0.243}, {"alpha", m.Alpha, 4.414}, {"a", m.A, 0.793}, {"b", m.B, 2.426}, {"log-likelihood", fit.LogLik, -9582.4}} {
		if !sig3(c.got, c.want) {
			t.Errorf("%s = %.5g, want %.4g to 3 significant figures", c.name, c.got, c.want)
		}
	}
	if !fit.Converged {
		t.Errorf("fit did not converge: %s", fit.Status)
	}
}

func TestBGNBDPredictions(t *testing.T) {
	m := BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	// FHL 2005, section 5: a customer with x=2, t_x=30.43, T=38.86 is expected to make 1.226
	// purchases in the next 39 weeks.
	got, err := m.ExpectedPurchases(Customer{X: 2, Tx: 30.43, T: 38.86}, 39)
	if err != nil {
		t.Fatal(err)
	}
	if !sig3(got, 1.226) {
		t.Errorf("E[Y(39) | 2, 30.43, 38.86] = %.4f, want 1.226", got)
	}
	// Someone who never bought again is alive for sure; someone who bought often and long ago
	// much less likely than someone who bought often recently.
	if p := m.PAlive(Customer{X: 0, Tx: 0, T: 38}); p != 1 {
		t.Errorf("P(alive | x=0) = %g, want 1", p)
	}
	recent, old := m.PAlive(Customer{X: 5, Tx: 37, T: 38}), m.PAlive(Customer{X: 5, Tx: 5, T: 38})
	if !(recent > 0.8 && old < 0.2) {
		t.Errorf("P(alive) recent=%.3f old=%.3f: want the recent buyer alive, the lapsed one not", recent, old)
	}
	// The population curve rises with time and more slowly than linearly.
	e39, _ := m.PopulationPurchases(39)
	e78, _ := m.PopulationPurchases(78)
	if !(e39 > 0 && e78 > e39 && e78 < 2*e39) {
		t.Errorf("E[X(39)]=%.3f E[X(78)]=%.3f", e39, e78)
	}
}

func TestBGNBDRefusesDegenerateData(t *testing.T) {
	for _, tc := range []struct {
		name string
		cs   []Customer
	}{
		{"nobody", nil},
		{"no repeat buyer", []Customer{{X: 0, T: 10}, {X: 0, T: 3}}},
		{"recency after the end", []Customer{{X: 1, Tx: 5, T: 3}}},
	} {
		_, _, err := FitBGNBD(tc.cs)
		var ke *kenner.Error
		if !errors.As(err, &ke) || ke.Code != kenner.EInvalid {
			t.Errorf("%s: err = %v, want an invalid error saying why", tc.name, err)
		}
	}
}

func TestHyp2F1(t *testing.T) {
	for _, tc := range []struct{ a, b, c, z, want float64 }{
		{1, 1, 2, 0.5, -math.Log(1-0.5) / 0.5}, // 2F1(1,1;2;z) = -ln(1-z)/z
		{0.5, 1, 1.5, 0.25, math.Atanh(0.5) / 0.5},
		{2, 3, 4, 0, 1},
		{1, 1, 2, 0.999, -math.Log(1-0.999) / 0.999},
	} {
		got, err := hyp2f1(tc.a, tc.b, tc.c, tc.z)
		if err != nil || math.Abs(got-tc.want) > 1e-9*math.Abs(tc.want) {
			t.Errorf("2F1(%g,%g;%g;%g) = %.12g, %v; want %.12g", tc.a, tc.b, tc.c, tc.z, got, err, tc.want)
		}
	}
}

// TestBGNBDRecoversSimulatedParameters fits histories drawn from the model itself: the fit
// finds the parameters they were drawn with.
func TestBGNBDRecoversSimulatedParameters(t *testing.T) {
	cs := syntheticCustomers(100_000, 11)
	m, _, err := FitBGNBD(cs)
	if err != nil {
		t.Fatal(err)
	}
	want := BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"r", m.R, want.R}, {"alpha", m.Alpha, want.Alpha}, {"a", m.A, want.A}, {"b", m.B, want.B}} {
		if math.Abs(c.got-c.want) > 0.15*c.want {
			t.Errorf("%s = %.4f, drawn with %.4f", c.name, c.got, c.want)
		}
	}
}
