package match

import (
	"testing"
)

func rec(id string, kv ...string) Record {
	r := Record{ID: id, Fields: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Fields[kv[i]] = kv[i+1]
	}
	return r
}

func TestLevels(t *testing.T) {
	for _, tc := range []struct {
		f    Field
		a, b string
		want int
	}{
		{Field{Kind: Name}, "john", "john", 0},
		{Field{Kind: Name}, "catherine", "catharine", 1},
		{Field{Kind: Name}, "catherine", "kathryn", 2}, // sounds alike
		{Field{Kind: Name}, "john", "mary", 3},
		{Field{Kind: Name}, "", "mary", null},
		{Field{Kind: Code}, "19800312", "19800313", 1},
		{Field{Kind: Code}, "1234", "1243", 1}, // a transposition
		{Field{Kind: Code}, "19800312", "19751102", 2},
		{Field{Kind: Text}, "kingsway", "king's way", 1},
		{Field{Kind: Exact}, "nsw", "vic", 1},
	} {
		if got := tc.f.level(tc.a, tc.b); got != tc.want {
			t.Errorf("%s level(%q, %q) = %d, want %d", tc.f.Kind, tc.a, tc.b, got, tc.want)
		}
	}
}

// TestTermFrequency: agreeing on a rare surname weighs more than on a common one.
func TestTermFrequency(t *testing.T) {
	fields := []Field{{Name: "surname", Kind: Name, TF: true}}
	m := &Model{Fields: fields, M: [][]float64{{0.9, 0.05, 0.03, 0.02}}, U: [][]float64{{0.01, 0.02, 0.07, 0.9}}, Lambda: 0.1,
		TF: map[string]map[string]float64{"surname": {"smith": 0.2, "zuckerkandl": 0.0005}}}
	common, _ := m.Weight(rec("a", "surname", "smith"), rec("b", "surname", "smith"))
	rare, parts := m.Weight(rec("a", "surname", "zuckerkandl"), rec("b", "surname", "zuckerkandl"))
	if !(rare > common+5) || parts[0] != rare {
		t.Errorf("weights: smith %.2f, zuckerkandl %.2f (parts %v); want the rare name far heavier", common, rare, parts)
	}
}

// TestNoChaining: A~B and B~C strongly, A and C unalike: the cluster does not take all three.
func TestNoChaining(t *testing.T) {
	fields := []Field{{Name: "x", Kind: Exact}, {Name: "y", Kind: Exact}}
	m := &Model{Fields: fields, M: [][]float64{{0.95, 0.05}, {0.95, 0.05}}, U: [][]float64{{0.05, 0.95}, {0.05, 0.95}}, Lambda: 0.5}
	recs := []Record{rec("a", "x", "1", "y", "p"), rec("b", "x", "1", "y", "q"), rec("c", "x", "2", "y", "q")}
	links := []Link{}
	for _, p := range [][2]int{{0, 1}, {1, 2}, {0, 2}} {
		w, _ := m.Weight(recs[p[0]], recs[p[1]])
		links = append(links, Link{A: p[0], B: p[1], Weight: w})
	}
	// A~B and B~C each agree on one field and disagree on the other: weight 0; lower the
	// bar to -1 so that each link alone passes, while A and C disagree on both.
	clusters, refused := m.Clusters(recs, links, -1)
	if len(clusters) != 1 || len(clusters[0]) != 2 || len(refused) != 1 {
		t.Errorf("clusters %v, refused %v: want one pair and the chain's link refused", clusters, refused)
	}
}
