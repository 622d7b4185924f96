package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kenner-cdp/kenner"
)

const syncColumns = `workspace_id, document, paused, next_run_at, state`

func scanSync(row pgx.Row) (*kenner.Sync, error) {
	var ws, state string
	var doc []byte
	var paused bool
	var next *time.Time
	if err := row.Scan(&ws, &doc, &paused, &next, &state); err != nil {
		return nil, err
	}
	sy := &kenner.Sync{}
	if err := json.Unmarshal(doc, sy); err != nil {
		return nil, err
	}
	sy.WorkspaceID, sy.Paused, sy.NextRunAt, sy.State = ws, paused, nil, nil
	if next != nil {
		t := next.UTC()
		sy.NextRunAt = &t
	}
	if state != "" {
		sy.State = json.RawMessage(state)
	}
	return sy, nil
}

func collectSyncs(rows pgx.Rows, err error, what string) ([]kenner.Sync, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.Sync, error) {
		sy, err := scanSync(r)
		if err != nil {
			return kenner.Sync{}, err
		}
		return *sy, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// SaveSync implements kenner.SyncStore. The state is the runs' to keep: saving a sync's
// settings leaves it as it is.
func (s *Store) SaveSync(ctx context.Context, sy *kenner.Sync) error {
	doc, err := json.Marshal(sy)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO syncs (workspace_id, id, name, paused, next_run_at, document, state) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (workspace_id, id) DO UPDATE SET name = excluded.name, paused = excluded.paused, next_run_at = excluded.next_run_at, document = excluded.document`,
		sy.WorkspaceID, sy.ID, sy.Name, sy.Paused, sy.NextRunAt, doc, string(sy.State))
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
	sy, err := scanSync(s.pool.QueryRow(ctx, `SELECT `+syncColumns+` FROM syncs WHERE workspace_id = $1 AND id = $2`, ws, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no sync %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	return sy, nil
}

// Syncs implements kenner.SyncStore.
func (s *Store) Syncs(ctx context.Context, ws string) ([]kenner.Sync, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+syncColumns+` FROM syncs WHERE workspace_id = $1 ORDER BY name`, ws)
	return collectSyncs(rows, err, "syncs")
}

// SyncsDue implements kenner.SyncStore.
func (s *Store) SyncsDue(ctx context.Context, now time.Time) ([]kenner.Sync, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+syncColumns+` FROM syncs WHERE NOT paused AND next_run_at <= $1 ORDER BY next_run_at`, now)
	return collectSyncs(rows, err, "syncs due")
}

// DeleteSync implements kenner.SyncStore.
func (s *Store) DeleteSync(ctx context.Context, ws, id string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM syncs WHERE workspace_id = $1 AND id = $2`, ws, id)
		if err != nil {
			return fmt.Errorf("delete sync: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return kenner.Errorf(kenner.ENotFound, "no sync %q", id)
		}
		for _, q := range []string{`DELETE FROM sync_runs WHERE workspace_id = $1 AND sync_id = $2`, `DELETE FROM sync_items WHERE workspace_id = $1 AND sync_id = $2`} {
			if _, err := tx.Exec(ctx, q, ws, id); err != nil {
				return fmt.Errorf("delete sync: %w", err)
			}
		}
		return nil
	})
}

