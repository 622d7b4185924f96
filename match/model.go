package match

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/kenner-cdp/kenner"
)

// Record is one record to link: an id and its values by field name (normalized).
type Record struct {
	ID     string
	Fields map[string]string
}

// Model is a trained Fellegi-Sunter model: per field and level, the probability of that
// agreement among matches (M) and among non-matches (U), and the share of candidate pairs
// that match (Lambda).
type Model struct {
	Fields []Field     `json:"fields"`
	M      [][]float64 `json:"m"`
	U      [][]float64 `json:"u"`
	Lambda float64     `json:"lambda"`
	// TF is, per TF field, each value's share of the records.
	TF map[string]map[string]float64 `json:"tf,omitempty"`
	// Iterations of EM it took, and whether it converged.
	Iterations int  `json:"iterations"`
	Converged  bool `json:"converged"`
}

// Pair is a candidate pair of records (indexes into the records) with its agreement levels.
type Pair struct {
	A, B   int
	Levels []int
	// Rules are the indexes of the blocking rules that made the pair.
	Rules   []int
	blocked []Rule // the rules Rules index (Candidates')
}

// pattern is a pair's levels as a map key.
func pattern(ls []int) string {
	b := make([]byte, len(ls))
	for i, l := range ls {
		b[i] = byte(l + 1)
	}
	return string(b)
}

// Compare grades every field of a pair.
func Compare(fields []Field, a, b Record) []int {
	ls := make([]int, len(fields))
	for i, f := range fields {
		ls[i] = f.level(a.Fields[f.Name], b.Fields[f.Name])
	}
	return ls
}

// Train estimates the model by EM over the candidate pairs' agreement patterns. The U
// probabilities come from pairs drawn at random (almost all non-matches) and stay: among the
// candidates, non-matches agree on the blocking fields by construction, which would make
// agreement there look worthless. The M probabilities and λ are estimated by EM, from a prior
// that matches mostly agree.
func Train(fields []Field, records []Record, pairs []Pair, seed uint64) (*Model, error) {
	if len(pairs) == 0 {
		return nil, kenner.Errorf(kenner.EInvalid, "no candidate pairs: the blocking rules put no two records together")
	}
	m := &Model{Fields: fields, Lambda: 0.1, TF: map[string]map[string]float64{}}
	for _, f := range fields {
		if f.TF {
			counts := map[string]float64{}
			var n float64
			for _, r := range records {
				if v := r.Fields[f.Name]; v != "" {
					counts[v]++
					n++
				}
			}
			for v := range counts {
				counts[v] /= n
			}
			m.TF[f.Name] = counts
		}
	}
	// U from random pairs.
	rng := rand.New(rand.NewPCG(seed, 7))
	m.U = make([][]float64, len(fields))
	m.M = make([][]float64, len(fields))
	for i, f := range fields {
		k := levels(f.Kind)
		m.U[i] = make([]float64, k)
		m.M[i] = make([]float64, k)
		for l := range m.M[i] {
			// Matches mostly agree: 0.7 on the closest level, the rest spread thinly.
			m.M[i][l] = 0.3 / float64(k-1)
		}
		m.M[i][0] = 0.7
	}
	counts := make([][]float64, len(fields))
	for i, f := range fields {
		counts[i] = make([]float64, levels(f.Kind))
		for l := range counts[i] {
			counts[i][l] = 1 // Laplace smoothing
		}
	}
	for range min(200_000, 50*len(records)) {
		a, b := rng.IntN(len(records)), rng.IntN(len(records))
		if a == b {
			continue
		}
		for i, l := range Compare(fields, records[a], records[b]) {
			if l != null {
				counts[i][l]++
			}
		}
	}
	for i := range counts {
		normalize(counts[i])
		copy(m.U[i], counts[i])
	}
	// EM in one session per blocking rule, over all the pairs that rule made, as Splink does:
	// within a rule's pairs agreement on the fields it keys on is certain, not evidence, so
	// a session learns the m of the other fields only, and each field's m is the mean of the
	// sessions that learned it. (One EM over every candidate with every field let a rule on
	// the date of birth make every pair sharing one look like a match, once such pairs
	// outnumbered the true ones: λ went to 1 on a million records.) Pairs made without rules
	// (tests, a single session) are one session over every field.
	type session struct {
		mask     []bool
		patterns map[string]float64
	}
	sessions := map[int]*session{}
	var order []int
	for _, p := range pairs {
		rs := p.Rules
		if len(rs) == 0 {
			rs = []int{-1}
		}
		k := pattern(p.Levels)
		for _, r := range rs {
			ss := sessions[r]
			if ss == nil {
				ss = &session{mask: make([]bool, len(fields)), patterns: map[string]float64{}}
				if r >= 0 {
					for i, f := range fields {
						ss.mask[i] = slices.Contains(p.blocked[r].Fields, f.Name)
					}
				}
				sessions[r] = ss
				order = append(order, r)
			}
			ss.patterns[k]++
		}
	}
	slices.Sort(order)
	sum := zeros(fields)
	learned := make([]float64, len(fields))
	for _, r := range order {
		ss := sessions[r]
		mr, _, it, ok := em(fields, ss.mask, ss.patterns, m.M, m.U, m.Lambda)
		m.Iterations = max(m.Iterations, it)
		m.Converged = ok && (m.Converged || m.Iterations == it)
		for i := range fields {
			if !ss.mask[i] {
				for l := range mr[i] {
					sum[i][l] += mr[i][l]
				}
				learned[i]++
			}
		}
	}
	for i := range fields {
		if learned[i] > 0 {
			for l := range sum[i] {
				sum[i][l] /= learned[i]
			}
			m.M[i] = sum[i]
		}
	}
	// λ over every candidate pair, with m and u as learned.
	all := map[string]float64{}
	for _, p := range pairs {
		all[pattern(p.Levels)]++
	}
	noMask := make([]bool, len(fields))
	_, m.Lambda, _, _ = emLambda(fields, noMask, all, m.M, m.U, m.Lambda)
	for i, f := range fields {
		// EM can swap the classes' roles when the data are odd: matches must agree more.
		if m.M[i][0] < m.U[i][0] {
			return m, kenner.Errorf(kenner.EInvalid, "field %s: the estimated matches agree less often than non-matches; the blocking or the fields do not separate them", f.Name)
		}
	}
	return m, nil
}

