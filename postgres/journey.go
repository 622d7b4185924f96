package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kenner-cdp/kenner"
)

const journeyColumns = `id, workspace_id, status, version, published_at, document, created_at, updated_at`

func scanJourney(row pgx.Row) (*kenner.Journey, error) {
	var j kenner.Journey
	var doc []byte
	if err := row.Scan(&j.ID, &j.WorkspaceID, &j.Status, &j.Version, &j.PublishedAt, &doc, &j.CreatedAt, &j.UpdatedAt); err != nil {
		return nil, err
	}
	j.CreatedAt, j.UpdatedAt = j.CreatedAt.UTC(), j.UpdatedAt.UTC()
	if j.PublishedAt != nil {
		at := j.PublishedAt.UTC()
		j.PublishedAt = &at
	}
	if err := kenner.SetJourneyDocument(&j, doc); err != nil {
		return nil, fmt.Errorf("journey %s: %w", j.ID, err)
	}
	return &j, nil
}

// CreateJourney implements kenner.JourneyStore.
func (s *Store) CreateJourney(ctx context.Context, j *kenner.Journey) error {
	if j.ID == "" {
		j.ID = kenner.NewID("jrn")
	}
	t := now()
	j.CreatedAt, j.UpdatedAt = t, t
	if j.Status == "" {
		j.Status = kenner.JourneyDraft
	}
	doc, err := kenner.JourneyDocument(j)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO journeys (id, workspace_id, name, status, document, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		j.ID, j.WorkspaceID, j.Name, j.Status, doc, t, t)
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
	t := now()
	tag, err := s.pool.Exec(ctx, `UPDATE journeys SET name = $1, status = $2, document = $3, updated_at = $4 WHERE workspace_id = $5 AND id = $6`,
		j.Name, j.Status, doc, t, j.WorkspaceID, j.ID)
	if isUnique(err) {
		return kenner.Errorf(kenner.EConflict, "a journey named %q already exists", j.Name)
	}
	if err != nil {
		return fmt.Errorf("update journey: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return kenner.Errorf(kenner.ENotFound, "no journey %q", j.ID)
	}
	j.UpdatedAt = t
	return nil
}

// PublishJourney implements kenner.JourneyStore.
func (s *Store) PublishJourney(ctx context.Context, ws, id string, at time.Time) (*kenner.Journey, error) {
	var j *kenner.Journey
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		j, err = scanJourney(tx.QueryRow(ctx, `SELECT `+journeyColumns+` FROM journeys WHERE workspace_id = $1 AND id = $2 FOR UPDATE`, ws, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return kenner.Errorf(kenner.ENotFound, "no journey %q", id)
		}
		if err != nil {
			return fmt.Errorf("publish journey: %w", err)
		}
		def, err := json.Marshal(j.JourneyDefinition)
		if err != nil {
			return err
		}
		at = at.UTC().Truncate(time.Microsecond)
		j.Version++
		j.Status, j.PublishedAt, j.UpdatedAt = kenner.JourneyLive, &at, at
		if _, err := tx.Exec(ctx, `INSERT INTO journey_versions (workspace_id, journey_id, version, definition, published_at) VALUES ($1, $2, $3, $4, $5)`,
			ws, id, j.Version, def, at); err != nil {
			return fmt.Errorf("publish journey: %w", err)
		}
		_, err = tx.Exec(ctx, `UPDATE journeys SET status = $1, version = $2, published_at = $3, updated_at = $3 WHERE workspace_id = $4 AND id = $5`,
			j.Status, j.Version, at, ws, id)
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
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE journeys SET status = 'archived', updated_at = $1 WHERE workspace_id = $2 AND id = $3`, at.UTC(), ws, id)
		if err != nil {
			return fmt.Errorf("archive journey: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return kenner.Errorf(kenner.ENotFound, "no journey %q", id)
		}
		if tag, err = tx.Exec(ctx, `UPDATE enrollments SET state = 'exited', due_at = NULL, updated_at = $1, rev = rev + 1
			WHERE workspace_id = $2 AND journey_id = $3 AND state = 'active'`, at.UTC(), ws, id); err != nil {
			return fmt.Errorf("archive journey: %w", err)
		}
		n = tag.RowsAffected()
		if _, err := tx.Exec(ctx, `UPDATE journey_stats SET n = 0 WHERE workspace_id = $1 AND journey_id = $2 AND metric IN ('waiting', 'active', 'scheduled')`, ws, id); err != nil {
			return fmt.Errorf("archive journey: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO journey_stats (workspace_id, journey_id, step, metric, n) VALUES ($1, $2, '', 'exited', $3)
			ON CONFLICT (workspace_id, journey_id, step, metric) DO UPDATE SET n = journey_stats.n + excluded.n`, ws, id, n)
		if err != nil {
			return fmt.Errorf("archive journey: %w", err)
		}
		return nil
	})
	return n, err
}

