package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/internal/profiledata"
)

// changesLock serializes the transactions that append to the changes stream, so that seq
// order is commit order: a consumer reading "after seq N" never skips a row a slower
// transaction commits later with a smaller seq (storetest's ChangesFollowedWhileWritten fails
// without it). A transaction takes it last, just before its commit (flushChanges), so it is
// never held while waiting for another lock, and concurrent batches queue only on each
// other's final insert and commit.
const changesLock = 0x6b656e6e6572 + 1

// definitionsLock is the advisory lock (of workspace $1) that orders definition changes and
// processing: a processing transaction holds it shared from reading the definitions version
// to its commit, and a definitions change takes it exclusively. So no transaction that folded
// and evaluated with the old definitions commits after the new ones: a build that starts
// after the change, and reads profiles without locking them, sees everything evaluated with
// the old definitions.
const definitionsLock = `hashtextextended('kenner.definitions' || chr(31) || $1, 0)`

func bumpVersion(ctx context.Context, tx pgx.Tx, ws string) (int64, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+definitionsLock+`)`, ws); err != nil {
		return 0, fmt.Errorf("lock definitions: %w", err)
	}
	var v int64
	err := tx.QueryRow(ctx, `INSERT INTO audience_versions (workspace_id, version) VALUES ($1, 1)
		ON CONFLICT (workspace_id) DO UPDATE SET version = audience_versions.version + 1 RETURNING version`, ws).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("bump definitions version: %w", err)
	}
	return v, nil
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// PutComputedTrait implements kenner.AudienceStore.
func (s *Store) PutComputedTrait(ctx context.Context, t *kenner.ComputedTrait) error {
	n := now()
	if t.CreatedAt.IsZero() {
		t.CreatedAt = n
	}
	t.UpdatedAt = n
	def, err := json.Marshal(t)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO computed_traits (workspace_id, name, def, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (workspace_id, name) DO UPDATE SET def = excluded.def, updated_at = excluded.updated_at`,
			t.WorkspaceID, t.Name, def, t.CreatedAt, n); err != nil {
			return err
		}
		_, err := bumpVersion(ctx, tx, t.WorkspaceID)
		return err
	})
	if err != nil {
		return fmt.Errorf("put computed trait: %w", err)
	}
	return nil
}

// DeleteComputedTrait implements kenner.AudienceStore.
func (s *Store) DeleteComputedTrait(ctx context.Context, ws, name string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM computed_traits WHERE workspace_id = $1 AND name = $2`, ws, name)
		if err != nil {
			return fmt.Errorf("delete computed trait: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return kenner.Errorf(kenner.ENotFound, "no computed trait %q", name)
		}
		_, err = bumpVersion(ctx, tx, ws)
		return err
	})
}

