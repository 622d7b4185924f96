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

const journeyColumns = `id, workspace_id, status, version, published_at, document, created_at, updated_at`

func scanJourney(row interface{ Scan(...any) error }) (*kenner.Journey, error) {
	var j kenner.Journey
	var doc string
	var created, updated int64
	var published sql.NullInt64
	if err := row.Scan(&j.ID, &j.WorkspaceID, &j.Status, &j.Version, &published, &doc, &created, &updated); err != nil {
		return nil, err
	}
	j.CreatedAt, j.UpdatedAt = fromMillis(created), fromMillis(updated)
	if published.Valid {
		at := fromMillis(published.Int64)
		j.PublishedAt = &at
	}
	if err := kenner.SetJourneyDocument(&j, []byte(doc)); err != nil {
		return nil, fmt.Errorf("journey %s: %w", j.ID, err)
	}
	return &j, nil
}

// CreateJourney implements kenner.JourneyStore.
func (s *Store) CreateJourney(ctx context.Context, j *kenner.Journey) error {
	if j.ID == "" {
		j.ID = kenner.NewID("jrn")
	}
	now := time.Now().UTC()
	j.CreatedAt, j.UpdatedAt = now, now
	if j.Status == "" {
		j.Status = kenner.JourneyDraft
	}
	doc, err := kenner.JourneyDocument(j)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO journeys (id, workspace_id, name, status, document, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		j.ID, j.WorkspaceID, j.Name, j.Status, string(doc), millis(now), millis(now))
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "a journey named %q already exists", j.Name)
	}
	if err != nil {
		return fmt.Errorf("create journey: %w", err)
	}
	return nil
}

// UpdateJourney implements kenner.JourneyStore.
func (s *Store) UpdateJourney(ctx context.Context, j *kenner.Journey) error {
	doc, err := kenner.JourneyDocument(j)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	res, err := s.w.ExecContext(ctx, `UPDATE journeys SET name = ?, status = ?, document = ?, updated_at = ? WHERE workspace_id = ? AND id = ?`,
		j.Name, j.Status, string(doc), millis(now), j.WorkspaceID, j.ID)
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "a journey named %q already exists", j.Name)
	}
	if err != nil {
		return fmt.Errorf("update journey: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return kenner.Errorf(kenner.ENotFound, "no journey %q", j.ID)
	}
	j.UpdatedAt = now
	return nil
}

