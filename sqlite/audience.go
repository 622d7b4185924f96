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
	"github.com/kenner-cdp/kenner/internal/profiledata"
)

// bumpVersion counts a definitions change of the workspace and returns the new version.
func bumpVersion(ctx context.Context, tx *sql.Tx, ws string) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `INSERT INTO audience_versions (workspace_id, version) VALUES (?, 1)
		ON CONFLICT (workspace_id) DO UPDATE SET version = version + 1 RETURNING version`, ws).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("bump definitions version: %w", err)
	}
	return v, nil
}

// inTx runs fn in a write transaction.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// PutComputedTrait implements kenner.AudienceStore.
func (s *Store) PutComputedTrait(ctx context.Context, t *kenner.ComputedTrait) error {
	now := time.Now().UTC()
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	t.UpdatedAt = now
	def, err := json.Marshal(t)
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO computed_traits (workspace_id, name, def, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (workspace_id, name) DO UPDATE SET def = excluded.def, updated_at = excluded.updated_at`,
			t.WorkspaceID, t.Name, def, millis(t.CreatedAt), millis(now)); err != nil {
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
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM computed_traits WHERE workspace_id = ? AND name = ?`, ws, name)
		if err != nil {
			return fmt.Errorf("delete computed trait: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return kenner.Errorf(kenner.ENotFound, "no computed trait %q", name)
		}
		_, err = bumpVersion(ctx, tx, ws)
		return err
	})
}

// ComputedTraits implements kenner.AudienceStore.
func (s *Store) ComputedTraits(ctx context.Context, ws string) ([]kenner.ComputedTrait, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT def FROM computed_traits WHERE workspace_id = ? ORDER BY name`, ws)
	if err != nil {
		return nil, fmt.Errorf("computed traits: %w", err)
	}
	defer rows.Close()
	var out []kenner.ComputedTrait
	for rows.Next() {
		var def []byte
		if err := rows.Scan(&def); err != nil {
			return nil, fmt.Errorf("computed traits: %w", err)
		}
		var t kenner.ComputedTrait
		if err := json.Unmarshal(def, &t); err != nil {
			return nil, fmt.Errorf("computed traits: %w", err)
		}
		t.WorkspaceID = ws
		out = append(out, t)
	}
	return out, rows.Err()
}

// CreateSegment implements kenner.AudienceStore.
func (s *Store) CreateSegment(ctx context.Context, seg *kenner.Segment) error {
	if seg.ID == "" {
		seg.ID = kenner.NewID("seg")
	}
	now := time.Now().UTC()
	seg.CreatedAt, seg.UpdatedAt = now, now
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		v, err := bumpVersion(ctx, tx, seg.WorkspaceID)
		if err != nil {
			return err
		}
		seg.Version = v
		_, err = tx.ExecContext(ctx, `INSERT INTO segments (workspace_id, id, name, description, condition, version, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, seg.WorkspaceID, seg.ID, seg.Name, seg.Description, seg.Condition, v, millis(now), millis(now))
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

// UpdateSegment implements kenner.AudienceStore. Only a changed condition is a new
// definitions version (a rename needs no rebuild).
func (s *Store) UpdateSegment(ctx context.Context, seg *kenner.Segment) error {
	now := time.Now().UTC()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var cond string
		var version int64
		err := tx.QueryRowContext(ctx, `SELECT condition, version FROM segments WHERE workspace_id = ? AND id = ?`, seg.WorkspaceID, seg.ID).Scan(&cond, &version)
		if errors.Is(err, sql.ErrNoRows) {
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
		_, err = tx.ExecContext(ctx, `UPDATE segments SET name = ?, description = ?, condition = ?, version = ?, updated_at = ?
			WHERE workspace_id = ? AND id = ?`, seg.Name, seg.Description, seg.Condition, version, millis(now), seg.WorkspaceID, seg.ID)
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
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM segments WHERE workspace_id = ? AND id = ?`, ws, id)
		if err != nil {
			return fmt.Errorf("delete segment: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return kenner.Errorf(kenner.ENotFound, "no segment %q", id)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM segment_members WHERE workspace_id = ? AND segment_id = ?`, ws, id); err != nil {
			return fmt.Errorf("delete segment: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM segment_counts WHERE workspace_id = ? AND segment_id = ?`, ws, id); err != nil {
			return fmt.Errorf("delete segment: %w", err)
		}
		_, err = bumpVersion(ctx, tx, ws)
		return err
	})
}