// ComputedTraits implements kenner.AudienceStore.
func (s *Store) ComputedTraits(ctx context.Context, ws string) ([]kenner.ComputedTrait, error) {
	rows, err := s.pool.Query(ctx, `SELECT def FROM computed_traits WHERE workspace_id = $1 ORDER BY name`, ws)
	if err != nil {
		return nil, fmt.Errorf("computed traits: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.ComputedTrait, error) {
		var def []byte
		var t kenner.ComputedTrait
		if err := r.Scan(&def); err != nil {
			return t, err
		}
		err := json.Unmarshal(def, &t)
		t.WorkspaceID = ws
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("computed traits: %w", err)
	}
	return out, nil
}

// CreateSegment implements kenner.AudienceStore.
func (s *Store) CreateSegment(ctx context.Context, seg *kenner.Segment) error {
	if seg.ID == "" {
		seg.ID = kenner.NewID("seg")
	}
	n := now()
	seg.CreatedAt, seg.UpdatedAt = n, n
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		v, err := bumpVersion(ctx, tx, seg.WorkspaceID)
		if err != nil {
			return err
		}
		seg.Version = v
		_, err = tx.Exec(ctx, `INSERT INTO segments (workspace_id, id, name, description, condition, version, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, seg.WorkspaceID, seg.ID, seg.Name, seg.Description, seg.Condition, v, n)
		return err
	})
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "a segment named %q already exists", seg.Name)
	}
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	return nil
}

// UpdateSegment implements kenner.AudienceStore.
func (s *Store) UpdateSegment(ctx context.Context, seg *kenner.Segment) error {
	n := now()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var cond string
		var version int64
		err := tx.QueryRow(ctx, `SELECT condition, version FROM segments WHERE workspace_id = $1 AND id = $2 FOR UPDATE`,
			seg.WorkspaceID, seg.ID).Scan(&cond, &version)
		if errors.Is(err, pgx.ErrNoRows) {
			return kenner.Errorf(kenner.ENotFound, "no segment %q", seg.ID)
		}
		if err != nil {
			return err
		}
		if cond != seg.Condition {
			if version, err = bumpVersion(ctx, tx, seg.WorkspaceID); err != nil {
				return err
			}
		}
		seg.Version = version
		_, err = tx.Exec(ctx, `UPDATE segments SET name = $1, description = $2, condition = $3, version = $4, updated_at = $5
			WHERE workspace_id = $6 AND id = $7`, seg.Name, seg.Description, seg.Condition, version, n, seg.WorkspaceID, seg.ID)
		return err
	})
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "a segment named %q already exists", seg.Name)
	}
	if err != nil {
		return fmt.Errorf("update segment: %w", err)
	}
	return nil
}

// DeleteSegment implements kenner.AudienceStore.
func (s *Store) DeleteSegment(ctx context.Context, ws, id string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM segments WHERE workspace_id = $1 AND id = $2`, ws, id)
		if err != nil {
			return fmt.Errorf("delete segment: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return kenner.Errorf(kenner.ENotFound, "no segment %q", id)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM segment_members WHERE workspace_id = $1 AND segment_id = $2`, ws, id); err != nil {
			return fmt.Errorf("delete segment: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM segment_counts WHERE workspace_id = $1 AND segment_id = $2`, ws, id); err != nil {
			return fmt.Errorf("delete segment: %w", err)
		}
		_, err = bumpVersion(ctx, tx, ws)
		return err
	})
}

// RecordSegmentCounts implements kenner.AudienceStore.
func (s *Store) RecordSegmentCounts(ctx context.Context, ws, day string, members map[string]int64) error {
	ids := make([]string, 0, len(members))
	counts := make([]int64, 0, len(members))
	for id, n := range members {
		ids, counts = append(ids, id), append(counts, n)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO segment_counts (workspace_id, segment_id, day, members)
		SELECT $1, id, $2::date, n FROM unnest($3::text[], $4::bigint[]) AS c(id, n)
		ON CONFLICT (workspace_id, segment_id, day) DO UPDATE SET members = excluded.members`, ws, day, ids, counts)
	if err != nil {
		return fmt.Errorf("record segment counts: %w", err)
	}
	return nil
}

// SegmentCounts implements kenner.AudienceStore.
func (s *Store) SegmentCounts(ctx context.Context, ws, id, from string) ([]kenner.SegmentCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT to_char(day, 'YYYY-MM-DD'), members FROM segment_counts
		WHERE workspace_id = $1 AND segment_id = $2 AND day >= $3::date ORDER BY day`, ws, id, from)
	if err != nil {
		return nil, fmt.Errorf("segment counts: %w", err)
	}
	defer rows.Close()
	var out []kenner.SegmentCount
	for rows.Next() {
		var c kenner.SegmentCount
		if err := rows.Scan(&c.Day, &c.Members); err != nil {
			return nil, fmt.Errorf("segment counts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

const segmentColumns = `s.id, s.name, s.description, s.condition, s.version, s.created_at, s.updated_at,
	(SELECT count(*) FROM segment_members m WHERE m.workspace_id = s.workspace_id AND m.segment_id = s.id)`

// segmentListColumns leave counting to CountMembers: counting every segment's members is a
// scan at a million profiles.
const segmentListColumns = `s.id, s.name, s.description, s.condition, s.version, s.created_at, s.updated_at, 0::bigint`

func (s *Store) segments(ctx context.Context, ws, columns, query string, args ...any) ([]kenner.Segment, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM segments s WHERE `+query, args...)
	if err != nil {
		return nil, fmt.Errorf("segments: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.Segment, error) {
		seg := kenner.Segment{WorkspaceID: ws}
		err := r.Scan(&seg.ID, &seg.Name, &seg.Description, &seg.Condition, &seg.Version, &seg.CreatedAt, &seg.UpdatedAt, &seg.Members)
		seg.CreatedAt, seg.UpdatedAt = utc(seg.CreatedAt), utc(seg.UpdatedAt)
		return seg, err
	})
	if err != nil {
		return nil, fmt.Errorf("segments: %w", err)
	}
	b, err := s.Build(ctx, ws)
	if err != nil {
		return nil, err
	}
	for i := range out {
		kenner.SetSegmentState(&out[i], b)
	}
	return out, nil
}

// Segment implements kenner.AudienceStore.
func (s *Store) Segment(ctx context.Context, ws, id string) (*kenner.Segment, error) {
	segs, err := s.segments(ctx, ws, segmentColumns, `s.workspace_id = $1 AND s.id = $2`, ws, id)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return nil, kenner.Errorf(kenner.ENotFound, "no segment %q", id)
	}
	return &segs[0], nil
}

// Segments implements kenner.AudienceStore.
func (s *Store) Segments(ctx context.Context, ws string) ([]kenner.Segment, error) {
	return s.segments(ctx, ws, segmentListColumns, `s.workspace_id = $1 ORDER BY s.name`, ws)
}

// CountMembers implements kenner.AudienceStore.
func (s *Store) CountMembers(ctx context.Context, ws string) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT segment_id, count(*) FROM segment_members WHERE workspace_id = $1 GROUP BY segment_id`, ws)
	if err != nil {
		return nil, fmt.Errorf("count members: %w", err)
	}
	out := map[string]int64{}
	var id string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		out[id] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count members: %w", err)
	}
	return out, nil
}

// Build implements kenner.AudienceStore.
func (s *Store) Build(ctx context.Context, ws string) (kenner.Build, error) {
	var b kenner.Build
	err := s.pool.QueryRow(ctx, `SELECT version, built, processed, total FROM audience_versions WHERE workspace_id = $1`, ws).
		Scan(&b.Version, &b.Built, &b.Processed, &b.Total)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return b, fmt.Errorf("build state: %w", err)
	}
	return b, nil
}

// SetBuild implements kenner.AudienceStore.
func (s *Store) SetBuild(ctx context.Context, ws string, b kenner.Build) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO audience_versions (workspace_id, version, built, processed, total) VALUES ($1, 0, $2, $3, $4)
		ON CONFLICT (workspace_id) DO UPDATE SET built = greatest(audience_versions.built, excluded.built),
			processed = excluded.processed, total = excluded.total`, ws, b.Built, b.Processed, b.Total)
	if err != nil {
		return fmt.Errorf("set build state: %w", err)
	}
	return nil
}

// SegmentMembers implements kenner.AudienceStore.
func (s *Store) SegmentMembers(ctx context.Context, ws, seg, after string, limit int) ([]kenner.Membership, string, error) {
	rows, err := s.pool.Query(ctx, `SELECT profile_id, since FROM segment_members
		WHERE workspace_id = $1 AND segment_id = $2 AND profile_id > $3 ORDER BY profile_id LIMIT $4`, ws, seg, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("segment members: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.Membership, error) {
		m := kenner.Membership{SegmentID: seg}
		err := r.Scan(&m.ProfileID, &m.Since)
		m.Since = utc(m.Since)
		return m, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("segment members: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ProfileID
	}
	return out, next, nil
}

// MembershipHistory implements kenner.AudienceStore.
func (s *Store) MembershipHistory(ctx context.Context, ws, profileID string, after int64, limit int) ([]kenner.MembershipEvent, int64, error) {
	if after <= 0 {
		after = 1 << 62
	}
	rows, err := s.pool.Query(ctx, `SELECT id, segment_id, entered, at FROM segment_history
		WHERE workspace_id = $1 AND profile_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4`, ws, profileID, after, limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("membership history: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.MembershipEvent, error) {
		m := kenner.MembershipEvent{ProfileID: profileID}
		err := r.Scan(&m.ID, &m.SegmentID, &m.Entered, &m.At)
		m.At = utc(m.At)
		return m, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("membership history: %w", err)
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// ProfileIDs implements kenner.AudienceStore.
func (s *Store) ProfileIDs(ctx context.Context, ws, after string, limit int) ([]string, error) {
	return s.strings(ctx, `SELECT id FROM profiles WHERE workspace_id = $1 AND id > $2 AND merged_into = '' ORDER BY id LIMIT $3`, ws, after, limit)
}

// CountProfiles implements kenner.AudienceStore.
func (s *Store) CountProfiles(ctx context.Context, ws string) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM profiles WHERE workspace_id = $1 AND merged_into = ''`, ws).Scan(&n); err != nil {
		return 0, fmt.Errorf("count profiles: %w", err)
	}
	return n, nil
}

