package analytics

import (
	"testing"
	"time"
)

// TestRetention: 700 people, 100 starting each day of the week of 2026-03-02 (a Monday) and
// 100 more in the next week; person i of a cohort comes back in week 1 when i%2 == 0, in week
// 2 when i%4 == 0, in week 3 never, and twice in week 1 when i%10 == 0 (counted once).
func TestRetention(t *testing.T) {
	r, err := NewRetention(Week, 3, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	monday := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for d := range 8 {
		first := monday.AddDate(0, 0, d)
		for i := range 100 {
			week := PeriodStart(first, Week, time.UTC)
			var returns []time.Time
			if i%2 == 0 {
				returns = append(returns, week.AddDate(0, 0, 7+i%7))
			}
			if i%10 == 0 {
				returns = append(returns, week.AddDate(0, 0, 8))
			}
			if i%4 == 0 {
				returns = append(returns, week.AddDate(0, 0, 14))
			}
			r.Add(first, returns)
		}
	}
	res := r.Result()
	if len(res) != 2 || res[0].People != 700 || res[1].People != 100 || !res[0].Start.Equal(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("cohorts %+v", res)
	}
	if got := res[0].Returned; got[0] != 350 || got[1] != 175 || got[2] != 0 {
		t.Errorf("returned %v, want [350 175 0]", got)
	}
	if res[0].Shares[0] != 0.5 || res[0].Shares[1] != 0.25 {
		t.Errorf("shares %v", res[0].Shares)
	}
	if _, err := NewRetention("year", 3, nil); err == nil {
		t.Error("a yearly retention accepted")
	}
}

func TestTrend(t *testing.T) {
	for _, tc := range []struct {
		measure string
		want    map[string][]float64
		total   map[string]float64
	}{
		{Count, map[string][]float64{"web": {3, 0, 1}, "app": {1, 0, 0}}, map[string]float64{"web": 4, "app": 1}},
		{Unique, map[string][]float64{"web": {2, 0, 1}, "app": {1, 0, 0}}, map[string]float64{"web": 2, "app": 1}},
		{Sum, map[string][]float64{"web": {30, 0, 5}, "app": {7, 0, 0}}, map[string]float64{"web": 35, "app": 7}},
		{Avg, map[string][]float64{"web": {15, 0, 5}, "app": {7, 0, 0}}, map[string]float64{"web": 35.0 / 3, "app": 7}},
	} {
		d := func(n int, h int) time.Time { return time.Date(2026, 3, 1+n, h, 0, 0, 0, time.UTC) }
		tr, err := NewTrend(tc.measure, Day, time.UTC, d(0, 0), d(3, 0))
		if err != nil {
			t.Fatal(err)
		}
		tr.Add(d(0, 1), 1, 10, true, "web")
		tr.Add(d(0, 2), 1, 20, true, "web")
		tr.Add(d(0, 3), 2, 0, false, "web")
		tr.Add(d(0, 4), 3, 7, true, "app")
		tr.Add(d(2, 5), 2, 5, true, "web")
		tr.Add(d(9, 5), 2, 5, true, "web") // outside the range
		periods, series := tr.Result()
		if len(periods) != 3 {
			t.Fatalf("%s: periods %v", tc.measure, periods)
		}
		if len(series) != 2 || series[0].Breakdown != "web" {
			t.Fatalf("%s: series %+v", tc.measure, series)
		}
		for _, s := range series {
			for i, v := range tc.want[s.Breakdown] {
				if !near(s.Values[i], v) {
					t.Errorf("%s %s: values %v, want %v", tc.measure, s.Breakdown, s.Values, tc.want[s.Breakdown])
					break
				}
			}
			if !near(s.Total, tc.total[s.Breakdown]) {
				t.Errorf("%s %s: total %v, want %v", tc.measure, s.Breakdown, s.Total, tc.total[s.Breakdown])
			}
		}
	}
}

func TestPeriodStart(t *testing.T) {
	sun := time.Date(2026, 3, 8, 23, 0, 0, 0, time.UTC)
	if got := PeriodStart(sun, Week, time.UTC); !got.Equal(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("week of Sunday 8 March: %v", got)
	}
	if got := PeriodStart(sun, Month, time.UTC); !got.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("month: %v", got)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	if got := PeriodStart(sun, Day, berlin); got.Day() != 9 {
		t.Errorf("23:00 UTC on the 8th is the 9th in Berlin: %v", got)
	}
}