// segmentColumns read a segment with its members counted; segmentListColumns without (a list
// leaves counting to CountMembers: a count of every segment's members is a scan at 1M).
const segmentColumns = `s.id, s.name, s.description, s.condition, s.version, s.created_at, s.updated_at,
	(SELECT count(*) FROM segment_members m WHERE m.workspace_id = s.workspace_id AND m.segment_id = s.id)`

const segmentListColumns = `s.id, s.name, s.description, s.condition, s.version, s.created_at, s.updated_at, 0`

// RecordSegmentCounts implements kenner.AudienceStore.
func (s *Store) RecordSegmentCounts(ctx context.Context, ws, day string, members map[string]int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for id, n := range members {
			if _, err := tx.ExecContext(ctx, `INSERT INTO segment_counts (workspace_id, segment_id, day, members) VALUES (?, ?, ?, ?)
				ON CONFLICT (workspace_id, segment_id, day) DO UPDATE SET members = excluded.members`, ws, id, day, n); err != nil {
				return fmt.Errorf("record segment counts: %w", err)
			}
		}
		return nil
	})
}

// SegmentCounts implements kenner.AudienceStore.
func (s *Store) SegmentCounts(ctx context.Context, ws, id, from string) ([]kenner.SegmentCount, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT day, members FROM segment_counts WHERE workspace_id = ? AND segment_id = ? AND day >= ? ORDER BY day`, ws, id, from)
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

func (s *Store) scanSegments(ctx context.Context, ws string, rows *sql.Rows) ([]kenner.Segment, error) {
	defer rows.Close()
	var out []kenner.Segment
	for rows.Next() {
		seg := kenner.Segment{WorkspaceID: ws}
		var created, updated int64
		if err := rows.Scan(&seg.ID, &seg.Name, &seg.Description, &seg.Condition, &seg.Version, &created, &updated, &seg.Members); err != nil {
			return nil, fmt.Errorf("segments: %w", err)
		}
		seg.CreatedAt, seg.UpdatedAt = fromMillis(created), fromMillis(updated)
		out = append(out, seg)
	}
	if err := rows.Err(); err != nil {
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+segmentColumns+` FROM segments s WHERE s.workspace_id = ? AND s.id = ?`, ws, id)
	if err != nil {
		return nil, fmt.Errorf("segment: %w", err)
	}
	segs, err := s.scanSegments(ctx, ws, rows)
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+segmentListColumns+` FROM segments s WHERE s.workspace_id = ? ORDER BY s.name`, ws)
	if err != nil {
		return nil, fmt.Errorf("segments: %w", err)
	}
	return s.scanSegments(ctx, ws, rows)
}

// CountMembers implements kenner.AudienceStore.
func (s *Store) CountMembers(ctx context.Context, ws string) (map[string]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT segment_id, count(*) FROM segment_members WHERE workspace_id = ? GROUP BY segment_id`, ws)
	if err != nil {
		return nil, fmt.Errorf("count members: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("count members: %w", err)
		}
		out[id] = n
	}
	return out, rows.Err()
}

// Build implements kenner.AudienceStore.
func (s *Store) Build(ctx context.Context, ws string) (kenner.Build, error) {
	var b kenner.Build
	err := s.r.QueryRowContext(ctx, `SELECT version, built, processed, total FROM audience_versions WHERE workspace_id = ?`, ws).
		Scan(&b.Version, &b.Built, &b.Processed, &b.Total)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("build state: %w", err)
	}
	return b, nil
}

// SetBuild implements kenner.AudienceStore.
func (s *Store) SetBuild(ctx context.Context, ws string, b kenner.Build) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO audience_versions (workspace_id, version, built, processed, total) VALUES (?, 0, ?, ?, ?)
		ON CONFLICT (workspace_id) DO UPDATE SET built = max(built, excluded.built), processed = excluded.processed, total = excluded.total`,
		ws, b.Built, b.Processed, b.Total)
	if err != nil {
		return fmt.Errorf("set build state: %w", err)
	}
	return nil
}

// SegmentMembers implements kenner.AudienceStore.
func (s *Store) SegmentMembers(ctx context.Context, ws, seg, after string, limit int) ([]kenner.Membership, string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT profile_id, since FROM segment_members
		WHERE workspace_id = ? AND segment_id = ? AND profile_id > ? ORDER BY profile_id LIMIT ?`, ws, seg, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("segment members: %w", err)
	}
	defer rows.Close()
	var out []kenner.Membership
	for rows.Next() {
		m := kenner.Membership{SegmentID: seg}
		var since int64
		if err := rows.Scan(&m.ProfileID, &since); err != nil {
			return nil, "", fmt.Errorf("segment members: %w", err)
		}
		m.Since = fromMillis(since)
		out = append(out, m)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ProfileID
	}
	return out, next, rows.Err()
}