// CountIdentified implements kenner.AudienceStore: identities move to the survivor of a
// merge, so the profiles they name are live.
func (s *Store) CountIdentified(ctx context.Context, ws string) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(DISTINCT profile_id) FROM identities WHERE workspace_id = $1 AND kind = $2`,
		ws, kenner.KindUserID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count identified profiles: %w", err)
	}
	return n, nil
}

// ExpiringProfiles implements kenner.AudienceStore.
func (s *Store) ExpiringProfiles(ctx context.Context, ws string, t time.Time, limit int) ([]string, error) {
	return s.strings(ctx, `SELECT id FROM profiles WHERE workspace_id = $1 AND expires IS NOT NULL AND expires <= $2 AND merged_into = ''
		ORDER BY expires LIMIT $3`, ws, t, limit)
}

func (s *Store) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	return out, nil
}

// Changes implements kenner.AudienceStore.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]kenner.Change, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, workspace_id, type, profile_id, segment_id, at, data FROM changes
		WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.Change, error) {
		var c kenner.Change
		var data []byte
		err := r.Scan(&c.Seq, &c.WorkspaceID, &c.Type, &c.ProfileID, &c.SegmentID, &c.At, &data)
		c.At, c.Data = utc(c.At), data
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	return out, nil
}

// DefinitionsVersion implements kenner.AudienceBatch.
func (b *batch) DefinitionsVersion(ctx context.Context, ws string) (int64, error) {
	if _, err := b.tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(`+definitionsLock+`)`, ws); err != nil {
		return 0, fmt.Errorf("definitions version: %w", err)
	}
	var v int64
	err := b.tx.QueryRow(ctx, `SELECT version FROM audience_versions WHERE workspace_id = $1`, ws).Scan(&v)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("definitions version: %w", err)
	}
	return v, nil
}

