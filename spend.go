package kenner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Spend is what was spent on a campaign on a day, in a currency, as the ad platform reports it.
type Spend struct {
	Day      string  `json:"date"` // YYYY-MM-DD
	Source   string  `json:"source"`
	Medium   string  `json:"medium"`
	Campaign string  `json:"campaign"`
	Amount   float64 `json:"amount"`
	Currency string  `json:"currency"`
}

// UnmarshalJSON reads a spend row; the amount may also be given as "cost" (the name of
// the public contract and of most ad platforms' exports).
func (s *Spend) UnmarshalJSON(b []byte) error {
	type plain Spend
	var in struct {
		plain
		Cost *float64 `json:"cost"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return err
	}
	if in.Cost != nil {
		if in.Amount != 0 && in.Amount != *in.Cost {
			return Errorf(EInvalid, "give the amount once, as cost or as amount")
		}
		in.Amount = *in.Cost
	}
	*s = Spend(in.plain)
	return nil
}

// CurrencyRates converts amounts to the workspace's reporting currency: Rates[c] is how much
// one unit of currency c is worth in Base.
type CurrencyRates struct {
	Base      string             `json:"base"`
	Rates     map[string]float64 `json:"rates"`
	UpdatedAt time.Time          `json:"updated_at"`
}

// Convert converts an amount of a currency ("" is the base) to the base; ok is false when the
// table has no rate for it.
func (r *CurrencyRates) Convert(amount float64, currency string) (float64, bool) {
	currency = strings.ToUpper(currency)
	if r == nil || currency == "" || currency == r.Base {
		return amount, true
	}
	rate, ok := r.Rates[currency]
	return amount * rate, ok
}

// Check normalizes the table and says what is wrong with it.
func (r *CurrencyRates) Check() error {
	r.Base = strings.ToUpper(strings.TrimSpace(r.Base))
	if !isCurrency(r.Base) {
		return Errorf(EInvalid, "base: want a three-letter ISO 4217 currency code (EUR, USD), not %q", r.Base)
	}
	rates := make(map[string]float64, len(r.Rates))
	for c, v := range r.Rates {
		cu := strings.ToUpper(strings.TrimSpace(c))
		if !isCurrency(cu) {
			return Errorf(EInvalid, "rates: %q is not a three-letter currency code", c)
		}
		if !(v > 0) {
			return Errorf(EInvalid, "rates: %s must be worth more than 0 %s", cu, r.Base)
		}
		rates[cu] = v
	}
	r.Rates = rates
	return nil
}

func isCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for _, r := range c {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// Check normalizes a spend row and says what is wrong with it.
func (s *Spend) Check() error {
	d, err := time.Parse(time.DateOnly, strings.TrimSpace(s.Day))
	if err != nil {
		return fmt.Errorf("date: want YYYY-MM-DD, not %q", s.Day)
	}
	s.Day = d.Format(time.DateOnly)
	s.Source, s.Medium, s.Campaign = strings.TrimSpace(s.Source), strings.TrimSpace(s.Medium), strings.TrimSpace(s.Campaign)
	if s.Source == "" && s.Campaign == "" {
		return fmt.Errorf("name the source or the campaign the money went to")
	}
	if s.Amount < 0 {
		return fmt.Errorf("amount: %v is negative", s.Amount)
	}
	s.Currency = strings.ToUpper(strings.TrimSpace(s.Currency))
	if s.Currency != "" && !isCurrency(s.Currency) {
		return fmt.Errorf("currency: want a three-letter code, not %q", s.Currency)
	}
	return nil
}

// SpendStore keeps ad spend and the currency rates. Both are configuration: ResetDerived keeps
// them.
type SpendStore interface {
	// PutSpend records spend; a row for the same day, source, medium and campaign replaces the
	// one before (importing a platform's report again updates it).
	PutSpend(ctx context.Context, workspaceID string, rows []Spend) error
	// SpendBetween lists the spend of the days from from to to (YYYY-MM-DD, inclusive).
	SpendBetween(ctx context.Context, workspaceID, from, to string) ([]Spend, error)
	SetCurrencyRates(ctx context.Context, workspaceID string, r *CurrencyRates) error
	// CurrencyRates answers the workspace's table (nil when none was set).
	CurrencyRates(ctx context.Context, workspaceID string) (*CurrencyRates, error)
}
