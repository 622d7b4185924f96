package kenner

import (
	"encoding/json"
	"testing"
)

func TestSpendReadsCostOrAmount(t *testing.T) {
	for _, tc := range []struct {
		in     string
		amount float64
		ok     bool
	}{
		{`{"date":"2026-01-01","amount":5}`, 5, true},
		{`{"date":"2026-01-01","cost":7.5}`, 7.5, true},
		{`{"date":"2026-01-01","cost":3,"amount":3}`, 3, true},
		{`{"date":"2026-01-01","cost":3,"amount":4}`, 0, false},
		{`{"date":"2026-01-01","price":3}`, 0, false},
	} {
		var s Spend
		err := json.Unmarshal([]byte(tc.in), &s)
		if (err == nil) != tc.ok || (tc.ok && s.Amount != tc.amount) {
			t.Errorf("%s: %+v %v, want amount %v ok %v", tc.in, s, err, tc.amount, tc.ok)
		}
	}
}