// WriteMemberships implements kenner.AudienceBatch.
func (b *batch) WriteMemberships(ctx context.Context, ws string, ms []kenner.MembershipEvent) error {
	if len(ms) == 0 {
		return nil
	}
	deletes, inserts := kenner.NetMemberships(ms)
	var delSeg, delProf, insSeg, insProf []string
	var insAt []time.Time
	for _, m := range deletes {
		delSeg, delProf = append(delSeg, m.SegmentID), append(delProf, m.ProfileID)
	}
	for _, m := range inserts {
		insSeg, insProf, insAt = append(insSeg, m.SegmentID), append(insProf, m.ProfileID), append(insAt, m.At)
	}
	if len(delSeg) > 0 {
		if _, err := b.tx.Exec(ctx, `DELETE FROM segment_members m USING unnest($2::text[], $3::text[]) AS d(s, p)
			WHERE m.workspace_id = $1 AND m.segment_id = d.s AND m.profile_id = d.p`, ws, delSeg, delProf); err != nil {
			return fmt.Errorf("write memberships: %w", err)
		}
	}
	if len(insSeg) > 0 {
		if _, err := b.tx.Exec(ctx, `INSERT INTO segment_members (workspace_id, segment_id, profile_id, since)
			SELECT $1, s, p, t FROM unnest($2::text[], $3::text[], $4::timestamptz[]) AS i(s, p, t)
			ON CONFLICT DO NOTHING`, ws, insSeg, insProf, insAt); err != nil {
			return fmt.Errorf("write memberships: %w", err)
		}
	}
	seg, prof, entered, at := make([]string, len(ms)), make([]string, len(ms)), make([]bool, len(ms)), make([]time.Time, len(ms))
	for i, m := range ms {
		seg[i], prof[i], entered[i], at[i] = m.SegmentID, m.ProfileID, m.Entered, m.At
	}
	if _, err := b.tx.Exec(ctx, `INSERT INTO segment_history (workspace_id, profile_id, segment_id, entered, at)
		SELECT $1, p, s, e, t FROM unnest($2::text[], $3::text[], $4::bool[], $5::timestamptz[]) WITH ORDINALITY AS h(p, s, e, t, o)
		ORDER BY o`, ws, prof, seg, entered, at); err != nil {
		return fmt.Errorf("write memberships: %w", err)
	}
	return b.AddChanges(ctx, kenner.MembershipChanges(ws, ms))
}

// AddChanges implements kenner.AudienceBatch. The changes are written when the batch is about
// to commit (flushChanges), so the changes lock is held only for that insert and the commit,
// not for the rest of the batch's work: concurrent partitions then queue only on each other's
// commits.
func (b *batch) AddChanges(ctx context.Context, cs []kenner.Change) error {
	b.changes = append(b.changes, cs...)
	return nil
}

