package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
)

const syncColumns = `workspace_id, document, paused, next_run_at, state`

func scanSync(row interface{ Scan(...any) error }) (*kenner.Sync, error) {
	var ws, doc, state string
	var paused bool
	var next sql.NullInt64
	if err := row.Scan(&ws, &doc, &paused, &next, &state); err != nil {
		return nil, err
	}
	sy := &kenner.Sync{}
	if err := json.Unmarshal([]byte(doc), sy); err != nil {
		return nil, err
	}
	sy.WorkspaceID, sy.Paused, sy.NextRunAt, sy.State = ws, paused, fromNullMillis(next), nil
	if state != "" {
		sy.State = json.RawMessage(state)
	}
	return sy, nil
}

// SaveSync implements kenner.SyncStore. The state is the runs' to keep: saving a sync's
// settings leaves it as it is.
func (s *Store) SaveSync(ctx context.Context, sy *kenner.Sync) error {
	doc, err := json.Marshal(sy)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO syncs (workspace_id, id, name, paused, next_run_at, document, state) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (workspace_id, id) DO UPDATE SET name = excluded.name, paused = excluded.paused, next_run_at = excluded.next_run_at, document = excluded.document`,
		sy.WorkspaceID, sy.ID, sy.Name, sy.Paused, nullMillis(sy.NextRunAt), string(doc), string(sy.State))
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "a sync named %q already exists", sy.Name)
	}
	if err != nil {
		return fmt.Errorf("save sync: %w", err)
	}
	return nil
}

// Sync implements kenner.SyncStore.
func (s *Store) Sync(ctx context.Context, ws, id string) (*kenner.Sync, error) {
	sy, err := scanSync(s.r.QueryRowContext(ctx, `SELECT `+syncColumns+` FROM syncs WHERE workspace_id = ? AND id = ?`, ws, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no sync %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	return sy, nil
}

// Syncs implements kenner.SyncStore.
func (s *Store) Syncs(ctx context.Context, ws string) ([]kenner.Sync, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+syncColumns+` FROM syncs WHERE workspace_id = ? ORDER BY name`, ws)
	return scanAll(rows, err, "syncs", scanSync)
}

// SyncsDue implements kenner.SyncStore.
func (s *Store) SyncsDue(ctx context.Context, now time.Time) ([]kenner.Sync, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+syncColumns+` FROM syncs WHERE paused = 0 AND next_run_at <= ? ORDER BY next_run_at`, millis(now))
	return scanAll(rows, err, "syncs due", scanSync)
}

// DeleteSync implements kenner.SyncStore.
func (s *Store) DeleteSync(ctx context.Context, ws, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM syncs WHERE workspace_id = ? AND id = ?`, ws, id)
		if err != nil {
			return fmt.Errorf("delete sync: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return kenner.Errorf(kenner.ENotFound, "no sync %q", id)
		}
		for _, q := range []string{`DELETE FROM sync_runs WHERE workspace_id = ? AND sync_id = ?`, `DELETE FROM sync_items WHERE workspace_id = ? AND sync_id = ?`} {
			if _, err := tx.ExecContext(ctx, q, ws, id); err != nil {
				return fmt.Errorf("delete sync: %w", err)
			}
		}
		return nil
	})
}

