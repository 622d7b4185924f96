package predict

import (
	"math"
	"strconv"
	"testing"
)

// syntheticCustomers is Simulate with the CDNOW parameters over a 39-week window with
// first purchases in its first 12 weeks, summarised by day as the product counts.
func syntheticCustomers(n int, seed uint64) []Customer {
	m := BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	cs := make([]Customer, n)
	for i, times := range Simulate(m, n, 12, 39, seed) {
		first, last := times[0], times[len(times)-1]
		day := func(w float64) float64 { return math.Floor(w*7) / 7 }
		cs[i] = Customer{X: float64(len(times) - 1), Tx: day(last) - day(first), T: day(39) - day(first)}
	}
	return cs
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

func itoa(n int) string { return strconv.Itoa(n) }