// PublishJourney implements kenner.JourneyStore.
func (s *Store) PublishJourney(ctx context.Context, ws, id string, at time.Time) (*kenner.Journey, error) {
	var j *kenner.Journey
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		j, err = scanJourney(tx.QueryRowContext(ctx, `SELECT `+journeyColumns+` FROM journeys WHERE workspace_id = ? AND id = ?`, ws, id))
		if errors.Is(err, sql.ErrNoRows) {
			return kenner.Errorf(kenner.ENotFound, "no journey %q", id)
		}
		if err != nil {
			return fmt.Errorf("publish journey: %w", err)
		}
		def, err := json.Marshal(j.JourneyDefinition)
		if err != nil {
			return err
		}
		at = at.UTC()
		j.Version++
		j.Status, j.PublishedAt, j.UpdatedAt = kenner.JourneyLive, &at, at
		if _, err := tx.ExecContext(ctx, `INSERT INTO journey_versions (workspace_id, journey_id, version, definition, published_at) VALUES (?, ?, ?, ?, ?)`,
			ws, id, j.Version, string(def), millis(at)); err != nil {
			return fmt.Errorf("publish journey: %w", err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE journeys SET status = ?, version = ?, published_at = ?, updated_at = ? WHERE workspace_id = ? AND id = ?`,
			j.Status, j.Version, millis(at), millis(at), ws, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

// ArchiveJourney implements kenner.JourneyStore.
func (s *Store) ArchiveJourney(ctx context.Context, ws, id string, at time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE journeys SET status = 'archived', updated_at = ? WHERE workspace_id = ? AND id = ?`, millis(at), ws, id)
		if err != nil {
			return fmt.Errorf("archive journey: %w", err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return kenner.Errorf(kenner.ENotFound, "no journey %q", id)
		}
		if res, err = tx.ExecContext(ctx, `UPDATE enrollments SET state = 'exited', due_at = NULL, updated_at = ?, rev = rev + 1
			WHERE workspace_id = ? AND journey_id = ? AND state = 'active'`, millis(at), ws, id); err != nil {
			return fmt.Errorf("archive journey: %w", err)
		}
		n, _ = res.RowsAffected()
		// Nobody waits any more, and everyone active exited.
		if _, err := tx.ExecContext(ctx, `UPDATE journey_stats SET n = 0 WHERE workspace_id = ? AND journey_id = ? AND metric IN ('waiting', 'active', 'scheduled')`, ws, id); err != nil {
			return fmt.Errorf("archive journey: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO journey_stats (workspace_id, journey_id, step, metric, n) VALUES (?, ?, '', 'exited', ?)
			ON CONFLICT (workspace_id, journey_id, step, metric) DO UPDATE SET n = n + excluded.n`, ws, id, n); err != nil {
			return fmt.Errorf("archive journey: %w", err)
		}
		return nil
	})
	return n, err
}

// DeleteJourney implements kenner.JourneyStore.
func (s *Store) DeleteJourney(ctx context.Context, ws, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM journeys WHERE workspace_id = ? AND id = ?`, ws, id)
		if err != nil {
			return fmt.Errorf("delete journey: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return kenner.Errorf(kenner.ENotFound, "no journey %q", id)
		}
		for _, table := range []string{"journey_versions", "enrollments", "journey_path", "journey_stats"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE workspace_id = ? AND journey_id = ?`, ws, id); err != nil {
				return fmt.Errorf("delete journey: %w", err)
			}
		}
		return nil
	})
}

// Journey implements kenner.JourneyStore.
func (s *Store) Journey(ctx context.Context, ws, id string) (*kenner.Journey, error) {
	j, err := scanJourney(s.r.QueryRowContext(ctx, `SELECT `+journeyColumns+` FROM journeys WHERE workspace_id = ? AND id = ?`, ws, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no journey %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("journey: %w", err)
	}
	return j, nil
}

// Journeys implements kenner.JourneyStore.
func (s *Store) Journeys(ctx context.Context, ws string) ([]kenner.Journey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+journeyColumns+` FROM journeys WHERE ? = '' OR workspace_id = ? ORDER BY name, workspace_id`, ws, ws)
	if err != nil {
		return nil, fmt.Errorf("journeys: %w", err)
	}
	defer rows.Close()
	out := []kenner.Journey{}
	for rows.Next() {
		j, err := scanJourney(rows)
		if err != nil {
			return nil, fmt.Errorf("journeys: %w", err)
		}
		out = append(out, *j)
	}
	return out, rows.Err()
}

// JourneyVersion implements kenner.JourneyStore.
func (s *Store) JourneyVersion(ctx context.Context, ws, id string, version int) (*kenner.JourneyVersion, error) {
	vs, err := s.journeyVersions(ctx, ws, id, version)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, kenner.Errorf(kenner.ENotFound, "journey %q has no version %d", id, version)
	}
	return &vs[0], nil
}

// JourneyVersions implements kenner.JourneyStore.
func (s *Store) JourneyVersions(ctx context.Context, ws, id string) ([]kenner.JourneyVersion, error) {
	return s.journeyVersions(ctx, ws, id, 0)
}

func (s *Store) journeyVersions(ctx context.Context, ws, id string, version int) ([]kenner.JourneyVersion, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT version, definition, published_at FROM journey_versions
		WHERE workspace_id = ? AND journey_id = ? AND (? = 0 OR version = ?) ORDER BY version`, ws, id, version, version)
	if err != nil {
		return nil, fmt.Errorf("journey versions: %w", err)
	}
	defer rows.Close()
	out := []kenner.JourneyVersion{}
	for rows.Next() {
		v := kenner.JourneyVersion{JourneyID: id}
		var def string
		var at int64
		if err := rows.Scan(&v.Version, &def, &at); err != nil {
			return nil, fmt.Errorf("journey versions: %w", err)
		}
		if err := json.Unmarshal([]byte(def), &v.Definition); err != nil {
			return nil, fmt.Errorf("journey %s version %d: %w", id, v.Version, err)
		}
		v.PublishedAt = fromMillis(at)
		out = append(out, v)
	}
	return out, rows.Err()
}

const enrollmentColumns = `workspace_id, journey_id, profile_id, run, version, step, state, due_at, seq, control, converted, branch, entered_at, updated_at, rev`

// prefixed are the enrollment columns of a query that joins the journeys (as e).
var prefixed = "e." + strings.ReplaceAll(enrollmentColumns, ", ", ", e.")

func scanEnrollments(rows *sql.Rows) ([]kenner.Enrollment, error) {
	defer rows.Close()
	out := []kenner.Enrollment{}
	for rows.Next() {
		var e kenner.Enrollment
		var due sql.NullInt64
		var entered, updated int64
		if err := rows.Scan(&e.WorkspaceID, &e.JourneyID, &e.ProfileID, &e.Run, &e.Version, &e.Step, &e.State, &due, &e.Seq,
			&e.Control, &e.Converted, &e.Branch, &entered, &updated, &e.Rev); err != nil {
			return nil, fmt.Errorf("enrollments: %w", err)
		}
		if due.Valid {
			e.DueAt = fromMillis(due.Int64)
		}
		e.EnteredAt, e.UpdatedAt = fromMillis(entered), fromMillis(updated)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Enrollments implements kenner.JourneyStore.
func (s *Store) Enrollments(ctx context.Context, ws, profileID string) ([]kenner.Enrollment, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+enrollmentColumns+` FROM enrollments WHERE workspace_id = ? AND profile_id = ?
		ORDER BY entered_at DESC, journey_id, run DESC`, ws, profileID)
	if err != nil {
		return nil, fmt.Errorf("enrollments: %w", err)
	}
	return scanEnrollments(rows)
}

// DueEnrollments implements kenner.JourneyStore.
func (s *Store) DueEnrollments(ctx context.Context, t time.Time, limit int) ([]kenner.Enrollment, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+prefixed+` FROM enrollments e JOIN journeys j ON j.workspace_id = e.workspace_id AND j.id = e.journey_id
		WHERE e.state = 'active' AND e.due_at IS NOT NULL AND e.due_at <= ? AND j.status = 'live' ORDER BY e.due_at LIMIT ?`, millis(t), limit)
	if err != nil {
		return nil, fmt.Errorf("due enrollments: %w", err)
	}
	return scanEnrollments(rows)
}

// NextDue implements kenner.JourneyStore.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var due sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT min(e.due_at) FROM enrollments e JOIN journeys j ON j.workspace_id = e.workspace_id AND j.id = e.journey_id
		WHERE e.state = 'active' AND e.due_at IS NOT NULL AND j.status = 'live'`).Scan(&due)
	if err != nil || !due.Valid {
		return time.Time{}, err
	}
	return fromMillis(due.Int64), nil
}

// JourneyPath implements kenner.JourneyStore.
func (s *Store) JourneyPath(ctx context.Context, ws, journeyID, profileID string) ([]kenner.JourneyPathStep, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT journey_id, run, seq, step, outcome, at FROM journey_path
		WHERE workspace_id = ? AND profile_id = ? AND (? = '' OR journey_id = ?) ORDER BY at, run, seq`, ws, profileID, journeyID, journeyID)
	if err != nil {
		return nil, fmt.Errorf("journey path: %w", err)
	}
	defer rows.Close()
	out := []kenner.JourneyPathStep{}
	for rows.Next() {
		p := kenner.JourneyPathStep{ProfileID: profileID}
		var at int64
		if err := rows.Scan(&p.JourneyID, &p.Run, &p.Seq, &p.Step, &p.Outcome, &at); err != nil {
			return nil, fmt.Errorf("journey path: %w", err)
		}
		p.At = fromMillis(at)
		out = append(out, p)
	}
	return out, rows.Err()
}

// JourneyStats implements kenner.JourneyStore.
func (s *Store) JourneyStats(ctx context.Context, ws, journeyID string) (map[string]map[string]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT step, metric, n FROM journey_stats WHERE workspace_id = ? AND journey_id = ?`, ws, journeyID)
	if err != nil {
		return nil, fmt.Errorf("journey stats: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]int64{}
	for rows.Next() {
		var step, metric string
		var n int64
		if err := rows.Scan(&step, &metric, &n); err != nil {
			return nil, fmt.Errorf("journey stats: %w", err)
		}
		if out[step] == nil {
			out[step] = map[string]int64{}
		}
		out[step][metric] = n
	}
	return out, rows.Err()
}

// JourneySends implements kenner.JourneyStore.
func (s *Store) JourneySends(ctx context.Context, ws, profileID, day, week string) (int64, int64, error) {
	var onDay, inWeek sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT sum(CASE WHEN day = ? THEN n END), sum(CASE WHEN week = ? THEN n END)
		FROM journey_sends WHERE workspace_id = ? AND profile_id = ?`, day, week, ws, profileID).Scan(&onDay, &inWeek)
	if err != nil {
		return 0, 0, fmt.Errorf("journey sends: %w", err)
	}
	return onDay.Int64, inWeek.Int64, nil
}

// MoveJourney implements kenner.JourneyBatch.
func (b *batch) MoveJourney(ctx context.Context, ws string, m kenner.JourneyMove) (bool, error) {
	e := m.Enrollment
	var due any
	if !e.DueAt.IsZero() {
		due = millis(e.DueAt)
	}
	var res sql.Result
	var err error
	if m.PrevRev == 0 {
		res, err = b.exec(ctx, `INSERT INTO enrollments (`+enrollmentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`,
			ws, e.JourneyID, e.ProfileID, e.Run, e.Version, e.Step, e.State, due, e.Seq, e.Control, e.Converted, e.Branch,
			millis(e.EnteredAt), millis(e.UpdatedAt), e.Rev)
	} else {
		res, err = b.exec(ctx, `UPDATE enrollments SET version = ?, step = ?, state = ?, due_at = ?, seq = ?, control = ?, converted = ?,
			branch = ?, updated_at = ?, rev = ? WHERE workspace_id = ? AND profile_id = ? AND journey_id = ? AND run = ? AND rev = ?`,
			e.Version, e.Step, e.State, due, e.Seq, e.Control, e.Converted, e.Branch, millis(e.UpdatedAt), e.Rev,
			ws, e.ProfileID, e.JourneyID, e.Run, m.PrevRev)
	}
	if err != nil {
		return false, fmt.Errorf("move journey: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	for _, p := range m.Path {
		if _, err := b.exec(ctx, `INSERT INTO journey_path (workspace_id, journey_id, profile_id, run, seq, step, outcome, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, ws, p.JourneyID, p.ProfileID, p.Run, p.Seq, p.Step, p.Outcome, millis(p.At)); err != nil {
			return false, fmt.Errorf("move journey: %w", err)
		}
	}
	if err := b.AddJourneyStats(ctx, ws, m.Stats); err != nil {
		return false, err
	}
	for _, sd := range m.Sends {
		if _, err := b.exec(ctx, `INSERT INTO journey_sends (workspace_id, profile_id, day, week, n) VALUES (?, ?, ?, ?, 1)
			ON CONFLICT (workspace_id, profile_id, day) DO UPDATE SET n = n + 1`, ws, sd.ProfileID, sd.Day, sd.Week); err != nil {
			return false, fmt.Errorf("move journey: %w", err)
		}
	}
	if err := b.Enqueue(ctx, m.Deliveries); err != nil {
		return false, err
	}
	return true, nil
}

// AddJourneyStats implements kenner.JourneyBatch.
func (b *batch) AddJourneyStats(ctx context.Context, ws string, stats []kenner.JourneyStat) error {
	for _, st := range stats {
		if _, err := b.exec(ctx, `INSERT INTO journey_stats (workspace_id, journey_id, step, metric, n) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (workspace_id, journey_id, step, metric) DO UPDATE SET n = n + excluded.n`, ws, st.JourneyID, st.Step, st.Metric, st.Delta); err != nil {
			return fmt.Errorf("journey stats: %w", err)
		}
	}
	return nil
}

// AddJourneyReaction implements kenner.JourneyStore.
func (s *Store) AddJourneyReaction(ctx context.Context, ws, journeyID, step, profileID, key, kind string) (bool, error) {
	var first bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO journey_reactions (workspace_id, email_key, profile_id, kind) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, ws, key, profileID, kind)
		if err != nil {
			return fmt.Errorf("journey reaction: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		first = true
		for _, st := range []string{"", step} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO journey_stats (workspace_id, journey_id, step, metric, n) VALUES (?, ?, ?, ?, 1)
				ON CONFLICT (workspace_id, journey_id, step, metric) DO UPDATE SET n = n + 1`, ws, journeyID, st, kind); err != nil {
				return fmt.Errorf("journey reaction: %w", err)
			}
		}
		return nil
	})
	return first, err
}

// MigrateJourney implements kenner.JourneyStore.
func (s *Store) MigrateJourney(ctx context.Context, ws, id string, version int, steps []string) (int64, error) {
	if len(steps) == 0 {
		return 0, nil
	}
	a := []any{version, millis(time.Now()), ws, id, version}
	for _, st := range steps {
		a = append(a, st)
	}
	res, err := s.w.ExecContext(ctx, `UPDATE enrollments SET version = ?, updated_at = ?, rev = rev + 1
		WHERE workspace_id = ? AND journey_id = ? AND state = 'active' AND version < ? AND step IN `+in(len(steps)), a...)
	if err != nil {
		return 0, fmt.Errorf("migrate journey: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
