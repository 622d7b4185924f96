package storetest

import (
	"testing"

	"github.com/kenner-cdp/kenner"
)

// testSpend: spend rows come back by day range, a row for the same day and campaign replaces
// the one before, workspaces are apart, and spend and rates survive ResetDerived.
func testSpend(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws_s")
	mustWorkspace(t, s, "ws_t")
	rows := []kenner.Spend{
		{Day: "2026-03-01", Source: "google", Medium: "cpc", Campaign: "brand", Amount: 100, Currency: "USD"},
		{Day: "2026-03-02", Source: "google", Medium: "cpc", Campaign: "brand", Amount: 80, Currency: "USD"},
		{Day: "2026-03-02", Source: "facebook", Medium: "paid_social", Campaign: "spring", Amount: 50, Currency: "EUR"},
		{Day: "2026-04-01", Source: "google", Medium: "cpc", Campaign: "brand", Amount: 10, Currency: "USD"},
	}
	if err := s.PutSpend(ctx(t), "ws_s", rows); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSpend(ctx(t), "ws_s", []kenner.Spend{{Day: "2026-03-02", Source: "google", Medium: "cpc", Campaign: "brand", Amount: 90, Currency: "USD"}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.SpendBetween(ctx(t), "ws_s", "2026-03-01", "2026-03-31")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Amount != 100 || got[2].Amount != 90 || got[1].Currency != "EUR" {
		t.Errorf("spend in March %+v", got)
	}
	if other, _ := s.SpendBetween(ctx(t), "ws_t", "2026-01-01", "2026-12-31"); len(other) != 0 {
		t.Errorf("another workspace sees %v", other)
	}
	if r, err := s.CurrencyRates(ctx(t), "ws_s"); err != nil || r != nil {
		t.Errorf("rates before any: %v %v", r, err)
	}
	rates := &kenner.CurrencyRates{Base: "EUR", Rates: map[string]float64{"USD": 0.92}}
	if err := s.SetCurrencyRates(ctx(t), "ws_s", rates); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetDerived(ctx(t)); err != nil {
		t.Fatal(err)
	}
	r, err := s.CurrencyRates(ctx(t), "ws_s")
	if err != nil || r == nil || r.Base != "EUR" || r.Rates["USD"] != 0.92 {
		t.Errorf("rates after ResetDerived: %+v %v", r, err)
	}
	if got, _ := s.SpendBetween(ctx(t), "ws_s", "2026-01-01", "2026-12-31"); len(got) != 4 {
		t.Errorf("spend after ResetDerived: %v", got)
	}
}