// MembershipHistory implements kenner.AudienceStore.
func (s *Store) MembershipHistory(ctx context.Context, ws, profileID string, after int64, limit int) ([]kenner.MembershipEvent, int64, error) {
	if after <= 0 {
		after = 1 << 62
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, segment_id, entered, at FROM segment_history
		WHERE workspace_id = ? AND profile_id = ? AND id < ? ORDER BY id DESC LIMIT ?`, ws, profileID, after, limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("membership history: %w", err)
	}
	defer rows.Close()
	var out []kenner.MembershipEvent
	for rows.Next() {
		m := kenner.MembershipEvent{ProfileID: profileID}
		var at int64
		if err := rows.Scan(&m.ID, &m.SegmentID, &m.Entered, &at); err != nil {
			return nil, 0, fmt.Errorf("membership history: %w", err)
		}
		m.At = fromMillis(at)
		out = append(out, m)
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, rows.Err()
}

// ScanProfiles implements kenner.AudienceStore. It reads the range in primary-key order: the
// profiles table is clustered by (workspace_id, id), so the pages of a range are read once
// and in sequence.
func (s *Store) ScanProfiles(ctx context.Context, ws, after, last string, fields *kenner.ProfileFields) ([]*kenner.Profile, error) {
	if fields == nil {
		rows, err := s.r.QueryContext(ctx, `SELECT `+profileColumns+` FROM profiles WHERE workspace_id = ? AND id > ? AND id <= ?
			AND merged_into = '' ORDER BY id`, ws, after, last)
		return scanProfiles(rows, err, scanProfile)
	}
	// Only the id and the document: each column read costs a conversion, and a pass
	// reads every profile.
	rows, err := s.r.QueryContext(ctx, `SELECT id, data FROM profiles WHERE workspace_id = ? AND id > ? AND id <= ?
		AND merged_into = '' ORDER BY id`, ws, after, last)
	return scanProfiles(rows, err, func(row interface{ Scan(...any) error }) (storedProfile, error) {
		p := storedProfile{Profile: kenner.Profile{WorkspaceID: ws}}
		var data []byte
		if err := row.Scan(&p.ID, &data); err != nil {
			return p, err
		}
		return p, profiledata.DecodeFields(data, &p.Profile, fields)
	})
}

func scanProfiles(rows *sql.Rows, err error, scan func(interface{ Scan(...any) error }) (storedProfile, error)) ([]*kenner.Profile, error) {
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
	var last sql.NullString
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT max(id), count(*) FROM (SELECT id FROM profiles WHERE workspace_id = ? AND id > ?
		AND merged_into = '' ORDER BY id LIMIT ?)`, ws, after, limit).Scan(&last, &n)
	if err != nil {
		return "", 0, fmt.Errorf("profile page: %w", err)
	}
	return last.String, n, nil
}

// ProfileIDs implements kenner.AudienceStore.
func (s *Store) ProfileIDs(ctx context.Context, ws, after string, limit int) ([]string, error) {
	return s.strings(ctx, `SELECT id FROM profiles WHERE workspace_id = ? AND id > ? AND merged_into = '' ORDER BY id LIMIT ?`, ws, after, limit)
}

// CountProfiles implements kenner.AudienceStore.
func (s *Store) CountProfiles(ctx context.Context, ws string) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM profiles WHERE workspace_id = ? AND merged_into = ''`, ws).Scan(&n); err != nil {
		return 0, fmt.Errorf("count profiles: %w", err)
	}
	return n, nil
}

// CountIdentified implements kenner.AudienceStore: identities move to the survivor of a
// merge, so the profiles they name are live.
func (s *Store) CountIdentified(ctx context.Context, ws string) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT count(DISTINCT profile_id) FROM identities WHERE workspace_id = ? AND kind = ?`,
		ws, kenner.KindUserID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count identified profiles: %w", err)
	}
	return n, nil
}

// ExpiringProfiles implements kenner.AudienceStore.
func (s *Store) ExpiringProfiles(ctx context.Context, ws string, t time.Time, limit int) ([]string, error) {
	return s.strings(ctx, `SELECT id FROM profiles INDEXED BY profiles_expires WHERE workspace_id = ? AND expires > 0 AND expires <= ? AND merged_into = ''
		ORDER BY expires LIMIT ?`, ws, millis(t), limit)
}

