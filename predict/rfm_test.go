package predict

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRFMQuintiles(t *testing.T) {
	var cs []RFMInput
	for i := 1; i <= 100; i++ {
		cs = append(cs, RFMInput{Recency: float64(i), Frequency: float64(i), Monetary: float64(10 * i)})
	}
	m, err := FitRFM(cs)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   RFMInput
		want RFMScore
	}{
		{RFMInput{Recency: 1, Frequency: 100, Monetary: 1000}, RFMScore{R: 5, F: 5, M: 5, Score: "555", Segment: "Champions"}},
		{RFMInput{Recency: 100, Frequency: 1, Monetary: 10}, RFMScore{R: 1, F: 1, M: 1, Score: "111", Segment: "Lost"}},
		{RFMInput{Recency: 95, Frequency: 99, Monetary: 500}, RFMScore{R: 1, F: 5, M: 3, Score: "153", Segment: "Can't lose them"}},
		{RFMInput{Recency: 70, Frequency: 70, Monetary: 700}, RFMScore{R: 2, F: 4, M: 4, Score: "244", Segment: "At risk"}},
		{RFMInput{Recency: 3, Frequency: 2, Monetary: 20}, RFMScore{R: 5, F: 1, M: 1, Score: "511", Segment: "New customers"}},
	} {
		if diff := cmp.Diff(m.Score(tc.in), tc.want); diff != "" {
			t.Errorf("Score(%+v) (-got +want):\n%s", tc.in, diff)
		}
	}
	// Every cell of the grid has a name from the list.
	names := map[string]bool{}
	for _, n := range RFMSegments() {
		names[n] = true
	}
	for r := 1; r <= 5; r++ {
		for f := 1; f <= 5; f++ {
			if !names[RFMSegment(r, f)] {
				t.Errorf("RFMSegment(%d, %d) = %q, not a listed cell", r, f, RFMSegment(r, f))
			}
		}
	}
}

func TestRFMTiesShareAScore(t *testing.T) {
	// Most customers bought once: they all score the same frequency.
	var cs []RFMInput
	for i := 0; i < 80; i++ {
		cs = append(cs, RFMInput{Recency: float64(i), Frequency: 1, Monetary: 5})
	}
	for i := 0; i < 20; i++ {
		cs = append(cs, RFMInput{Recency: float64(i), Frequency: float64(2 + i), Monetary: 5})
	}
	m, _ := FitRFM(cs)
	if a, b := m.Score(cs[0]).F, m.Score(cs[79]).F; a != b || a != 1 {
		t.Errorf("one-time buyers score F=%d and %d, want both 1", a, b)
	}
}
