package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kenner-cdp/kenner"
)

const slotColumns = `id, workspace_id, name, definition, created_at, updated_at`

func scanSlot(row interface{ Scan(...any) error }) (*kenner.Slot, error) {
	var s kenner.Slot
	var def string
	var created, updated int64
	if err := row.Scan(&s.ID, &s.WorkspaceID, &s.Name, &def, &created, &updated); err != nil {
		return nil, err
	}
	s.CreatedAt, s.UpdatedAt = fromMillis(created), fromMillis(updated)
	if err := kenner.SetSlotDefinition(&s, []byte(def)); err != nil {
		return nil, fmt.Errorf("slot %s: %w", s.ID, err)
	}
	return &s, nil
}

// CreateSlot implements kenner.SlotStore.
func (s *Store) CreateSlot(ctx context.Context, sl *kenner.Slot) error {
	if sl.ID == "" {
		sl.ID = kenner.NewID("slot")
	}
	now := time.Now().UTC()
	sl.CreatedAt, sl.UpdatedAt = now, now
	def, err := kenner.SlotDefinition(sl)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO slots (`+slotColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		sl.ID, sl.WorkspaceID, sl.Name, string(def), millis(now), millis(now))
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "a slot named %q already exists", sl.Name)
	}
	if err != nil {
		return fmt.Errorf("create slot: %w", err)
	}
	return nil
}

// UpdateSlot implements kenner.SlotStore.
func (s *Store) UpdateSlot(ctx context.Context, sl *kenner.Slot) error {
	def, err := kenner.SlotDefinition(sl)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	res, err := s.w.ExecContext(ctx, `UPDATE slots SET name = ?, definition = ?, updated_at = ? WHERE workspace_id = ? AND id = ?`,
		sl.Name, string(def), millis(now), sl.WorkspaceID, sl.ID)
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "a slot named %q already exists", sl.Name)
	}
	if err != nil {
		return fmt.Errorf("update slot: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return kenner.Errorf(kenner.ENotFound, "no slot %q", sl.ID)
	}
	sl.UpdatedAt = now
	return nil
}

// DeleteSlot implements kenner.SlotStore.
func (s *Store) DeleteSlot(ctx context.Context, ws, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM slots WHERE workspace_id = ? AND id = ?`, ws, id)
	if err != nil {
		return fmt.Errorf("delete slot: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return kenner.Errorf(kenner.ENotFound, "no slot %q", id)
	}
	return nil
}

// Slot implements kenner.SlotStore.
func (s *Store) Slot(ctx context.Context, ws, id string) (*kenner.Slot, error) {
	sl, err := scanSlot(s.r.QueryRowContext(ctx, `SELECT `+slotColumns+` FROM slots WHERE workspace_id = ? AND id = ?`, ws, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no slot %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("slot: %w", err)
	}
	return sl, nil
}

// Slots implements kenner.SlotStore.
func (s *Store) Slots(ctx context.Context, ws string) ([]kenner.Slot, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+slotColumns+` FROM slots WHERE workspace_id = ? ORDER BY name`, ws)
	return scanAll(rows, err, "slots", scanSlot)
}
