package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
)

// in is a placeholder list for n values.
func in(n int) string { return "(" + strings.TrimSuffix(strings.Repeat("?,", n), ",") + ")" }

func args(ws string, vals []string) []any {
	out := make([]any, 0, len(vals)+1)
	out = append(out, ws)
	for _, v := range vals {
		out = append(out, v)
	}
	return out
}

// SubjectKeys implements kenner.PrivacyStore.
func (s *Store) SubjectKeys(ctx context.Context, ws string, subjects []string) (map[string][]byte, error) {
	out, err := subjectKeysFrom(ctx, s.r, ws, subjects)
	if err != nil {
		return nil, fmt.Errorf("subject keys: %w", err)
	}
	return out, nil
}

// PutSubjectKeys implements kenner.PrivacyStore. Keys are inserted in subject order, which
// keeps a large batch's writes on neighbouring pages; only the subjects another writer
// beat us to are read back.
func (s *Store) PutSubjectKeys(ctx context.Context, ws string, keys map[string][]byte) (map[string][]byte, error) {
	ids := make([]string, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make(map[string][]byte, len(keys))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		clear(out)
		now := millis(time.Now())
		// Many rows per statement: a statement's overhead is larger than a row's insert.
		const perStmt = 200
		for start := 0; start < len(ids); start += perStmt {
			part := ids[start:min(start+perStmt, len(ids))]
			a := make([]any, 0, 4*len(part))
			for _, id := range part {
				a = append(a, ws, id, keys[id], now)
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO subject_keys (workspace_id, subject, key, created_at) VALUES (?, ?, ?, ?)`+
				strings.Repeat(", (?, ?, ?, ?)", len(part)-1)+` ON CONFLICT DO NOTHING`, a...)
			if err != nil {
				return err
			}
			// Usually every key is new; when some were not, the stored keys tell which.
			if n, err := res.RowsAffected(); err == nil && int(n) == len(part) {
				for _, id := range part {
					out[id] = keys[id]
				}
				continue
			}
			stored, err := subjectKeysFrom(ctx, tx, ws, part)
			if err != nil {
				return err
			}
			maps.Copy(out, stored)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("put subject keys: %w", err)
	}
	return out, nil
}

// querier is a connection pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func subjectKeysFrom(ctx context.Context, db querier, ws string, ids []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		rows, err := db.QueryContext(ctx, `SELECT subject, key FROM subject_keys WHERE workspace_id = ? AND subject IN `+in(len(chunk)), args(ws, chunk)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			var key []byte
			if err := rows.Scan(&id, &key); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = key
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Suppressions implements kenner.PrivacyStore.
func (s *Store) Suppressions(ctx context.Context, after int64, limit int) ([]kenner.Suppression, int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, workspace_id, kind, hash, created_at FROM suppressions WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
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
	rows, err := s.r.QueryContext(ctx, `SELECT seq, workspace_id, kind, hash, created_at FROM suppressions
		WHERE workspace_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`, ws, after, limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("suppressions: %w", err)
	}
	out, err := scanSuppressions(rows)
	return kenner.PageBySeq(out, limit, err)
}

func scanSuppressions(rows *sql.Rows) ([]kenner.Suppression, error) {
	defer rows.Close()
	var out []kenner.Suppression
	for rows.Next() {
		var sp kenner.Suppression
		var at int64
		if err := rows.Scan(&sp.Seq, &sp.WorkspaceID, &sp.Kind, &sp.Hash, &at); err != nil {
			return nil, fmt.Errorf("suppressions: %w", err)
		}
		sp.CreatedAt = fromMillis(at)
		out = append(out, sp)
	}
	return out, rows.Err()
}

// LiftSuppression implements kenner.PrivacyStore.
func (s *Store) LiftSuppression(ctx context.Context, ws, hash string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM suppressions WHERE workspace_id = ? AND hash = ?`, ws, hash)
	if err != nil {
		return fmt.Errorf("lift suppression: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return kenner.Errorf(kenner.ENotFound, "that identifier is not suppressed")
	}
	return nil
}

// ProfileFootprint implements kenner.PrivacyStore.
func (s *Store) ProfileFootprint(ctx context.Context, ws, profileID string) ([]string, []kenner.Identifier, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM profiles WHERE workspace_id = ? AND id = ?`, ws, profileID).Scan(&n); err != nil {
		return nil, nil, fmt.Errorf("profile footprint: %w", err)
	}
	if n == 0 {
		return nil, nil, kenner.Errorf(kenner.ENotFound, "no profile %q", profileID)
	}
	ids := []string{profileID}
	for frontier := ids; len(frontier) > 0; {
		more, err := s.strings(ctx, `SELECT id FROM profiles INDEXED BY profiles_merged WHERE workspace_id = ? AND merged_into <> '' AND merged_into IN `+in(len(frontier)), args(ws, frontier)...)
		if err != nil {
			return nil, nil, err
		}
		ids = append(ids, more...)
		frontier = more
	}
	rows, err := s.r.QueryContext(ctx, `SELECT kind, value FROM identities WHERE workspace_id = ? AND profile_id IN `+in(len(ids))+` ORDER BY kind, value`, args(ws, ids)...)
	if err != nil {
		return nil, nil, fmt.Errorf("profile footprint: %w", err)
	}
	defer rows.Close()
	var idents []kenner.Identifier
	for rows.Next() {
		var id kenner.Identifier
		if err := rows.Scan(&id.Kind, &id.Value); err != nil {
			return nil, nil, err
		}
		idents = append(idents, id)
	}
	return ids, idents, rows.Err()
}

// Erase implements kenner.PrivacyStore. Deleted rows are overwritten (secure_delete), and the
// write-ahead log is checkpointed and truncated after, so that no copy of the person's data
// stays in the database files.
func (s *Store) Erase(ctx context.Context, ws string, plan kenner.ErasePlan) (map[string]int64, error) {
	counts := map[string]int64{}
	orderKeys := kenner.PersonOrderKeys(plan.ProfileIDs, plan.Identifiers)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		del := func(what, query string, a ...any) error {
			res, err := tx.ExecContext(ctx, query, a...)
			if err != nil {
				return fmt.Errorf("erase %s: %w", what, err)
			}
			n, _ := res.RowsAffected()
			counts[what] += n
			return nil
		}
		ids, pa := in(len(plan.ProfileIDs)), args(ws, plan.ProfileIDs)
		// The people leave their journeys: the counters follow before the rows go.
		rows, err := tx.QueryContext(ctx, `SELECT `+enrollmentColumns+` FROM enrollments WHERE workspace_id = ? AND state = 'active' AND profile_id IN `+ids, pa...)
		if err != nil {
			return fmt.Errorf("erase journeys: %w", err)
		}
		es, err := scanEnrollments(rows)
		if err != nil {
			return err
		}
		for _, st := range kenner.ErasedStats(es) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO journey_stats (workspace_id, journey_id, step, metric, n) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (workspace_id, journey_id, step, metric) DO UPDATE SET n = n + excluded.n`, ws, st.JourneyID, st.Step, st.Metric, st.Delta); err != nil {
				return fmt.Errorf("erase journeys: %w", err)
			}
		}
		steps := []struct {
			what, query string
			args        []any
		}{
			{"events", `DELETE FROM events WHERE workspace_id = ? AND profile_id IN ` + ids, pa},
			{"profiles", `DELETE FROM profiles WHERE workspace_id = ? AND id IN ` + ids, pa},
			{"identities", `DELETE FROM identities WHERE workspace_id = ? AND profile_id IN ` + ids, pa},
			{"decisions", `DELETE FROM decisions WHERE workspace_id = ? AND profile_id IN ` + ids, pa},
			{"memberships", `DELETE FROM segment_members WHERE workspace_id = ? AND profile_id IN ` + ids, pa},
			{"membership_history", `DELETE FROM segment_history WHERE workspace_id = ? AND profile_id IN ` + ids, pa},
			{"changes", `DELETE FROM changes WHERE workspace_id = ? AND profile_id IN ` + ids, pa},
			{"journeys", `DELETE FROM enrollments WHERE workspace_id = ? AND profile_id IN ` + ids, pa},
			{"journeys", `DELETE FROM journey_path WHERE workspace_id = ? AND profile_id IN ` + ids, pa},
			{"journeys", `DELETE FROM journey_sends WHERE workspace_id = ? AND profile_id IN ` + ids, pa},
			{"journeys", `DELETE FROM journey_reactions WHERE workspace_id = ? AND profile_id IN ` + ids, pa},
			{"match_reviews", `DELETE FROM match_reviews WHERE workspace_id = ? AND (profile_a IN ` + ids + ` OR profile_b IN ` + ids + `)`, append(args(ws, plan.ProfileIDs), args("", plan.ProfileIDs)[1:]...)},
			{"delivery_attempts", `DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE workspace_id = ? AND order_key IN ` + in(len(orderKeys)) + `)`, args(ws, orderKeys)},
			{"deliveries", `DELETE FROM deliveries WHERE workspace_id = ? AND order_key IN ` + in(len(orderKeys)), args(ws, orderKeys)},
		}
		if len(plan.SubjectKeys) > 0 {
			steps = append(steps, struct {
				what, query string
				args        []any
			}{"subject_keys", `DELETE FROM subject_keys WHERE workspace_id = ? AND subject IN ` + in(len(plan.SubjectKeys)), args(ws, plan.SubjectKeys)})
		}
		for _, st := range steps {
			if err := del(st.what, st.query, st.args...); err != nil {
				return err
			}
		}
		// The identifiers may also be named by other profiles' decisions and by separations.
		for _, id := range plan.Identifiers {
			if err := del("decisions", `DELETE FROM decisions WHERE workspace_id = ? AND kind = ? AND value = ?`, ws, id.Kind, id.Value); err != nil {
				return err
			}
			if err := del("separations", `DELETE FROM separation_members WHERE workspace_id = ? AND kind = ? AND value = ?`, ws, id.Kind, id.Value); err != nil {
				return err
			}
			if err := del("sync_items", `DELETE FROM sync_items WHERE workspace_id = ? AND kind = ? AND value = ?`, ws, id.Kind, id.Value); err != nil {
				return err
			}
			if err := del("identities", `DELETE FROM identities WHERE workspace_id = ? AND kind = ? AND value = ?`, ws, id.Kind, id.Value); err != nil {
				return err
			}
			if col := map[string]string{kenner.KindUserID: "user_id", kenner.KindAnonymousID: "anonymous_id"}[id.Kind]; col != "" {
				// Quarantined events belong to no profile; they are found by who sent them.
				if err := del("quarantine", `DELETE FROM quarantine WHERE workspace_id = ? AND `+col+` = ?`, ws, id.Value); err != nil {
					return err
				}
			}
		}
		now := millis(time.Now())
		for _, sp := range plan.Suppress {
			if _, err := tx.ExecContext(ctx, `INSERT INTO suppressions (workspace_id, kind, hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, ws, sp.Kind, sp.Hash, now); err != nil {
				return fmt.Errorf("suppress: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return counts, s.truncateWAL(ctx)
}

// truncateWAL checkpoints the write-ahead log into the database and empties it, retrying
// while readers hold old snapshots.
func (s *Store) truncateWAL(ctx context.Context) error {
	for i := 0; ; i++ {
		var busy, logFrames, done int
		if err := s.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		if busy == 0 {
			return nil
		}
		if i == 50 {
			return errors.New("checkpoint: readers kept the write-ahead log busy; it will be truncated by a later erasure or checkpoint")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// SaveErasure implements kenner.PrivacyStore.
func (s *Store) SaveErasure(ctx context.Context, e *kenner.Erasure) error {
	doc, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO erasures (workspace_id, id, doc, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (workspace_id, id) DO UPDATE SET doc = excluded.doc`, e.WorkspaceID, e.ID, doc, millis(e.CreatedAt))
	if err != nil {
		return fmt.Errorf("save erasure: %w", err)
	}
	return nil
}

// Erasure implements kenner.PrivacyStore.
func (s *Store) Erasure(ctx context.Context, ws, id string) (*kenner.Erasure, error) {
	var doc []byte
	err := s.r.QueryRowContext(ctx, `SELECT doc FROM erasures WHERE workspace_id = ? AND id = ?`, ws, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := s.r.QueryContext(ctx, `SELECT doc FROM erasures WHERE workspace_id = ? AND (created_at, id) < (?, ?)
		ORDER BY created_at DESC, id DESC LIMIT ?`, ws, millis(at), id, kenner.PageLimit(limit))
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
	res, err := s.w.ExecContext(ctx, `INSERT INTO audit_log (workspace_id, at, actor, role, action, target, status, remote_addr) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.WorkspaceID, millis(e.At), e.Actor, string(e.Role), e.Action, e.Target, e.Status, e.RemoteAddr)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	e.ID, _ = res.LastInsertId()
	return nil
}

// Audit implements kenner.PrivacyStore.
func (s *Store) Audit(ctx context.Context, f kenner.AuditFilter) ([]kenner.AuditEntry, error) {
	where, a := []string{"workspace_id = ?"}, []any{f.WorkspaceID}
	if f.Actor != "" {
		where, a = append(where, "actor = ?"), append(a, f.Actor)
	}
	if f.Action != "" {
		where, a = append(where, "action = ?"), append(a, f.Action)
	}
	if f.Before > 0 {
		where, a = append(where, "id < ?"), append(a, f.Before)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, actor, role, action, target, status, remote_addr FROM audit_log
		WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`, append(a, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer rows.Close()
	var out []kenner.AuditEntry
	for rows.Next() {
		e := kenner.AuditEntry{WorkspaceID: f.WorkspaceID}
		var at int64
		var role string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &role, &e.Action, &e.Target, &e.Status, &e.RemoteAddr); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		e.At, e.Role = fromMillis(at), kenner.Role(role)
		out = append(out, e)
	}
	return out, rows.Err()
}

// ReplaceSubjectKey implements kenner.PrivacyStore.
func (s *Store) ReplaceSubjectKey(ctx context.Context, ws, subject string, old, next []byte) error {
	res, err := s.w.ExecContext(ctx, `UPDATE subject_keys SET key = ? WHERE workspace_id = ? AND subject = ? AND key = ?`, next, ws, subject, old)
	if err != nil {
		return fmt.Errorf("replace subject key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return missingOrChanged(ctx, s.w, ws, subject)
	}
	return nil
}

func missingOrChanged(ctx context.Context, db *sql.DB, ws, subject string) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM subject_keys WHERE workspace_id = ? AND subject = ?`, ws, subject).Scan(&n); err != nil {
		return fmt.Errorf("replace subject key: %w", err)
	}
	if n == 0 {
		return kenner.Errorf(kenner.ENotFound, "no key for subject %s", subject)
	}
	return kenner.Errorf(kenner.EConflict, "the key of subject %s changed meanwhile", subject)
}