// StartSyncRun implements kenner.SyncStore.
func (s *Store) StartSyncRun(ctx context.Context, run *kenner.SyncRun, next *time.Time, staleBefore time.Time) error {
	doc, err := json.Marshal(run)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var busy string
		err := tx.QueryRowContext(ctx, `SELECT id FROM sync_runs WHERE workspace_id = ? AND sync_id = ? AND status = ? AND updated_at > ? LIMIT 1`,
			run.WorkspaceID, run.SyncID, kenner.SyncRunning, millis(staleBefore)).Scan(&busy)
		if err == nil {
			return kenner.Errorf(kenner.EConflict, "sync %s is running (run %s)", run.SyncID, busy)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("start sync run: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE syncs SET next_run_at = ? WHERE workspace_id = ? AND id = ?`, nullMillis(next), run.WorkspaceID, run.SyncID)
		if err != nil {
			return fmt.Errorf("start sync run: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return kenner.Errorf(kenner.ENotFound, "no sync %q", run.SyncID)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sync_runs (workspace_id, sync_id, id, status, started_at, updated_at, document) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			run.WorkspaceID, run.SyncID, run.ID, run.Status, millis(run.StartedAt), millis(run.UpdatedAt), string(doc)); err != nil {
			return fmt.Errorf("start sync run: %w", err)
		}
		return nil
	})
}

// SaveSyncRun implements kenner.SyncStore.
func (s *Store) SaveSyncRun(ctx context.Context, run *kenner.SyncRun) error {
	doc, err := json.Marshal(run)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `UPDATE sync_runs SET status = ?, updated_at = ?, document = ? WHERE workspace_id = ? AND id = ?`,
		run.Status, millis(run.UpdatedAt), string(doc), run.WorkspaceID, run.ID)
	if err != nil {
		return fmt.Errorf("save sync run: %w", err)
	}
	return nil
}

// SaveSyncState implements kenner.SyncStore.
func (s *Store) SaveSyncState(ctx context.Context, ws, id string, state json.RawMessage) error {
	_, err := s.w.ExecContext(ctx, `UPDATE syncs SET state = ? WHERE workspace_id = ? AND id = ?`, string(state), ws, id)
	if err != nil {
		return fmt.Errorf("save sync state: %w", err)
	}
	return nil
}

// SyncRuns implements kenner.SyncStore.
func (s *Store) SyncRuns(ctx context.Context, ws, syncID string, limit int) ([]kenner.SyncRun, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT document FROM sync_runs WHERE workspace_id = ? AND sync_id = ? ORDER BY started_at DESC, id DESC LIMIT ?`, ws, syncID, limit)
	return scanAll(rows, err, "sync runs", func(row interface{ Scan(...any) error }) (*kenner.SyncRun, error) {
		var doc string
		if err := row.Scan(&doc); err != nil {
			return nil, err
		}
		r := &kenner.SyncRun{WorkspaceID: ws}
		return r, json.Unmarshal([]byte(doc), r)
	})
}

// PutSyncItems implements kenner.SyncStore.
func (s *Store) PutSyncItems(ctx context.Context, ws, syncID string, items []kenner.SyncItem) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO sync_items (workspace_id, sync_id, key, kind, value) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (workspace_id, sync_id, key) DO UPDATE SET kind = excluded.kind, value = excluded.value`)
		if err != nil {
			return fmt.Errorf("put sync items: %w", err)
		}
		defer st.Close()
		for _, it := range items {
			if _, err := st.ExecContext(ctx, ws, syncID, it.Key, it.Ref.Kind, it.Ref.Value); err != nil {
				return fmt.Errorf("put sync items: %w", err)
			}
		}
		return nil
	})
}

// SyncItems implements kenner.SyncStore.
func (s *Store) SyncItems(ctx context.Context, ws, syncID, after string, limit int) ([]kenner.SyncItem, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT key, kind, value FROM sync_items WHERE workspace_id = ? AND sync_id = ? AND key > ? ORDER BY key LIMIT ?`, ws, syncID, after, limit)
	return scanAll(rows, err, "sync items", func(row interface{ Scan(...any) error }) (*kenner.SyncItem, error) {
		it := &kenner.SyncItem{}
		return it, row.Scan(&it.Key, &it.Ref.Kind, &it.Ref.Value)
	})
}

// DeleteSyncItems implements kenner.SyncStore.
func (s *Store) DeleteSyncItems(ctx context.Context, ws, syncID string, keys []string) error {
	for len(keys) > 0 {
		n := min(len(keys), 500)
		args := []any{ws, syncID}
		for _, k := range keys[:n] {
			args = append(args, k)
		}
		q := `DELETE FROM sync_items WHERE workspace_id = ? AND sync_id = ? AND key IN (?` + strings.Repeat(", ?", n-1) + `)`
		if _, err := s.w.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("delete sync items: %w", err)
		}
		keys = keys[n:]
	}
	return nil
}
