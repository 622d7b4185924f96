package predict

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// syntheticCustomers draws n purchase histories from the BG/NBD process with the CDNOW
// parameters, over a 39-week observation window with staggered first purchases.
func syntheticCustomers(n int, seed uint64) []Customer {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	cs := make([]Customer, n)
	for i := range cs {
		lambda := gammaRand(rng, m.R) / m.Alpha
		p := betaRand(rng, m.A, m.B)
		T := 27 + rng.Float64()*12
		var t, tx, x float64
		for {
			t += rng.ExpFloat64() / lambda
			if t > T {
				break
			}
			x++
			tx = t
			if rng.Float64() < p {
				break
			}
		}
		// Days, as the product counts them.
		cs[i] = Customer{X: x, Tx: float64(int(tx*7)) / 7, T: float64(int(T*7)) / 7}
	}
	return cs
}

// gammaRand draws from Gamma(shape, 1) (Marsaglia and Tsang, with the boost for shape < 1).
func gammaRand(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		u := rng.Float64()
		return gammaRand(rng, 1+shape) * pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || log(u) < 0.5*x*x+d*(1-v+log(v)) {
			return d * v
		}
	}
}

func betaRand(rng *rand.Rand, a, b float64) float64 {
	x, y := gammaRand(rng, a), gammaRand(rng, b)
	return x / (x + y)
}

// BenchmarkFitBGNBD fits CDNOW-like populations; identical histories are weighted once, as the
// trainer does.
func BenchmarkFitBGNBD(b *testing.B) {
	for _, n := range []int{2357, 1_000_000} {
		cs := syntheticCustomers(n, 7)
		w := map[Customer]float64{}
		for _, c := range cs {
			w[c]++
		}
		var distinct []Customer
		for c, n := range w {
			c.Weight = n
			distinct = append(distinct, c)
		}
		b.Run(itoa(n), func(b *testing.B) {
			for b.Loop() {
				m, fit, err := FitBGNBD(distinct)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(distinct)), "distinct")
				_ = m
				_ = fit
			}
		})
	}
}

// BenchmarkScoreCLV is the cost of one profile's clv predictions (P(alive), expected
// purchases, 12 discounted months, RFM): what a rescore pays per buyer.
func BenchmarkScoreCLV(b *testing.B) {
	p := CLVParams{BGNBD: BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}, Spend: GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44},
		HorizonDays: 365, DiscountRate: 0.1}
	cs := syntheticCustomers(1000, 3)
	i := 0
	for b.Loop() {
		c := cs[i%len(cs)]
		if _, err := p.Score(History{Customer: c, Mean: 30, RFM: RFMInput{Recency: 10, Frequency: c.X + 1, Monetary: 50}}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func itoa(n int) string        { return strconv.Itoa(n) }
func pow(x, y float64) float64 { return math.Pow(x, y) }
func sqrt(x float64) float64   { return math.Sqrt(x) }
func log(x float64) float64    { return math.Log(x) }