// flushChanges appends the batch's changes to the stream, in the batch's order (seq is the
// stream's order), under changesLock.
func (b *batch) flushChanges(ctx context.Context) error {
	cs := b.changes
	if len(cs) == 0 {
		return nil
	}
	b.changes = nil
	if _, err := b.tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, changesLock); err != nil {
		return fmt.Errorf("add change: %w", err)
	}
	n := len(cs)
	ws, typ, prof, seg, data := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([][]byte, n)
	at := make([]time.Time, n)
	for i, c := range cs {
		ws[i], typ[i], prof[i], seg[i], at[i], data[i] = c.WorkspaceID, c.Type, c.ProfileID, c.SegmentID, c.At, []byte(c.Data)
	}
	if _, err := b.tx.Exec(ctx, `INSERT INTO changes (workspace_id, type, profile_id, segment_id, at, data)
		SELECT w, t, p, s, a, d FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::bytea[])
			WITH ORDINALITY AS c(w, t, p, s, a, d, o) ORDER BY o`, ws, typ, prof, seg, at, data); err != nil {
		return fmt.Errorf("add change: %w", err)
	}
	return nil
}

// ProfileEvents implements kenner.AudienceBatch.
func (b *batch) ProfileEvents(ctx context.Context, ws string, ids []string) (map[string][]kenner.Event, error) {
	out := map[string][]kenner.Event{}
	if len(ids) == 0 {
		return out, nil
	}
	// One index probe per profile, whatever the planner's statistics say: see LoadGraph.
	rows, err := b.tx.Query(ctx, `SELECT e.* FROM unnest($2::text[]) AS p(id),
		LATERAL (SELECT `+eventColumns+` FROM events WHERE workspace_id = $1 AND profile_id = p.id AND profile_id <> '' OFFSET 0) AS e
		ORDER BY e.seq, e.idx`, ws, ids)
	if err != nil {
		return nil, fmt.Errorf("profile events: %w", err)
	}
	events, err := collectEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("profile events: %w", err)
	}
	for _, e := range events {
		out[e.ProfileID] = append(out[e.ProfileID], e)
	}
	return out, nil
}

// ScanProfiles implements kenner.AudienceStore. The range goes through the primary key
// whatever the planner's statistics say (see lookups in batch.go).
func (s *Store) ScanProfiles(ctx context.Context, ws, after, last string, fields *kenner.ProfileFields) ([]*kenner.Profile, error) {
	if fields == nil {
		rows, err := s.pool.Query(ctx, `SELECT `+profileColumns+` FROM profiles WHERE workspace_id = $1 AND id > $2 AND id <= $3
			AND merged_into = '' ORDER BY id`, ws, after, last)
		return scanProfiles(rows, err, scanProfile)
	}
	// Only the id and the document: a pass reads every profile.
	rows, err := s.pool.Query(ctx, `SELECT id, data FROM profiles WHERE workspace_id = $1 AND id > $2 AND id <= $3
		AND merged_into = '' ORDER BY id`, ws, after, last)
	return scanProfiles(rows, err, func(row pgx.Row) (storedProfile, error) {
		p := storedProfile{Profile: kenner.Profile{WorkspaceID: ws}}
		var data []byte
		if err := row.Scan(&p.ID, &data); err != nil {
			return p, err
		}
		return p, profiledata.DecodeFields(data, &p.Profile, fields)
	})
}

func scanProfiles(rows pgx.Rows, err error, scan func(pgx.Row) (storedProfile, error)) ([]*kenner.Profile, error) {
	if err != nil {
		return nil, fmt.Errorf("scan profiles: %w", err)
	}
	defer rows.Close()
	var out []*kenner.Profile
	for rows.Next() {
		p, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("scan profiles: %w", err)
		}
		out = append(out, &p.Profile)
	}
	return out, rows.Err()
}

// ProfilePage implements kenner.AudienceStore.
func (s *Store) ProfilePage(ctx context.Context, ws, after string, limit int) (string, int, error) {
	var last *string
	var n int
	err := s.pool.QueryRow(ctx, `SELECT max(id), count(*) FROM (SELECT id FROM profiles WHERE workspace_id = $1 AND id > $2
		AND merged_into = '' ORDER BY id LIMIT $3) page`, ws, after, limit).Scan(&last, &n)
	if err != nil {
		return "", 0, fmt.Errorf("profile page: %w", err)
	}
	if last == nil {
		return "", 0, nil
	}
	return *last, n, nil
}

// Profiles implements kenner.AudienceStore.
func (s *Store) Profiles(ctx context.Context, ws string, ids []string) (map[string]*kenner.Profile, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+profileColumns+` FROM profiles WHERE workspace_id = $1 AND id = ANY($2) AND merged_into = ''`, ws, ids)
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	defer rows.Close()
	out := make(map[string]*kenner.Profile, len(ids))
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("profiles: %w", err)
		}
		out[p.ID] = &p.Profile
	}
	return out, rows.Err()
}