func (s *Store) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Changes implements kenner.AudienceStore.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]kenner.Change, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, workspace_id, type, profile_id, segment_id, at, data FROM changes
		WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	defer rows.Close()
	var out []kenner.Change
	for rows.Next() {
		var c kenner.Change
		var at int64
		var data []byte
		if err := rows.Scan(&c.Seq, &c.WorkspaceID, &c.Type, &c.ProfileID, &c.SegmentID, &at, &data); err != nil {
			return nil, fmt.Errorf("changes: %w", err)
		}
		c.At, c.Data = fromMillis(at), data
		out = append(out, c)
	}
	return out, rows.Err()
}

// DefinitionsVersion implements kenner.AudienceBatch.
func (b *batch) DefinitionsVersion(ctx context.Context, ws string) (int64, error) {
	var v int64
	err := b.queryRow(ctx, `SELECT version FROM audience_versions WHERE workspace_id = ?`, ws).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("definitions version: %w", err)
	}
	return v, nil
}

// WriteMemberships implements kenner.AudienceBatch.
func (b *batch) WriteMemberships(ctx context.Context, ws string, ms []kenner.MembershipEvent) error {
	deletes, inserts := kenner.NetMemberships(ms)
	for _, m := range deletes {
		if _, err := b.exec(ctx, `DELETE FROM segment_members WHERE workspace_id = ? AND segment_id = ? AND profile_id = ?`, ws, m.SegmentID, m.ProfileID); err != nil {
			return fmt.Errorf("write memberships: %w", err)
		}
	}
	entered := make([]any, 0, 4*len(inserts))
	for _, m := range inserts {
		entered = append(entered, ws, m.SegmentID, m.ProfileID, millis(m.At))
	}
	history := make([]any, 0, 5*len(ms))
	for _, m := range ms {
		history = append(history, ws, m.ProfileID, m.SegmentID, m.Entered, millis(m.At))
	}
	if err := b.insertRows(ctx, `INSERT INTO segment_members (workspace_id, segment_id, profile_id, since)`, ` ON CONFLICT DO NOTHING`, 4, entered); err != nil {
		return fmt.Errorf("write memberships: %w", err)
	}
	if err := b.insertRows(ctx, `INSERT INTO segment_history (workspace_id, profile_id, segment_id, entered, at)`, "", 5, history); err != nil {
		return fmt.Errorf("write membership history: %w", err)
	}
	return b.AddChanges(ctx, kenner.MembershipChanges(ws, ms))
}

// AddChanges implements kenner.AudienceBatch.
func (b *batch) AddChanges(ctx context.Context, cs []kenner.Change) error {
	a := make([]any, 0, 6*len(cs))
	for _, c := range cs {
		a = append(a, c.WorkspaceID, c.Type, c.ProfileID, c.SegmentID, millis(c.At), []byte(c.Data))
	}
	if err := b.insertRows(ctx, `INSERT INTO changes (workspace_id, type, profile_id, segment_id, at, data)`, "", 6, a); err != nil {
		return fmt.Errorf("add changes: %w", err)
	}
	return nil
}

// ProfileEvents implements kenner.AudienceBatch.
func (b *batch) ProfileEvents(ctx context.Context, ws string, ids []string) (map[string][]kenner.Event, error) {
	out := map[string][]kenner.Event{}
	if len(ids) == 0 {
		return out, nil
	}
	args := []any{ws}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := b.tx.QueryContext(ctx, `SELECT `+eventColumns+` FROM events INDEXED BY events_profile
		WHERE workspace_id = ? AND profile_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`) AND profile_id <> '' ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("profile events: %w", err)
	}
	events, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("profile events: %w", err)
	}
	for _, e := range events {
		out[e.ProfileID] = append(out[e.ProfileID], e)
	}
	return out, nil
}

// Profiles implements kenner.AudienceStore.
func (s *Store) Profiles(ctx context.Context, ws string, ids []string) (map[string]*kenner.Profile, error) {
	out := make(map[string]*kenner.Profile, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := []any{ws}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+profileColumns+` FROM profiles WHERE workspace_id = ? AND merged_into = ''
		AND id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("profiles: %w", err)
		}
		out[p.ID] = &p.Profile
	}
	return out, rows.Err()
}
