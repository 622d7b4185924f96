package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner/internal/profiledata"

	"github.com/kenner-cdp/kenner"
)

// Queries by profile_id and merged_into name their index (INDEXED BY): without statistics
// SQLite prefers a primary key that shares the workspace_id prefix, and scans the workspace.

// batch is kenner.Batch on the writer's transaction. SQLite serializes writers, so reads need
// no locks: nothing else changes the graph while the transaction is open.
type batch struct {
	s     *Store
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

var _ kenner.Batch = (*batch)(nil)

// stmt prepares query once per transaction; a batch runs the same few statements per event.
func (b *batch) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := b.stmts[query]; ok {
		return st, nil
	}
	st, err := b.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if b.stmts == nil {
		b.stmts = map[string]*sql.Stmt{}
	}
	b.stmts[query] = st
	return st, nil
}

func (b *batch) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := b.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (b *batch) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := b.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (b *batch) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := b.stmt(ctx, query)
	if err != nil {
		return b.tx.QueryRowContext(ctx, query, args...) // reports the same error on Scan
	}
	return st.QueryRowContext(ctx, args...)
}

// inChunk is how many keys one lookup statement takes. Short chunks are padded with
// repeats of their last key, so that every lookup runs the one statement prepared for it.
const inChunk = 200

// chunks calls fn with ids in chunks of inChunk, each padded to that length.
func chunks[T any](ids []T, fn func(part []T) error) error {
	for start := 0; start < len(ids); start += inChunk {
		part := ids[start:min(start+inChunk, len(ids))]
		if len(part) < inChunk {
			padded := make([]T, inChunk)
			copy(padded, part)
			for i := len(part); i < inChunk; i++ {
				padded[i] = part[len(part)-1]
			}
			part = padded
		}
		if err := fn(part); err != nil {
			return err
		}
	}
	return nil
}