// em estimates m (of the fields mask leaves in) and λ from the agreement patterns' counts,
// starting from m0; u stays. It returns m, λ, the iterations and whether it converged.
func em(fields []Field, mask []bool, patterns map[string]float64, m0, u [][]float64, lambda float64) ([][]float64, float64, int, bool) {
	return iterate(fields, mask, patterns, m0, u, lambda, true)
}

// emLambda estimates λ alone, m and u fixed.
func emLambda(fields []Field, mask []bool, patterns map[string]float64, m, u [][]float64, lambda float64) ([][]float64, float64, int, bool) {
	return iterate(fields, mask, patterns, m, u, lambda, false)
}

func iterate(fields []Field, mask []bool, patterns map[string]float64, m0, u [][]float64, lambda float64, learnM bool) ([][]float64, float64, int, bool) {
	m := make([][]float64, len(m0))
	for i := range m0 {
		m[i] = slices.Clone(m0[i])
	}
	keys := make([]string, 0, len(patterns))
	var total float64
	for k, n := range patterns {
		keys = append(keys, k)
		total += n
	}
	slices.Sort(keys)
	prev := math.Inf(-1)
	for it := 1; it <= 500; it++ {
		mc := zeros(fields)
		var matches, ll float64
		for _, k := range keys {
			n := patterns[k]
			lm, lu := math.Log(lambda), math.Log(1-lambda)
			for i := range fields {
				if l := int(k[i]) - 1; l != null && !mask[i] {
					lm += math.Log(m[i][l])
					lu += math.Log(u[i][l])
				}
			}
			top := max(lm, lu)
			ll += n * (top + math.Log(math.Exp(lm-top)+math.Exp(lu-top)))
			pm := 1 / (1 + math.Exp(lu-lm)) // P(match | pattern)
			matches += n * pm
			for i := range fields {
				if l := int(k[i]) - 1; l != null && !mask[i] {
					mc[i][l] += n * pm
				}
			}
		}
		lambda = min(max(matches/total, 1e-6), 1-1e-6)
		if learnM {
			for i := range fields {
				if mask[i] {
					continue
				}
				for l := range mc[i] {
					mc[i][l] += 1e-3 // no level is impossible
				}
				normalize(mc[i])
				m[i] = mc[i]
			}
		}
		if ll-prev < 1e-6*math.Abs(ll) {
			return m, lambda, it, true
		}
		prev = ll
	}
	return m, lambda, 500, false
}

func zeros(fields []Field) [][]float64 {
	out := make([][]float64, len(fields))
	for i, f := range fields {
		out[i] = make([]float64, levels(f.Kind))
	}
	return out
}

func normalize(v []float64) {
	var s float64
	for _, x := range v {
		s += x
	}
	for i := range v {
		v[i] /= s
	}
}

// Weight is the pair's match weight: log2 of the Bayes factor m/u summed over the fields
// (exact agreements on TF fields weighed by how rare the value is), and each field's part.
func (m *Model) Weight(a, b Record) (float64, []float64) {
	parts := make([]float64, len(m.Fields))
	var w float64
	for i, f := range m.Fields {
		l := f.level(a.Fields[f.Name], b.Fields[f.Name])
		if l == null {
			continue
		}
		u := m.U[i][l]
		if l == 0 && f.TF {
			// The chance that a non-match agrees on this very value is its frequency.
			if freq, ok := m.TF[f.Name][a.Fields[f.Name]]; ok {
				u = max(freq, 1e-6)
			}
		}
		parts[i] = math.Log2(m.M[i][l] / u)
		w += parts[i]
	}
	return w, parts
}

// Prior is the weight a pair needs for even odds: log2((1-λ)/λ). A pair's probability of
// matching is 1 / (1 + 2^(Prior - weight)).
func (m *Model) Prior() float64 { return math.Log2((1 - m.Lambda) / m.Lambda) }

// Probability is a pair's probability of matching, from its weight.
func (m *Model) Probability(w float64) float64 { return 1 / (1 + math.Exp2(m.Prior()-w)) }

func (m *Model) String() string {
	return fmt.Sprintf("λ=%.4f, %d iterations", m.Lambda, m.Iterations)
}