// DeleteJourney implements kenner.JourneyStore.
func (s *Store) DeleteJourney(ctx context.Context, ws, id string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM journeys WHERE workspace_id = $1 AND id = $2`, ws, id)
		if err != nil {
			return fmt.Errorf("delete journey: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return kenner.Errorf(kenner.ENotFound, "no journey %q", id)
		}
		for _, table := range []string{"journey_versions", "enrollments", "journey_path", "journey_stats"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE workspace_id = $1 AND journey_id = $2`, ws, id); err != nil {
				return fmt.Errorf("delete journey: %w", err)
			}
		}
		return nil
	})
}

// Journey implements kenner.JourneyStore.
func (s *Store) Journey(ctx context.Context, ws, id string) (*kenner.Journey, error) {
	j, err := scanJourney(s.pool.QueryRow(ctx, `SELECT `+journeyColumns+` FROM journeys WHERE workspace_id = $1 AND id = $2`, ws, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kenner.Errorf(kenner.ENotFound, "no journey %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("journey: %w", err)
	}
	return j, nil
}

// Journeys implements kenner.JourneyStore.
func (s *Store) Journeys(ctx context.Context, ws string) ([]kenner.Journey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+journeyColumns+` FROM journeys WHERE $1 = '' OR workspace_id = $1 ORDER BY name, workspace_id`, ws)
	if err != nil {
		return nil, fmt.Errorf("journeys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kenner.Journey, error) {
		j, err := scanJourney(r)
		if err != nil {
			return kenner.Journey{}, err
		}
		return *j, nil
	})
	if err != nil {
		return nil, fmt.Errorf("journeys: %w", err)
	}
	if out == nil {
		out = []kenner.Journey{}
	}
	return out, nil
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
	rows, err := s.pool.Query(ctx, `SELECT version, definition, published_at FROM journey_versions
		WHERE workspace_id = $1 AND journey_id = $2 AND ($3 = 0 OR version = $3) ORDER BY version`, ws, id, version)
	if err != nil {
		return nil, fmt.Errorf("journey versions: %w", err)
	}
	defer rows.Close()
	out := []kenner.JourneyVersion{}
	for rows.Next() {
		v := kenner.JourneyVersion{JourneyID: id}
		var def []byte
		if err := rows.Scan(&v.Version, &def, &v.PublishedAt); err != nil {
			return nil, fmt.Errorf("journey versions: %w", err)
		}
		if err := json.Unmarshal(def, &v.Definition); err != nil {
			return nil, fmt.Errorf("journey %s version %d: %w", id, v.Version, err)
		}
		v.PublishedAt = v.PublishedAt.UTC()
		out = append(out, v)
	}
	return out, rows.Err()
}

const enrollmentColumns = `workspace_id, journey_id, profile_id, run, version, step, state, due_at, seq, control, converted, branch, entered_at, updated_at, rev`

// prefixed are the enrollment columns of a query that joins the journeys (as e).
var prefixed = "e." + strings.ReplaceAll(enrollmentColumns, ", ", ", e.")

func scanEnrollments(rows pgx.Rows) ([]kenner.Enrollment, error) {
	defer rows.Close()
	out := []kenner.Enrollment{}
	for rows.Next() {
		var e kenner.Enrollment
		var due *time.Time
		if err := rows.Scan(&e.WorkspaceID, &e.JourneyID, &e.ProfileID, &e.Run, &e.Version, &e.Step, &e.State, &due, &e.Seq,
			&e.Control, &e.Converted, &e.Branch, &e.EnteredAt, &e.UpdatedAt, &e.Rev); err != nil {
			return nil, fmt.Errorf("enrollments: %w", err)
		}
		if due != nil {
			e.DueAt = due.UTC()
		}
		e.EnteredAt, e.UpdatedAt = e.EnteredAt.UTC(), e.UpdatedAt.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// Enrollments implements kenner.JourneyStore.
func (s *Store) Enrollments(ctx context.Context, ws, profileID string) ([]kenner.Enrollment, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+enrollmentColumns+` FROM enrollments WHERE workspace_id = $1 AND profile_id = $2
		ORDER BY entered_at DESC, journey_id, run DESC`, ws, profileID)
	if err != nil {
		return nil, fmt.Errorf("enrollments: %w", err)
	}
	return scanEnrollments(rows)
}

// DueEnrollments implements kenner.JourneyStore.
func (s *Store) DueEnrollments(ctx context.Context, t time.Time, limit int) ([]kenner.Enrollment, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+prefixed+` FROM enrollments e JOIN journeys j ON j.workspace_id = e.workspace_id AND j.id = e.journey_id
		WHERE e.state = 'active' AND e.due_at IS NOT NULL AND e.due_at <= $1 AND j.status = 'live' ORDER BY e.due_at LIMIT $2`, t.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("due enrollments: %w", err)
	}
	return scanEnrollments(rows)
}

// NextDue implements kenner.JourneyStore.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var due *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT min(e.due_at) FROM enrollments e JOIN journeys j ON j.workspace_id = e.workspace_id AND j.id = e.journey_id
		WHERE e.state = 'active' AND e.due_at IS NOT NULL AND j.status = 'live'`).Scan(&due); err != nil || due == nil {
		return time.Time{}, err
	}
	return due.UTC(), nil
}

// JourneyPath implements kenner.JourneyStore.
func (s *Store) JourneyPath(ctx context.Context, ws, journeyID, profileID string) ([]kenner.JourneyPathStep, error) {
	rows, err := s.pool.Query(ctx, `SELECT journey_id, run, seq, step, outcome, at FROM journey_path
		WHERE workspace_id = $1 AND profile_id = $2 AND ($3 = '' OR journey_id = $3) ORDER BY at, run, seq`, ws, profileID, journeyID)
	if err != nil {
		return nil, fmt.Errorf("journey path: %w", err)
	}
	defer rows.Close()
	out := []kenner.JourneyPathStep{}
	for rows.Next() {
		p := kenner.JourneyPathStep{ProfileID: profileID}
		if err := rows.Scan(&p.JourneyID, &p.Run, &p.Seq, &p.Step, &p.Outcome, &p.At); err != nil {
			return nil, fmt.Errorf("journey path: %w", err)
		}
		p.At = p.At.UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// JourneyStats implements kenner.JourneyStore.
func (s *Store) JourneyStats(ctx context.Context, ws, journeyID string) (map[string]map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT step, metric, n FROM journey_stats WHERE workspace_id = $1 AND journey_id = $2`, ws, journeyID)
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
	var onDay, inWeek *int64
	err := s.pool.QueryRow(ctx, `SELECT sum(n) FILTER (WHERE day = $1), sum(n) FILTER (WHERE week = $2)
		FROM journey_sends WHERE workspace_id = $3 AND profile_id = $4`, day, week, ws, profileID).Scan(&onDay, &inWeek)
	if err != nil {
		return 0, 0, fmt.Errorf("journey sends: %w", err)
	}
	var d, w int64
	if onDay != nil {
		d = *onDay
	}
	if inWeek != nil {
		w = *inWeek
	}
	return d, w, nil
}

