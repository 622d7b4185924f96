package predict

import (
	"cmp"
	"math"
	"slices"

	"github.com/kenner-cdp/kenner"
)

// Affinity limits: the products a model keeps associations for (the most bought), the
// associations per product, and the support (buyers of both) below which a pair is chance.
const (
	maxAffinityItems   = 5000
	maxAssociations    = 20
	minPairSupport     = 2
	affinityShrinkage  = 5 // pseudo-buyers: a product bought by few says less
	maxBasketForCounts = 200
)

// Association is how likely a buyer of one product is to buy another: the share of the
// first product's buyers who bought it too, shrunk towards 0 for rarely bought products.
type Association struct {
	Item       string  `json:"item"`
	Confidence float64 `json:"confidence"`
}

// Affinity is a trained affinity model: for each product, the products bought with it.
type Affinity struct {
	With map[string][]Association `json:"with"`
	Top  int                      `json:"top"`
}

// Pair is two products bought by the same people, for the model card.
type Pair struct {
	A          string  `json:"a"`
	B          string  `json:"b"`
	Buyers     int     `json:"buyers"`
	Lift       float64 `json:"lift"`
	Confidence float64 `json:"confidence"`
}

// FitAffinity counts, over the buyers' sets of products, how often each pair was bought by
// the same person, and keeps each product's strongest associations. It also returns the pairs
// with the highest lift (bought together far more often than chance) for the card.
func FitAffinity(baskets [][]string, top int) (Affinity, []Pair, error) {
	n := map[string]int{}
	for _, b := range baskets {
		for _, it := range b {
			n[it]++
		}
	}
	if len(n) < 2 {
		return Affinity{}, nil, kenner.Errorf(kenner.EInvalid, "fewer than two products were bought: nothing goes with anything")
	}
	items := make([]string, 0, len(n))
	for it := range n {
		items = append(items, it)
	}
	slices.SortFunc(items, func(a, b string) int { return cmp.Or(cmp.Compare(n[b], n[a]), cmp.Compare(a, b)) })
	kept := map[string]bool{}
	for _, it := range items[:min(len(items), maxAffinityItems)] {
		kept[it] = true
	}
	co := map[[2]string]int{}
	for _, b := range baskets {
		if len(b) > maxBasketForCounts {
			b = b[:maxBasketForCounts] // a reseller buying everything says nothing of pairs
		}
		for i, x := range b {
			if !kept[x] {
				continue
			}
			for _, y := range b[i+1:] {
				if kept[y] && x != y {
					co[[2]string{x, y}]++
					co[[2]string{y, x}]++
				}
			}
		}
	}
	a := Affinity{With: map[string][]Association{}, Top: top}
	var pairs []Pair
	total := float64(len(baskets))
	for k, c := range co {
		if c < minPairSupport {
			continue
		}
		x, y := k[0], k[1]
		conf := float64(c) / float64(n[x]+affinityShrinkage)
		a.With[x] = append(a.With[x], Association{Item: y, Confidence: round(conf, 4)})
		if x < y {
			lift := float64(c) * total / (float64(n[x]) * float64(n[y]))
			pairs = append(pairs, Pair{A: x, B: y, Buyers: c, Lift: round(lift, 2), Confidence: round(float64(c)/float64(n[x]), 3)})
		}
	}
	if len(a.With) == 0 {
		return Affinity{}, nil, kenner.Errorf(kenner.EInvalid, "no two products were bought by the same %d people: nothing goes with anything yet", minPairSupport)
	}
	for x, as := range a.With {
		slices.SortFunc(as, func(p, q Association) int {
			return cmp.Or(cmp.Compare(q.Confidence, p.Confidence), cmp.Compare(p.Item, q.Item))
		})
		a.With[x] = as[:min(len(as), maxAssociations)]
	}
	slices.SortFunc(pairs, func(p, q Pair) int {
		return cmp.Or(cmp.Compare(q.Lift*math.Log1p(float64(q.Buyers)), p.Lift*math.Log1p(float64(p.Buyers))), cmp.Compare(p.A, q.A), cmp.Compare(p.B, q.B))
	})
	return a, pairs[:min(len(pairs), 20)], nil
}

// Recommend ranks the products a buyer of owned has not bought by the chance that at least
// one of their products leads to it: 1 - Π (1 - confidence).
func (a Affinity) Recommend(owned []string) ([]string, []float64) {
	have := map[string]bool{}
	for _, it := range owned {
		have[it] = true
	}
	miss := map[string]float64{} // Π (1 - confidence)
	for _, it := range owned {
		for _, as := range a.With[it] {
			if have[as.Item] {
				continue
			}
			if _, ok := miss[as.Item]; !ok {
				miss[as.Item] = 1
			}
			miss[as.Item] *= 1 - as.Confidence
		}
	}
	recs := make([]string, 0, len(miss))
	for it := range miss {
		recs = append(recs, it)
	}
	slices.SortFunc(recs, func(x, y string) int { return cmp.Or(cmp.Compare(miss[x], miss[y]), cmp.Compare(x, y)) })
	recs = recs[:min(len(recs), a.Top)]
	scores := make([]float64, len(recs))
	for i, it := range recs {
		scores[i] = round(1-miss[it], 4)
	}
	return recs, scores
}
