package predict

import (
	"math"
	"math/rand/v2"
)

// Simulate draws n customers' purchase histories from the BG/NBD process with parameters m:
// each starts with a purchase at a time uniform in [0, start) weeks and is observed until end
// weeks; it returns each customer's purchase times in weeks (the first is the first purchase).
// Tests check that a fit recovers m; benchmarks use it for realistic populations of any size.
func Simulate(m BGNBD, n int, start, end float64, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([][]float64, n)
	for i := range out {
		lambda := gammaRand(rng, m.R) / m.Alpha
		p := betaRand(rng, m.A, m.B)
		t := rng.Float64() * start
		times := []float64{t}
		for {
			t += rng.ExpFloat64() / lambda
			if t > end {
				break
			}
			times = append(times, t)
			if rng.Float64() < p {
				break
			}
		}
		out[i] = times
	}
	return out
}

// gammaRand draws from Gamma(shape, 1) (Marsaglia and Tsang, boosted for shape < 1).
func gammaRand(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return gammaRand(rng, 1+shape) * math.Pow(rng.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

func betaRand(rng *rand.Rand, a, b float64) float64 {
	x, y := gammaRand(rng, a), gammaRand(rng, b)
	return x / (x + y)
}