// MoveJourney implements kenner.JourneyBatch.
func (b *batch) MoveJourney(ctx context.Context, ws string, m kenner.JourneyMove) (bool, error) {
	e := m.Enrollment
	var due *time.Time
	if !e.DueAt.IsZero() {
		d := e.DueAt.UTC()
		due = &d
	}
	var n int64
	if m.PrevRev == 0 {
		tag, err := b.tx.Exec(ctx, `INSERT INTO enrollments (`+enrollmentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
			ON CONFLICT DO NOTHING`,
			ws, e.JourneyID, e.ProfileID, e.Run, e.Version, e.Step, e.State, due, e.Seq, e.Control, e.Converted, e.Branch,
			e.EnteredAt.UTC(), e.UpdatedAt.UTC(), e.Rev)
		if err != nil {
			return false, fmt.Errorf("move journey: %w", err)
		}
		n = tag.RowsAffected()
	} else {
		tag, err := b.tx.Exec(ctx, `UPDATE enrollments SET version = $1, step = $2, state = $3, due_at = $4, seq = $5, control = $6, converted = $7,
			branch = $8, updated_at = $9, rev = $10 WHERE workspace_id = $11 AND profile_id = $12 AND journey_id = $13 AND run = $14 AND rev = $15`,
			e.Version, e.Step, e.State, due, e.Seq, e.Control, e.Converted, e.Branch, e.UpdatedAt.UTC(), e.Rev,
			ws, e.ProfileID, e.JourneyID, e.Run, m.PrevRev)
		if err != nil {
			return false, fmt.Errorf("move journey: %w", err)
		}
		n = tag.RowsAffected()
	}
	if n == 0 {
		return false, nil
	}
	pb := &pgx.Batch{}
	for _, p := range m.Path {
		pb.Queue(`INSERT INTO journey_path (workspace_id, journey_id, profile_id, run, seq, step, outcome, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT DO NOTHING`, ws, p.JourneyID, p.ProfileID, p.Run, p.Seq, p.Step, p.Outcome, p.At.UTC())
	}
	queueStats(pb, ws, m.Stats)
	for _, sd := range m.Sends {
		pb.Queue(`INSERT INTO journey_sends (workspace_id, profile_id, day, week, n) VALUES ($1, $2, $3, $4, 1)
			ON CONFLICT (workspace_id, profile_id, day) DO UPDATE SET n = journey_sends.n + 1`, ws, sd.ProfileID, sd.Day, sd.Week)
	}
	if pb.Len() > 0 {
		if err := b.tx.SendBatch(ctx, pb).Close(); err != nil {
			return false, fmt.Errorf("move journey: %w", err)
		}
	}
	if err := b.Enqueue(ctx, m.Deliveries); err != nil {
		return false, err
	}
	return true, nil
}

func queueStats(pb *pgx.Batch, ws string, stats []kenner.JourneyStat) {
	for _, st := range stats {
		pb.Queue(`INSERT INTO journey_stats (workspace_id, journey_id, step, metric, n) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (workspace_id, journey_id, step, metric) DO UPDATE SET n = journey_stats.n + excluded.n`, ws, st.JourneyID, st.Step, st.Metric, st.Delta)
	}
}

// AddJourneyStats implements kenner.JourneyBatch.
func (b *batch) AddJourneyStats(ctx context.Context, ws string, stats []kenner.JourneyStat) error {
	if len(stats) == 0 {
		return nil
	}
	pb := &pgx.Batch{}
	queueStats(pb, ws, stats)
	if err := b.tx.SendBatch(ctx, pb).Close(); err != nil {
		return fmt.Errorf("journey stats: %w", err)
	}
	return nil
}

// AddJourneyReaction implements kenner.JourneyStore.
func (s *Store) AddJourneyReaction(ctx context.Context, ws, journeyID, step, profileID, key, kind string) (bool, error) {
	var first bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO journey_reactions (workspace_id, email_key, profile_id, kind) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, ws, key, profileID, kind)
		if err != nil {
			return fmt.Errorf("journey reaction: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		first = true
		for _, st := range []string{"", step} {
			if _, err := tx.Exec(ctx, `INSERT INTO journey_stats (workspace_id, journey_id, step, metric, n) VALUES ($1, $2, $3, $4, 1)
				ON CONFLICT (workspace_id, journey_id, step, metric) DO UPDATE SET n = journey_stats.n + 1`, ws, journeyID, st, kind); err != nil {
				return fmt.Errorf("journey reaction: %w", err)
			}
		}
		return nil
	})
	return first, err
}

// MigrateJourney implements kenner.JourneyStore.
func (s *Store) MigrateJourney(ctx context.Context, ws, id string, version int, steps []string) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE enrollments SET version = $1, updated_at = $2, rev = rev + 1
		WHERE workspace_id = $3 AND journey_id = $4 AND state = 'active' AND version < $1 AND step = ANY($5)`, version, now(), ws, id, steps)
	if err != nil {
		return 0, fmt.Errorf("migrate journey: %w", err)
	}
	return tag.RowsAffected(), nil
}