// KnownMessages looks a batch's message ids up in chunks: one statement per id cost more in
// database/sql than the index lookups themselves.
func (b *batch) KnownMessages(ctx context.Context, ws string, ids []string) (map[string]bool, error) {
	known := map[string]bool{}
	err := chunks(ids, func(part []string) error {
		rows, err := b.query(ctx, `SELECT message_id FROM events WHERE workspace_id = ? AND message_id IN `+in(inChunk), args(ws, part)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			known[id] = true
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("known messages: %w", err)
	}
	return known, nil
}

// LoadGraph reads, in chunks of identifiers: their owners, then those profiles' ranks and
// identifiers.
func (b *batch) LoadGraph(ctx context.Context, ws string, ids []kenner.Identifier) (kenner.Graph, error) {
	g := kenner.Graph{Owners: map[kenner.Identifier]string{}, Profiles: map[string]kenner.GraphNode{}}
	var owners []string
	seen := map[string]bool{}
	err := chunks(ids, func(part []kenner.Identifier) error {
		a := make([]any, 0, 2*len(part)+1)
		for _, id := range part {
			a = append(a, id.Kind, id.Value)
		}
		a = append(a, ws)
		rows, err := b.query(ctx, `SELECT i.profile_id FROM (VALUES (?, ?)`+strings.Repeat(", (?, ?)", inChunk-1)+`) AS v
			JOIN identities AS i ON i.workspace_id = ? AND i.kind = v.column1 AND i.value = v.column2`, a...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var owner string
			if err := rows.Scan(&owner); err != nil {
				return err
			}
			if !seen[owner] {
				seen[owner] = true
				owners = append(owners, owner)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return g, fmt.Errorf("load graph: %w", err)
	}
	err = chunks(owners, func(part []string) error {
		rows, err := b.query(ctx, `SELECT id, rank FROM profiles WHERE workspace_id = ? AND id IN `+in(inChunk), args(ws, part)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var node kenner.GraphNode
			if err := rows.Scan(&node.ID, &node.Rank); err != nil {
				return err
			}
			g.Profiles[node.ID] = node
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = b.query(ctx, `SELECT profile_id, kind, value FROM identities INDEXED BY identities_profile WHERE workspace_id = ? AND profile_id IN `+in(inChunk), args(ws, part)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var owner string
			var i kenner.Identifier
			if err := rows.Scan(&owner, &i.Kind, &i.Value); err != nil {
				return err
			}
			if _, dup := g.Owners[i]; dup {
				continue // a padded chunk's repeats
			}
			node := g.Profiles[owner]
			node.Identifiers = append(node.Identifiers, i)
			g.Profiles[owner] = node
			g.Owners[i] = owner
		}
		return rows.Err()
	})
	if err != nil {
		return g, fmt.Errorf("load graph: %w", err)
	}
	for _, owner := range owners {
		if _, ok := g.Profiles[owner]; !ok {
			return g, fmt.Errorf("load graph: profile %s: %w", owner, sql.ErrNoRows)
		}
	}
	g.Separations, err = b.separations(ctx, ws, ids, g)
	return g, err
}

// separations loads the separations that involve ids or any identifier of g's profiles.
func (b *batch) separations(ctx context.Context, ws string, ids []kenner.Identifier, g kenner.Graph) ([]kenner.Separation, error) {
	var any int
	if err := b.queryRow(ctx, `SELECT count(*) FROM separations WHERE workspace_id = ?`, ws).Scan(&any); err != nil || any == 0 {
		return nil, err
	}
	seen := map[int64]bool{}
	var out []kenner.Separation
	check := func(id kenner.Identifier) error {
		rows, err := b.query(ctx, `SELECT separation_id FROM separation_members WHERE workspace_id = ? AND kind = ? AND value = ?`, ws, id.Kind, id.Value)
		if err != nil {
			return err
		}
		var sepIDs []int64
		for rows.Next() {
			var sid int64
			if err := rows.Scan(&sid); err != nil {
				rows.Close()
				return err
			}
			if !seen[sid] {
				seen[sid] = true
				sepIDs = append(sepIDs, sid)
			}
		}
		rows.Close()
		for _, sid := range sepIDs {
			sep, err := b.separation(ctx, sid)
			if err != nil {
				return err
			}
			out = append(out, sep)
		}
		return nil
	}
	for _, id := range ids {
		if err := check(id); err != nil {
			return nil, fmt.Errorf("load separations: %w", err)
		}
	}
	for id := range g.Owners {
		if err := check(id); err != nil {
			return nil, fmt.Errorf("load separations: %w", err)
		}
	}
	return out, nil
}

func (b *batch) separation(ctx context.Context, id int64) (kenner.Separation, error) {
	var sep kenner.Separation
	rows, err := b.query(ctx, `SELECT side, kind, value FROM separation_members WHERE separation_id = ? ORDER BY rowid`, id)
	if err != nil {
		return sep, err
	}
	defer rows.Close()
	for rows.Next() {
		var side string
		var i kenner.Identifier
		if err := rows.Scan(&side, &i.Kind, &i.Value); err != nil {
			return sep, err
		}
		if side == "A" {
			sep.A = append(sep.A, i)
		} else {
			sep.B = append(sep.B, i)
		}
	}
	return sep, rows.Err()
}

func (b *batch) LoadProfiles(ctx context.Context, ws string, ids []string) (map[string]*kenner.Profile, error) {
	out := make(map[string]*kenner.Profile, len(ids))
	err := chunks(ids, func(part []string) error {
		rows, err := b.query(ctx, `SELECT `+profileColumns+` FROM profiles WHERE workspace_id = ? AND id IN `+in(inChunk), args(ws, part)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanProfile(rows)
			if err != nil {
				return err
			}
			if p.mergedInto == "" && out[p.ID] == nil {
				out[p.ID] = &p.Profile
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("load profiles: %w", err)
	}
	return out, nil
}

func (b *batch) WriteGraph(ctx context.Context, ws string, c kenner.GraphChanges) error {
	now := millis(time.Now())
	for _, n := range c.Created {
		if _, err := b.exec(ctx, `INSERT INTO profiles (workspace_id, id, rank, data, first_seen, last_seen, version, updated_at)
			VALUES (?, ?, ?, '{}', 0, 0, 0, ?)`, ws, n.ID, n.Rank, now); err != nil {
			return fmt.Errorf("create profile %s: %w", n.ID, err)
		}
	}
	for _, m := range c.Merges {
		for _, q := range []string{
			`UPDATE identities INDEXED BY identities_profile SET profile_id = ? WHERE workspace_id = ? AND profile_id = ?`,
			`UPDATE events SET profile_id = ? WHERE workspace_id = ? AND profile_id = ? AND profile_id <> ''`,
			`UPDATE decisions SET profile_id = ? WHERE workspace_id = ? AND profile_id = ?`,
			`UPDATE profiles INDEXED BY profiles_merged SET merged_into = ? WHERE workspace_id = ? AND merged_into = ? AND merged_into <> ''`,
			`UPDATE profiles SET merged_into = ?, data = '{}', expires = 0, version = version + 1, updated_at = ` + fmt.Sprint(now) + ` WHERE workspace_id = ? AND id = ?`,
		} {
			if _, err := b.exec(ctx, q, m.Into, ws, m.From); err != nil {
				return fmt.Errorf("merge %s into %s: %w", m.From, m.Into, err)
			}
		}
	}
	var a []any
	for owner, ids := range c.Identities {
		for _, i := range ids {
			a = append(a, ws, i.Kind, i.Value, owner, i.SourceID, i.MessageID, i.Rank, millis(i.At))
		}
	}
	if err := b.insertRows(ctx, `INSERT INTO identities (workspace_id, kind, value, profile_id, source_id, message_id, rank, at)`, "", 8, a); err != nil {
		return fmt.Errorf("attach identifiers: %w", err)
	}
	return b.AddDecisions(ctx, ws, c.Decisions)
}

func (b *batch) AddDecisions(ctx context.Context, ws string, ds []kenner.Decision) error {
	a := make([]any, 0, 10*len(ds))
	for _, d := range ds {
		a = append(a, ws, d.ProfileID, d.Action, d.From, d.Identifier.Kind, d.Identifier.Value, d.MessageID, d.Reason, d.Rank, millis(d.At))
	}
	if err := b.insertRows(ctx, `INSERT INTO decisions (workspace_id, profile_id, action, from_id, kind, value, message_id, reason, rank, at)`, "", 10, a); err != nil {
		return fmt.Errorf("record decisions: %w", err)
	}
	return nil
}

// rowsPerInsert is how many rows one multi-row insert writes.
const rowsPerInsert = 64

func (b *batch) SaveProfiles(ctx context.Context, profiles []*kenner.Profile) error {
	now := time.Now().UTC()
	const cols = 9
	// No padding here: a repeated row would count as a second update of its version.
	for start := 0; start < len(profiles); start += rowsPerInsert {
		part := profiles[start:min(start+rowsPerInsert, len(profiles))]
		a := make([]any, 0, cols*len(part))
		for _, p := range part {
			data, err := profiledata.Encode(p)
			if err != nil {
				return err
			}
			p.Version++
			p.UpdatedAt = now
			a = append(a, p.WorkspaceID, p.ID, p.Rank, data, seenMillis(p.FirstSeen), seenMillis(p.LastSeen), p.Version, millis(now), seenMillis(p.Expires))
		}
		if _, err := b.exec(ctx, `INSERT INTO profiles (workspace_id, id, rank, data, first_seen, last_seen, version, updated_at, expires)
			VALUES `+values(len(part), cols)+`
			ON CONFLICT (workspace_id, id) DO UPDATE SET data = excluded.data, first_seen = excluded.first_seen,
				last_seen = excluded.last_seen, version = profiles.version + 1, updated_at = excluded.updated_at, expires = excluded.expires`,
			a...); err != nil {
			return fmt.Errorf("save profiles: %w", err)
		}
	}
	return nil
}

// insertRows runs head VALUES (...), ... tail for args, rows of cols values each, in
// statements of up to rowsPerInsert rows: one statement per row was most of the cost of
// writing memberships and changes.
func (b *batch) insertRows(ctx context.Context, head, tail string, cols int, args []any) error {
	n := len(args) / cols
	for start := 0; start < n; start += rowsPerInsert {
		k := min(rowsPerInsert, n-start)
		if _, err := b.exec(ctx, head+` VALUES `+values(k, cols)+tail, args[start*cols:(start+k)*cols]...); err != nil {
			return err
		}
	}
	return nil
}

// values is the VALUES list of rows rows of cols parameters each.
func values(rows, cols int) string {
	row := "(?" + strings.Repeat(", ?", cols-1) + ")"
	return row + strings.Repeat(", "+row, rows-1)
}

func (b *batch) InsertEvents(ctx context.Context, events []kenner.Event) (int, error) {
	// A replayed record conflicts on its place in the log and changes nothing. A message id seen
	// before conflicts on (workspace, message_id): the copy earliest in the log is kept, whatever
	// order the partitions are processed in, so a replay always ends in the same state; the
	// profile stays the one the first stored copy went to. Rows go in chunks padded with
	// repeats of their last event, which conflict on id and change nothing.
	added := 0
	const cols = 12
	for start := 0; start < len(events); start += rowsPerInsert {
		part := events[start:min(start+rowsPerInsert, len(events))]
		a := make([]any, 0, cols*rowsPerInsert)
		for i := range rowsPerInsert {
			e := &part[min(i, len(part)-1)]
			a = append(a, kenner.EventRank(e.Seq, e.Index), e.WorkspaceID, e.SourceID, e.MessageID, e.Type, e.Name,
				e.UserID, e.AnonymousID, millis(e.Timestamp), millis(e.ReceivedAt), []byte(e.Body), e.ProfileID)
		}
		res, err := b.exec(ctx, `INSERT INTO events
			(id, workspace_id, source_id, message_id, type, name, user_id, anonymous_id, ts, received_at, body, profile_id)
			VALUES `+values(rowsPerInsert, cols)+`
			ON CONFLICT (id) DO NOTHING
			ON CONFLICT (workspace_id, message_id) DO UPDATE SET
				id = excluded.id, source_id = excluded.source_id, type = excluded.type, name = excluded.name,
				user_id = excluded.user_id, anonymous_id = excluded.anonymous_id, ts = excluded.ts, received_at = excluded.received_at, body = excluded.body
			WHERE excluded.id < events.id`, a...)
		if err != nil {
			return added, fmt.Errorf("append events: %w", err)
		}
		n, _ := res.RowsAffected()
		added += int(n)
	}
	return added, nil
}

func (b *batch) AssignEvents(ctx context.Context, events []kenner.Event) error {
	for _, e := range events {
		if _, err := b.exec(ctx, `UPDATE events SET profile_id = ? WHERE workspace_id = ? AND message_id = ?`, e.ProfileID, e.WorkspaceID, e.MessageID); err != nil {
			return fmt.Errorf("assign event %s: %w", e.MessageID, err)
		}
	}
	return nil
}

func (b *batch) AddSeparation(ctx context.Context, ws string, sep kenner.Separation) error {
	res, err := b.exec(ctx, `INSERT INTO separations (workspace_id, created_at) VALUES (?, ?)`, ws, millis(time.Now()))
	if err != nil {
		return fmt.Errorf("add separation: %w", err)
	}
	id, _ := res.LastInsertId()
	for side, ids := range map[string][]kenner.Identifier{"A": sep.A, "B": sep.B} {
		for _, i := range ids {
			if _, err := b.exec(ctx, `INSERT INTO separation_members (separation_id, workspace_id, side, kind, value) VALUES (?, ?, ?, ?, ?)`,
				id, ws, side, i.Kind, i.Value); err != nil {
				return fmt.Errorf("add separation: %w", err)
			}
		}
	}
	return nil
}

func (b *batch) ResetProfile(ctx context.Context, ws, id string) ([]kenner.Event, error) {
	rows, err := b.query(ctx, `SELECT `+eventColumns+` FROM events WHERE workspace_id = ? AND profile_id = ? AND profile_id <> '' ORDER BY id`, ws, id)
	if err != nil {
		return nil, fmt.Errorf("reset profile: %w", err)
	}
	events, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("reset profile: %w", err)
	}
	for i := range events {
		events[i].ProfileID = ""
	}
	for _, q := range []string{
		`UPDATE events SET profile_id = '' WHERE workspace_id = ? AND profile_id = ? AND profile_id <> ''`,
		`DELETE FROM identities INDEXED BY identities_profile WHERE workspace_id = ? AND profile_id = ?`,
		`DELETE FROM decisions WHERE workspace_id = ? AND profile_id = ?`,
		`DELETE FROM profiles INDEXED BY profiles_merged WHERE workspace_id = ? AND merged_into = ? AND merged_into <> ''`,
		`DELETE FROM profiles WHERE workspace_id = ? AND id = ?`,
	} {
		if _, err := b.exec(ctx, q, ws, id); err != nil {
			return nil, fmt.Errorf("reset profile: %w", err)
		}
	}
	return events, nil
}

const profileColumns = `workspace_id, id, rank, merged_into, data, first_seen, last_seen, version, updated_at, expires`

type storedProfile struct {
	kenner.Profile
	mergedInto string
}

func scanProfile(row interface{ Scan(...any) error }) (storedProfile, error) {
	return scanProfileFields(row, nil)
}

// scanProfileFields is scanProfile decoding only what fields names (nil: everything).
func scanProfileFields(row interface{ Scan(...any) error }, fields *kenner.ProfileFields) (storedProfile, error) {
	var p storedProfile
	var data []byte
	var first, last, updated, expires int64
	if err := row.Scan(&p.WorkspaceID, &p.ID, &p.Rank, &p.mergedInto, &data, &first, &last, &p.Version, &updated, &expires); err != nil {
		return p, err
	}
	if err := profiledata.DecodeFields(data, &p.Profile, fields); err != nil {
		return p, err
	}
	if first != 0 || last != 0 {
		p.FirstSeen, p.LastSeen = fromMillis(first), fromMillis(last)
	}
	p.UpdatedAt = fromMillis(updated)
	if expires != 0 {
		p.Expires = fromMillis(expires)
	}
	return p, nil
}

// seenMillis stores an unset time as 0.
func seenMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return millis(t)
}
