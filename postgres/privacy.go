package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/kenner-cdp/kenner"
)

// SubjectKeys implements kenner.PrivacyStore.
func (s *Store) SubjectKeys(ctx context.Context, ws string, subjects []string) (map[string][]byte, error) {
	return s.subjectKeys(ctx, s.pool, ws, subjects)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func (s *Store) subjectKeys(ctx context.Context, q querier, ws string, subjects []string) (map[string][]byte, error) {
	rows, err := q.Query(ctx, `SELECT subject, key FROM subject_keys WHERE workspace_id = $1 AND subject = ANY($2)`, ws, subjects)
	if err != nil {
		return nil, fmt.Errorf("subject keys: %w", err)
	}
	defer rows.Close()
	out := make(map[string][]byte, len(subjects))
	for rows.Next() {
		var id string
		var key []byte
		if err := rows.Scan(&id, &key); err != nil {
			return nil, fmt.Errorf("subject keys: %w", err)
		}
		out[id] = key
	}
	return out, rows.Err()
}

// PutSubjectKeys implements kenner.PrivacyStore.
func (s *Store) PutSubjectKeys(ctx context.Context, ws string, keys map[string][]byte) (map[string][]byte, error) {
	// Inserted in one order on every node: two nodes inserting overlapping subjects in
	// different orders would each wait on the other's uncommitted row (a deadlock).
	ids := slices.Sorted(maps.Keys(keys))
	vals := make([][]byte, 0, len(keys))
	for _, id := range ids {
		vals = append(vals, keys[id])
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO subject_keys (workspace_id, subject, key, created_at)
		SELECT $1, s, k, now() FROM unnest($2::text[], $3::bytea[]) AS t(s, k) ON CONFLICT DO NOTHING`, ws, ids, vals)
	if err != nil {
		return nil, fmt.Errorf("put subject keys: %w", err)
	}
	return s.subjectKeys(ctx, s.pool, ws, ids)
}

// Suppressions implements kenner.PrivacyStore.
func (s *Store) Suppressions(ctx context.Context, after int64, limit int) ([]kenner.Suppression, int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, workspace_id, kind, hash, created_at FROM suppressions WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, after, fmt.Errorf("suppressions: %w", err)
	}
	out, err := scanSuppressions(rows)
	if len(out) > 0 {
		after = out[len(out)-1].Seq
	}
	return out, after, err
}

// WorkspaceSuppressions implements kenner.PrivacyStore.
func (s *Store) WorkspaceSuppressions(ctx context.Context, ws string, after int64, limit int) ([]kenner.Suppression, int64, error) {
	after = kenner.NewestFirstFrom(after)
	rows, err := s.pool.Query(ctx, `SELECT seq, workspace_id, kind, hash, created_at FROM suppressions
		WHERE workspace_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`, ws, after, limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("suppressions: %w", err)
	}
	out, err := scanSuppressions(rows)
	return kenner.PageBySeq(out, limit, err)
}

func scanSuppressions(rows pgx.Rows) ([]kenner.Suppression, error) {
	defer rows.Close()
	var out []kenner.Suppression
	for rows.Next() {
		var sp kenner.Suppression
		if err := rows.Scan(&sp.Seq, &sp.WorkspaceID, &sp.Kind, &sp.Hash, &sp.CreatedAt); err != nil {
			return nil, fmt.Errorf("suppressions: %w", err)
		}
		sp.CreatedAt = sp.CreatedAt.UTC()
		out = append(out, sp)
	}
	return out, rows.Err()
}

// LiftSuppression implements kenner.PrivacyStore.
func (s *Store) LiftSuppression(ctx context.Context, ws, hash string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM suppressions WHERE workspace_id = $1 AND hash = $2`, ws, hash)
	if err != nil {
		return fmt.Errorf("lift suppression: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return kenner.Errorf(kenner.ENotFound, "that identifier is not suppressed")
	}
	return nil
}

// ProfileFootprint implements kenner.PrivacyStore.
func (s *Store) ProfileFootprint(ctx context.Context, ws, profileID string) ([]string, []kenner.Identifier, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM profiles WHERE workspace_id = $1 AND id = $2`, ws, profileID).Scan(&n); err != nil {
		return nil, nil, fmt.Errorf("profile footprint: %w", err)
	}
	if n == 0 {
		return nil, nil, kenner.Errorf(kenner.ENotFound, "no profile %q", profileID)
	}
	ids := []string{profileID}
	for frontier := ids; len(frontier) > 0; {
		rows, err := s.pool.Query(ctx, `SELECT id FROM profiles WHERE workspace_id = $1 AND merged_into = ANY($2)`, ws, frontier)
		if err != nil {
			return nil, nil, fmt.Errorf("profile footprint: %w", err)
		}
		more, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, nil, fmt.Errorf("profile footprint: %w", err)
		}
		ids = append(ids, more...)
		frontier = more
	}
	rows, err := s.pool.Query(ctx, `SELECT kind, value FROM identities WHERE workspace_id = $1 AND profile_id = ANY($2) ORDER BY kind, value`, ws, ids)
	if err != nil {
		return nil, nil, fmt.Errorf("profile footprint: %w", err)
	}
	idents, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.Identifier, error) {
		var id kenner.Identifier
		return id, r.Scan(&id.Kind, &id.Value)
	})
	return ids, idents, err
}

// Erase implements kenner.PrivacyStore.
func (s *Store) Erase(ctx context.Context, ws string, plan kenner.ErasePlan) (map[string]int64, error) {
	counts := map[string]int64{}
	orderKeys := kenner.PersonOrderKeys(plan.ProfileIDs, plan.Identifiers)
	kinds, values := make([]string, 0, len(plan.Identifiers)), make([]string, 0, len(plan.Identifiers))
	for _, id := range plan.Identifiers {
		kinds, values = append(kinds, id.Kind), append(values, id.Value)
	}
	const idents = `(kind, value) IN (SELECT * FROM unnest($2::text[], $3::text[]))`
	steps := []struct {
		what, query string
		args        []any
	}{
		{"events", `DELETE FROM events WHERE workspace_id = $1 AND profile_id = ANY($2)`, []any{ws, plan.ProfileIDs}},
		{"quarantine", `DELETE FROM quarantine WHERE workspace_id = $1 AND (user_id = ANY($2) OR anonymous_id = ANY($3))`, []any{ws, quarantineIDs(plan.Identifiers, kenner.KindUserID), quarantineIDs(plan.Identifiers, kenner.KindAnonymousID)}},
		{"profiles", `DELETE FROM profiles WHERE workspace_id = $1 AND id = ANY($2)`, []any{ws, plan.ProfileIDs}},
		{"identities", `DELETE FROM identities WHERE workspace_id = $1 AND profile_id = ANY($2)`, []any{ws, plan.ProfileIDs}},
		{"identities", `DELETE FROM identities WHERE workspace_id = $1 AND ` + idents, []any{ws, kinds, values}},
		{"decisions", `DELETE FROM decisions WHERE workspace_id = $1 AND profile_id = ANY($2)`, []any{ws, plan.ProfileIDs}},
		{"decisions", `DELETE FROM decisions WHERE workspace_id = $1 AND ` + idents, []any{ws, kinds, values}},
		{"separations", `DELETE FROM separation_members WHERE workspace_id = $1 AND ` + idents, []any{ws, kinds, values}},
		{"sync_items", `DELETE FROM sync_items WHERE workspace_id = $1 AND ` + idents, []any{ws, kinds, values}},
		{"memberships", `DELETE FROM segment_members WHERE workspace_id = $1 AND profile_id = ANY($2)`, []any{ws, plan.ProfileIDs}},
		{"membership_history", `DELETE FROM segment_history WHERE workspace_id = $1 AND profile_id = ANY($2)`, []any{ws, plan.ProfileIDs}},
		{"changes", `DELETE FROM changes WHERE workspace_id = $1 AND profile_id = ANY($2)`, []any{ws, plan.ProfileIDs}},
		{"journeys", `DELETE FROM enrollments WHERE workspace_id = $1 AND profile_id = ANY($2)`, []any{ws, plan.ProfileIDs}},
		{"journeys", `DELETE FROM journey_path WHERE workspace_id = $1 AND profile_id = ANY($2)`, []any{ws, plan.ProfileIDs}},
		{"journeys", `DELETE FROM journey_sends WHERE workspace_id = $1 AND profile_id = ANY($2)`, []any{ws, plan.ProfileIDs}},
		{"journeys", `DELETE FROM journey_reactions WHERE workspace_id = $1 AND profile_id = ANY($2)`, []any{ws, plan.ProfileIDs}},
		{"match_reviews", `DELETE FROM match_reviews WHERE workspace_id = $1 AND (profile_a = ANY($2) OR profile_b = ANY($2))`, []any{ws, plan.ProfileIDs}},
		{"delivery_attempts", `DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE workspace_id = $1 AND order_key = ANY($2))`, []any{ws, orderKeys}},
		{"deliveries", `DELETE FROM deliveries WHERE workspace_id = $1 AND order_key = ANY($2)`, []any{ws, orderKeys}},
		{"subject_keys", `DELETE FROM subject_keys WHERE workspace_id = $1 AND subject = ANY($2)`, []any{ws, plan.SubjectKeys}},
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The people leave their journeys: the counters follow before the rows go.
		rows, err := tx.Query(ctx, `SELECT `+enrollmentColumns+` FROM enrollments WHERE workspace_id = $1 AND state = 'active' AND profile_id = ANY($2)`, ws, plan.ProfileIDs)
		if err != nil {
			return fmt.Errorf("erase journeys: %w", err)
		}
		es, err := scanEnrollments(rows)
		if err != nil {
			return err
		}
		if stats := kenner.ErasedStats(es); len(stats) > 0 {
			pb := &pgx.Batch{}
			queueStats(pb, ws, stats)
			if err := tx.SendBatch(ctx, pb).Close(); err != nil {
				return fmt.Errorf("erase journeys: %w", err)
			}
		}
		for _, st := range steps {
			tag, err := tx.Exec(ctx, st.query, st.args...)
			if err != nil {
				return fmt.Errorf("erase %s: %w", st.what, err)
			}
			counts[st.what] += tag.RowsAffected()
		}
		kinds, hashes := make([]string, len(plan.Suppress)), make([]string, len(plan.Suppress))
		for i, sp := range plan.Suppress {
			kinds[i], hashes[i] = sp.Kind, sp.Hash
		}
		if _, err := tx.Exec(ctx, `INSERT INTO suppressions (workspace_id, kind, hash, created_at) SELECT $1, k, h, now() FROM unnest($2::text[], $3::text[]) AS t(k, h)
			ON CONFLICT DO NOTHING`, ws, kinds, hashes); err != nil {
			return fmt.Errorf("suppress: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// SaveErasure implements kenner.PrivacyStore.
func (s *Store) SaveErasure(ctx context.Context, e *kenner.Erasure) error {
	doc, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO erasures (workspace_id, id, doc, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (workspace_id, id) DO UPDATE SET doc = excluded.doc`, e.WorkspaceID, e.ID, doc, e.CreatedAt)
	if err != nil {
		return fmt.Errorf("save erasure: %w", err)
	}
	return nil
}