// StartSyncRun implements kenner.SyncStore. The sync's row is locked first, so that two
// servers starting the same sync at once take turns and the second sees the first's run.
func (s *Store) StartSyncRun(ctx context.Context, run *kenner.SyncRun, next *time.Time, staleBefore time.Time) error {
	doc, err := json.Marshal(run)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM syncs WHERE workspace_id = $1 AND id = $2 FOR UPDATE`, run.WorkspaceID, run.SyncID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return kenner.Errorf(kenner.ENotFound, "no sync %q", run.SyncID)
		}
		if err != nil {
			return fmt.Errorf("start sync run: %w", err)
		}
		var busy string
		err = tx.QueryRow(ctx, `SELECT id FROM sync_runs WHERE workspace_id = $1 AND sync_id = $2 AND status = $3 AND updated_at > $4 LIMIT 1`,
			run.WorkspaceID, run.SyncID, kenner.SyncRunning, staleBefore).Scan(&busy)
		if err == nil {
			return kenner.Errorf(kenner.EConflict, "sync %s is running (run %s)", run.SyncID, busy)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("start sync run: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE syncs SET next_run_at = $1 WHERE workspace_id = $2 AND id = $3`, next, run.WorkspaceID, run.SyncID); err != nil {
			return fmt.Errorf("start sync run: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sync_runs (workspace_id, sync_id, id, status, started_at, updated_at, document) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			run.WorkspaceID, run.SyncID, run.ID, run.Status, run.StartedAt, run.UpdatedAt, doc); err != nil {
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
	if _, err := s.pool.Exec(ctx, `UPDATE sync_runs SET status = $1, updated_at = $2, document = $3 WHERE workspace_id = $4 AND id = $5`,
		run.Status, run.UpdatedAt, doc, run.WorkspaceID, run.ID); err != nil {
		return fmt.Errorf("save sync run: %w", err)
	}
	return nil
}

// SaveSyncState implements kenner.SyncStore.
func (s *Store) SaveSyncState(ctx context.Context, ws, id string, state json.RawMessage) error {
	if _, err := s.pool.Exec(ctx, `UPDATE syncs SET state = $1 WHERE workspace_id = $2 AND id = $3`, string(state), ws, id); err != nil {
		return fmt.Errorf("save sync state: %w", err)
	}
	return nil
}

// SyncRuns implements kenner.SyncStore.
func (s *Store) SyncRuns(ctx context.Context, ws, syncID string, limit int) ([]kenner.SyncRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT document FROM sync_runs WHERE workspace_id = $1 AND sync_id = $2 ORDER BY started_at DESC, id DESC LIMIT $3`, ws, syncID, limit)
	if err != nil {
		return nil, fmt.Errorf("sync runs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.SyncRun, error) {
		var doc []byte
		run := kenner.SyncRun{WorkspaceID: ws}
		if err := r.Scan(&doc); err != nil {
			return run, err
		}
		return run, json.Unmarshal(doc, &run)
	})
	if err != nil {
		return nil, fmt.Errorf("sync runs: %w", err)
	}
	return out, nil
}

// PutSyncItems implements kenner.SyncStore.
func (s *Store) PutSyncItems(ctx context.Context, ws, syncID string, items []kenner.SyncItem) error {
	for len(items) > 0 {
		n := min(len(items), 5000)
		keys, kinds, values := make([]string, n), make([]string, n), make([]string, n)
		for i, it := range items[:n] {
			keys[i], kinds[i], values[i] = it.Key, it.Ref.Kind, it.Ref.Value
		}
		// A key twice in one call: the last one stands, as one at a time would leave it.
		if _, err := s.pool.Exec(ctx, `INSERT INTO sync_items (workspace_id, sync_id, key, kind, value)
			SELECT DISTINCT ON (k) $1, $2, k, kd, v FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS t(k, kd, v, o) ORDER BY k, o DESC
			ON CONFLICT (workspace_id, sync_id, key) DO UPDATE SET kind = excluded.kind, value = excluded.value`, ws, syncID, keys, kinds, values); err != nil {
			return fmt.Errorf("put sync items: %w", err)
		}
		items = items[n:]
	}
	return nil
}

// SyncItems implements kenner.SyncStore.
func (s *Store) SyncItems(ctx context.Context, ws, syncID, after string, limit int) ([]kenner.SyncItem, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, kind, value FROM sync_items WHERE workspace_id = $1 AND sync_id = $2 AND key > $3 ORDER BY key LIMIT $4`, ws, syncID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sync items: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.SyncItem, error) {
		var it kenner.SyncItem
		return it, r.Scan(&it.Key, &it.Ref.Kind, &it.Ref.Value)
	})
	if err != nil {
		return nil, fmt.Errorf("sync items: %w", err)
	}
	return out, nil
}

// DeleteSyncItems implements kenner.SyncStore.
func (s *Store) DeleteSyncItems(ctx context.Context, ws, syncID string, keys []string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sync_items WHERE workspace_id = $1 AND sync_id = $2 AND key = ANY($3)`, ws, syncID, keys); err != nil {
		return fmt.Errorf("delete sync items: %w", err)
	}
	return nil
}
