package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kenner-cdp/kenner"
)

// SaveImport implements kenner.ImportStore.
func (s *Store) SaveImport(ctx context.Context, im *kenner.Import) error {
	doc, err := json.Marshal(im)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO imports (workspace_id, id, doc) VALUES (?, ?, ?)
		ON CONFLICT (workspace_id, id) DO UPDATE SET doc = excluded.doc`, im.WorkspaceID, im.ID, doc)
	if err != nil {
		return fmt.Errorf("save import: %w", err)
	}
	return nil
}

// Import implements kenner.ImportStore.
func (s *Store) Import(ctx context.Context, ws, id string) (*kenner.Import, error) {
	var doc []byte
	err := s.r.QueryRowContext(ctx, `SELECT doc FROM imports WHERE workspace_id = ? AND id = ?`, ws, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
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
	q, args := `SELECT seq, doc FROM imports WHERE workspace_id = ?`, []any{ws}
	if after != "" {
		seq, err := strconv.ParseInt(after, 10, 64)
		if err != nil {
			return nil, "", kenner.Errorf(kenner.EInvalid, "bad cursor %q", after)
		}
		q, args = q+` AND seq < ?`, append(args, seq)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY seq DESC LIMIT ?`, append(args, limit+1)...)
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

// importKeysChunk keeps each statement within SQLite's limit on bound parameters.
const importKeysChunk = 5000

// ImportKeysSeen implements kenner.ImportStore.
func (s *Store) ImportKeysSeen(ctx context.Context, ws string, keys [][]byte) ([]bool, error) {
	out := make([]bool, len(keys))
	pos := make(map[string][]int, len(keys))
	for i, k := range keys {
		pos[string(k)] = append(pos[string(k)], i)
	}
	for start := 0; start < len(keys); start += importKeysChunk {
		part := keys[start:min(start+importKeysChunk, len(keys))]
		args := make([]any, 0, len(part)+1)
		args = append(args, ws)
		for _, k := range part {
			args = append(args, k)
		}
		rows, err := s.r.QueryContext(ctx, `SELECT key FROM import_keys WHERE workspace_id = ? AND key IN (?`+strings.Repeat(",?", len(part)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("import keys: %w", err)
		}
		for rows.Next() {
			var k []byte
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, err
			}
			for _, i := range pos[string(k)] {
				out[i] = true
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AddImportKeys implements kenner.ImportStore.
func (s *Store) AddImportKeys(ctx context.Context, ws string, keys [][]byte) error {
	// In key order, a batch's inserts land on neighbouring pages.
	keys = slices.Clone(keys)
	slices.SortFunc(keys, bytes.Compare)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for start := 0; start < len(keys); start += importKeysChunk / 2 {
		part := keys[start:min(start+importKeysChunk/2, len(keys))]
		args := make([]any, 0, 2*len(part))
		for _, k := range part {
			args = append(args, ws, k)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO import_keys (workspace_id, key) VALUES (?, ?)`+strings.Repeat(",(?, ?)", len(part)-1)+` ON CONFLICT DO NOTHING`, args...); err != nil {
			return fmt.Errorf("add import keys: %w", err)
		}
	}
	return tx.Commit()
}