// Erasure implements kenner.PrivacyStore.
func (s *Store) Erasure(ctx context.Context, ws, id string) (*kenner.Erasure, error) {
	var doc []byte
	err := s.pool.QueryRow(ctx, `SELECT doc FROM erasures WHERE workspace_id = $1 AND id = $2`, ws, id).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no erasure %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("erasure: %w", err)
	}
	e := &kenner.Erasure{WorkspaceID: ws}
	return e, json.Unmarshal(doc, e)
}

// Erasures implements kenner.PrivacyStore.
func (s *Store) Erasures(ctx context.Context, ws, after string, limit int) ([]kenner.Erasure, error) {
	at, id, err := kenner.ParseErasureCursor(after)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT doc FROM erasures WHERE workspace_id = $1 AND (created_at, id) < ($2, $3)
		ORDER BY created_at DESC, id DESC LIMIT $4`, ws, at, id, kenner.PageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("erasures: %w", err)
	}
	defer rows.Close()
	var out []kenner.Erasure
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("erasures: %w", err)
		}
		e := kenner.Erasure{WorkspaceID: ws}
		if err := json.Unmarshal(doc, &e); err != nil {
			return nil, fmt.Errorf("erasures: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AppendAudit implements kenner.PrivacyStore.
func (s *Store) AppendAudit(ctx context.Context, e *kenner.AuditEntry) error {
	err := s.pool.QueryRow(ctx, `INSERT INTO audit_log (workspace_id, at, actor, role, action, target, status, remote_addr)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		e.WorkspaceID, e.At, e.Actor, string(e.Role), e.Action, e.Target, e.Status, e.RemoteAddr).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Audit implements kenner.PrivacyStore.
