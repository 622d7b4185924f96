package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/kenner-cdp/kenner"
)

// SaveImport implements kenner.ImportStore.
func (s *Store) SaveImport(ctx context.Context, im *kenner.Import) error {
	doc, err := json.Marshal(im)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO imports (workspace_id, id, doc) VALUES ($1, $2, $3)
		ON CONFLICT (workspace_id, id) DO UPDATE SET doc = excluded.doc`, im.WorkspaceID, im.ID, doc)
	if err != nil {
		return fmt.Errorf("save import: %w", err)
	}
	return nil
}

// Import implements kenner.ImportStore.
func (s *Store) Import(ctx context.Context, ws, id string) (*kenner.Import, error) {
	var doc []byte
	err := s.pool.QueryRow(ctx, `SELECT doc FROM imports WHERE workspace_id = $1 AND id = $2`, ws, id).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no import %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	im := &kenner.Import{}
	return im, json.Unmarshal(doc, im)
}

// Imports implements kenner.ImportStore.
func (s *Store) Imports(ctx context.Context, ws, after string, limit int) ([]kenner.Import, string, error) {
	before := int64(1<<63 - 1)
	if after != "" {
		var err error
		if before, err = strconv.ParseInt(after, 10, 64); err != nil {
			return nil, "", kenner.Errorf(kenner.EInvalid, "bad cursor %q", after)
		}
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, doc FROM imports WHERE workspace_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`, ws, before, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("imports: %w", err)
	}
	defer rows.Close()
	var out []kenner.Import
	var seqs []int64
	for rows.Next() {
		var seq int64
		var doc []byte
		if err := rows.Scan(&seq, &doc); err != nil {
			return nil, "", err
		}
		var im kenner.Import
		if err := json.Unmarshal(doc, &im); err != nil {
			return nil, "", err
		}
		out, seqs = append(out, im), append(seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatInt(seqs[limit-1], 10)
	}
	return out, next, nil
}

// ImportKeysSeen implements kenner.ImportStore.
func (s *Store) ImportKeysSeen(ctx context.Context, ws string, keys [][]byte) ([]bool, error) {
	out := make([]bool, len(keys))
	pos := make(map[string][]int, len(keys))
	for i, k := range keys {
		pos[string(k)] = append(pos[string(k)], i)
	}
	rows, err := s.pool.Query(ctx, `SELECT key FROM import_keys WHERE workspace_id = $1 AND key = ANY($2)`, ws, keys)
	if err != nil {
		return nil, fmt.Errorf("import keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		for _, i := range pos[string(k)] {
			out[i] = true
		}
	}
	return out, rows.Err()
}

// AddImportKeys implements kenner.ImportStore.
func (s *Store) AddImportKeys(ctx context.Context, ws string, keys [][]byte) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO import_keys (workspace_id, key) SELECT $1, unnest($2::bytea[]) ON CONFLICT DO NOTHING`, ws, keys)
	if err != nil {
		return fmt.Errorf("add import keys: %w", err)
	}
	return nil
}
