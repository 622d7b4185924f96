package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kenner-cdp/kenner"
)

// PutSpend implements kenner.SpendStore.
func (s *Store) PutSpend(ctx context.Context, ws string, rows []kenner.Spend) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, r := range rows {
			if _, err := tx.ExecContext(ctx, `INSERT INTO ad_spend (workspace_id, day, source, medium, campaign, amount, currency) VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (workspace_id, day, source, medium, campaign) DO UPDATE SET amount = excluded.amount, currency = excluded.currency`,
				ws, r.Day, r.Source, r.Medium, r.Campaign, r.Amount, r.Currency); err != nil {
				return fmt.Errorf("put spend: %w", err)
			}
		}
		return nil
	})
}

// SpendBetween implements kenner.SpendStore.
func (s *Store) SpendBetween(ctx context.Context, ws, from, to string) ([]kenner.Spend, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT day, source, medium, campaign, amount, currency FROM ad_spend
		WHERE workspace_id = ? AND day >= ? AND day <= ? ORDER BY day, source, medium, campaign`, ws, from, to)
	if err != nil {
		return nil, fmt.Errorf("spend: %w", err)
	}
	defer rows.Close()
	var out []kenner.Spend
	for rows.Next() {
		var r kenner.Spend
		if err := rows.Scan(&r.Day, &r.Source, &r.Medium, &r.Campaign, &r.Amount, &r.Currency); err != nil {
			return nil, fmt.Errorf("spend: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetCurrencyRates implements kenner.SpendStore.
func (s *Store) SetCurrencyRates(ctx context.Context, ws string, r *kenner.CurrencyRates) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO currency_rates (workspace_id, document) VALUES (?, ?)
		ON CONFLICT (workspace_id) DO UPDATE SET document = excluded.document`, ws, string(doc)); err != nil {
		return fmt.Errorf("set currency rates: %w", err)
	}
	return nil
}

// CurrencyRates implements kenner.SpendStore.
func (s *Store) CurrencyRates(ctx context.Context, ws string) (*kenner.CurrencyRates, error) {
	var doc string
	err := s.r.QueryRowContext(ctx, `SELECT document FROM currency_rates WHERE workspace_id = ?`, ws).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("currency rates: %w", err)
	}
	var r kenner.CurrencyRates
	if err := json.Unmarshal([]byte(doc), &r); err != nil {
		return nil, fmt.Errorf("currency rates: %w", err)
	}
	return &r, nil
}