func (s *Store) Audit(ctx context.Context, f kenner.AuditFilter) ([]kenner.AuditEntry, error) {
	where, a := []string{"workspace_id = $1"}, []any{f.WorkspaceID}
	add := func(cond string, v any) {
		a = append(a, v)
		where = append(where, strings.Replace(cond, "?", "$"+strconv.Itoa(len(a)), 1))
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.Before > 0 {
		add("id < ?", f.Before)
	}
	a = append(a, f.Limit)
	rows, err := s.pool.Query(ctx, `SELECT id, at, actor, role, action, target, status, remote_addr FROM audit_log
		WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(a)), a...)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.AuditEntry, error) {
		e := kenner.AuditEntry{WorkspaceID: f.WorkspaceID}
		var role string
		err := r.Scan(&e.ID, &e.At, &e.Actor, &role, &e.Action, &e.Target, &e.Status, &e.RemoteAddr)
		e.At, e.Role = e.At.UTC(), kenner.Role(role)
		return e, err
	})
}

// ReplaceSubjectKey implements kenner.PrivacyStore.
func (s *Store) ReplaceSubjectKey(ctx context.Context, ws, subject string, old, next []byte) error {
	tag, err := s.pool.Exec(ctx, `UPDATE subject_keys SET key = $1 WHERE workspace_id = $2 AND subject = $3 AND key = $4`, next, ws, subject, old)
	if err != nil {
		return fmt.Errorf("replace subject key: %w", err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM subject_keys WHERE workspace_id = $1 AND subject = $2`, ws, subject).Scan(&n); err != nil {
		return fmt.Errorf("replace subject key: %w", err)
	}
	if n == 0 {
		return kenner.Errorf(kenner.ENotFound, "no key for subject %s", subject)
	}
	return kenner.Errorf(kenner.EConflict, "the key of subject %s changed meanwhile", subject)
}

// quarantineIDs are the values of one kind of identifier, by which quarantined events (which
// belong to no profile) are found for erasure.
func quarantineIDs(ids []kenner.Identifier, kind string) []string {
	out := []string{}
	for _, id := range ids {
		if id.Kind == kind {
			out = append(out, id.Value)
		}
	}
	return out
}
