package predict

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestAffinityFindsPlantedPairs: in baskets drawn at random from 30 products, buyers of a tent
// also buy a sleeping bag 70% of the time; the model recommends the bag to a tent buyer, and
// the pair tops the card.
func TestAffinityFindsPlantedPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var baskets [][]string
	for range 2000 {
		seen := map[string]bool{}
		var b []string
		add := func(it string) {
			if !seen[it] {
				seen[it] = true
				b = append(b, it)
			}
		}
		for range 1 + rng.IntN(3) {
			add(fmt.Sprintf("p%02d", rng.IntN(30)))
		}
		if rng.Float64() < 0.2 {
			add("tent")
			if rng.Float64() < 0.7 {
				add("sleeping-bag")
			}
		}
		baskets = append(baskets, b)
	}
	a, pairs, err := FitAffinity(baskets, 3)
	if err != nil {
		t.Fatal(err)
	}
	recs, scores := a.Recommend([]string{"tent", "p03"})
	if len(recs) != 3 || recs[0] != "sleeping-bag" || scores[0] < 0.5 {
		t.Errorf("a tent buyer is recommended %v %v, want sleeping-bag first", recs, scores)
	}
	if p := pairs[0]; !(p.A == "sleeping-bag" && p.B == "tent") || p.Lift < 3 {
		t.Errorf("top pair = %+v, want sleeping-bag with tent", p)
	}
	if recs, _ := a.Recommend([]string{"tent", "sleeping-bag"}); len(recs) > 0 && (recs[0] == "tent" || recs[0] == "sleeping-bag") {
		t.Errorf("recommends what the person has: %v", recs)
	}
	if _, _, err := FitAffinity([][]string{{"a"}, {"a"}}, 3); err == nil {
		t.Error("one product: no error")
	}
}
