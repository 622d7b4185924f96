package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner/internal/profiledata"

	"github.com/jackc/pgx/v5"
	"github.com/kenner-cdp/kenner"
)

// batch is kenner.Batch on one transaction. Several nodes may process at once, so LoadGraph
// locks: first a transaction-scoped advisory lock per identifier (so that two transactions
// cannot both attach a new identifier), then the rows of the profiles that own them (so that
// no other transaction merges, attaches to or rewrites those profiles until this one ends).
type batch struct {
	tx      pgx.Tx
	changes []kenner.Change // written by flushChanges just before the commit
}

var _ kenner.Batch = (*batch)(nil)

func (b *batch) KnownMessages(ctx context.Context, ws string, ids []string) (map[string]bool, error) {
	rows, err := b.tx.Query(ctx, `SELECT message_id FROM events WHERE workspace_id = $1 AND message_id = ANY($2)`, ws, ids)
	if err != nil {
		return nil, fmt.Errorf("known messages: %w", err)
	}
	known, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("known messages: %w", err)
	}
	out := make(map[string]bool, len(known))
	for _, id := range known {
		out[id] = true
	}
	return out, nil
}

func split(ids []kenner.Identifier) (kinds, values []string) {
	kinds, values = make([]string, len(ids)), make([]string, len(ids))
	for i, id := range ids {
		kinds[i], values[i] = id.Kind, id.Value
	}
	return kinds, values
}

func (b *batch) LoadGraph(ctx context.Context, ws string, ids []kenner.Identifier) (kenner.Graph, error) {
	g := kenner.Graph{Owners: map[kenner.Identifier]string{}, Profiles: map[string]kenner.GraphNode{}}
	kinds, values := split(ids)
	// Sorted, so that two transactions take shared locks in the same order.
	if _, err := b.tx.Exec(ctx, `SELECT pg_advisory_xact_lock(h) FROM (
		SELECT DISTINCT hashtextextended($1 || chr(31) || k || chr(31) || v, 0) AS h FROM unnest($2::text[], $3::text[]) AS t(k, v)
		ORDER BY h) AS l`, ws, kinds, values); err != nil {
		return g, fmt.Errorf("lock identifiers: %w", err)
	}
	var locked []string
	for range 100 {
		owners := map[string]bool{}
		// One probe of the key per identifier, whatever the statistics say (see repoint).
		rows, err := b.tx.Query(ctx, `SELECT DISTINCT i.profile_id FROM unnest($2::text[], $3::text[]) AS u(k, v),
			LATERAL (SELECT profile_id FROM identities WHERE workspace_id = $1 AND kind = u.k AND value = u.v OFFSET 0) AS i`, ws, kinds, values)
		if err != nil {
			return g, fmt.Errorf("load graph: %w", err)
		}
		found, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return g, fmt.Errorf("load graph: %w", err)
		}
		for _, id := range found {
			owners[id] = true
		}
		var more []string
		for id := range owners {
			if !slices.Contains(locked, id) {
				more = append(more, id)
			}
		}
		if len(more) == 0 {
			break
		}
		slices.Sort(more)
		// A profile merged away before we locked it no longer owns anything: the next round
		// reads the owners again and finds the survivor.
		rows, err = b.tx.Query(ctx, `SELECT id, rank, merged_into FROM profiles WHERE workspace_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE`, ws, more)
		if err != nil {
			return g, fmt.Errorf("lock profiles: %w", err)
		}
		var id, mergedInto string
		var rank int64
		_, err = pgx.ForEachRow(rows, []any{&id, &rank, &mergedInto}, func() error {
			locked = append(locked, id)
			if mergedInto == "" {
				g.Profiles[id] = kenner.GraphNode{ID: id, Rank: rank}
			}
			return nil
		})
		if err != nil {
			return g, fmt.Errorf("lock profiles: %w", err)
		}
	}
	live := make([]string, 0, len(g.Profiles))
	for id := range g.Profiles {
		live = append(live, id)
	}
	// A LATERAL probe per profile rather than profile_id = ANY($2): with statistics from when
	// the table was small (a growing store between autovacuum runs), the planner scanned the
	// whole workspace's identities for ANY and filtered them, 100x slower. OFFSET 0 keeps the
	// subquery from being flattened back into that plan.
	rows, err := b.tx.Query(ctx, `SELECT i.kind, i.value, i.profile_id FROM unnest($2::text[]) AS p(id),
		LATERAL (SELECT kind, value, profile_id, rank FROM identities WHERE workspace_id = $1 AND profile_id = p.id OFFSET 0) AS i
		ORDER BY i.rank, i.kind, i.value`, ws, live)
	if err != nil {
		return g, fmt.Errorf("load graph: %w", err)
	}
	var id kenner.Identifier
	var owner string
	_, err = pgx.ForEachRow(rows, []any{&id.Kind, &id.Value, &owner}, func() error {
		n := g.Profiles[owner]
		n.Identifiers = append(n.Identifiers, id)
		g.Profiles[owner] = n
		g.Owners[id] = owner
		return nil
	})
	if err != nil {
		return g, fmt.Errorf("load graph: %w", err)
	}
	g.Separations, err = b.separations(ctx, ws, ids, g)
	return g, err
}

func (b *batch) separations(ctx context.Context, ws string, ids []kenner.Identifier, g kenner.Graph) ([]kenner.Separation, error) {
	all := slices.Clone(ids)
	for id := range g.Owners {
		all = append(all, id)
	}
	kinds, values := split(all)
	rows, err := b.tx.Query(ctx, `SELECT m.separation_id, m.side, m.kind, m.value FROM separation_members m
		WHERE m.separation_id IN (SELECT separation_id FROM separation_members
			WHERE workspace_id = $1 AND (kind, value) IN (SELECT * FROM unnest($2::text[], $3::text[])))
		ORDER BY m.separation_id, m.ord`, ws, kinds, values)
	if err != nil {
		return nil, fmt.Errorf("load separations: %w", err)
	}
	var out []kenner.Separation
	var last int64
	var sid int64
	var side string
	var id kenner.Identifier
	_, err = pgx.ForEachRow(rows, []any{&sid, &side, &id.Kind, &id.Value}, func() error {
		if len(out) == 0 || sid != last {
			out = append(out, kenner.Separation{})
			last = sid
		}
		s := &out[len(out)-1]
		if side == "A" {
			s.A = append(s.A, id)
		} else {
			s.B = append(s.B, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load separations: %w", err)
	}
	return out, nil
}

func (b *batch) LoadProfiles(ctx context.Context, ws string, ids []string) (map[string]*kenner.Profile, error) {
	rows, err := b.tx.Query(ctx, `SELECT `+profileColumns+` FROM profiles WHERE workspace_id = $1 AND id = ANY($2) AND merged_into = '' ORDER BY id FOR UPDATE`, ws, ids)
	if err != nil {
		return nil, fmt.Errorf("load profiles: %w", err)
	}
	defer rows.Close()
	out := make(map[string]*kenner.Profile, len(ids))
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("load profiles: %w", err)
		}
		out[p.ID] = &p.Profile
	}
	return out, rows.Err()
}

func (b *batch) WriteGraph(ctx context.Context, ws string, c kenner.GraphChanges) error {
	now := time.Now().UTC()
	if len(c.Created) > 0 {
		ids, ranks := make([]string, len(c.Created)), make([]int64, len(c.Created))
		for i, n := range c.Created {
			ids[i], ranks[i] = n.ID, n.Rank
		}
		if _, err := b.tx.Exec(ctx, `INSERT INTO profiles (workspace_id, id, rank, data, version, updated_at)
			SELECT $1, id, rank, '{}', 0, $4 FROM unnest($2::text[], $3::bigint[]) AS t(id, rank)`, ws, ids, ranks, now); err != nil {
			return fmt.Errorf("create profiles: %w", err)
		}
	}
	if err := b.merge(ctx, ws, c.Merges); err != nil {
		return err
	}
	var kinds, values, owners, sources, msgs []string
	var ranks []int64
	var ats []time.Time
	for owner, ids := range c.Identities {
		for _, i := range ids {
			kinds, values, owners = append(kinds, i.Kind), append(values, i.Value), append(owners, owner)
			sources, msgs, ranks, ats = append(sources, i.SourceID), append(msgs, i.MessageID), append(ranks, i.Rank), append(ats, i.At.UTC())
		}
	}
	if len(kinds) > 0 {
		if _, err := b.tx.Exec(ctx, `INSERT INTO identities (workspace_id, kind, value, profile_id, source_id, message_id, rank, at)
			SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::timestamptz[])`,
			ws, kinds, values, owners, sources, msgs, ranks, ats); err != nil {
			return fmt.Errorf("attach identities: %w", err)
		}
	}
	return b.AddDecisions(ctx, ws, c.Decisions)
}

// merge applies a batch's merges in one statement per table. A profile merged into one that
// is itself merged later in the batch goes straight to the last survivor, which is where the
// merges one by one would have left its rows.
func (b *batch) merge(ctx context.Context, ws string, merges []kenner.Merge) error {
	if len(merges) == 0 {
		return nil
	}
	next := make(map[string]string, len(merges))
	for _, m := range merges {
		next[m.From] = m.Into
	}
	from, into := make([]string, 0, len(merges)), make([]string, 0, len(merges))
	for _, m := range merges {
		to := m.Into
		for range len(merges) {
			n, ok := next[to]
			if !ok {
				break
			}
			to = n
		}
		from, into = append(from, m.From), append(into, to)
	}
	for _, q := range []string{
		repoint("identities", "profile_id", "workspace_id, kind, value"),
		repoint("events", "profile_id", "workspace_id, seq, idx"),
		repoint("decisions", "profile_id", "id"),
		repoint("profiles", "merged_into", "workspace_id, id"),
		`UPDATE profiles t SET merged_into = m.i, data = '{}', expires = NULL, version = t.version + 1, updated_at = now()
			FROM unnest($2::text[], $3::text[]) AS m(f, i) WHERE t.workspace_id = $1 AND t.id = m.f`,
	} {
		if _, err := b.tx.Exec(ctx, q, ws, from, into); err != nil {
			return fmt.Errorf("merge %d profiles: %w", len(from), err)
		}
	}
	return nil
}

// repoint returns an UPDATE of table that sets col from each $2[i] to $3[i] in workspace $1.
// The rows are found by one index probe per value (a LATERAL subquery that OFFSET 0 keeps
// from being flattened) and updated through their primary key (key, after workspace_id).
// The plain join, col = m.f, was planned as a scan of the whole workspace whenever the
// table's statistics were older than its growth (a fresh or fast-growing store, before
// autovacuum's next ANALYZE): 70 ms instead of 1 ms per batch at 20,000 profiles.
func repoint(table, col, key string) string {
	var on []string
	for k := range strings.SplitSeq(key, ", ") {
		on = append(on, "t."+k+" = x."+k)
	}
	return `UPDATE ` + table + ` t SET ` + col + ` = x.i FROM (
		SELECT y.*, m.i FROM unnest($2::text[], $3::text[]) AS m(f, i),
		LATERAL (SELECT ` + key + ` FROM ` + table + ` WHERE workspace_id = $1 AND ` + col + ` = m.f AND ` + col + ` <> '' OFFSET 0) AS y
	) AS x WHERE ` + strings.Join(on, " AND ")
}

func (b *batch) AddDecisions(ctx context.Context, ws string, ds []kenner.Decision) error {
	if len(ds) == 0 {
		return nil
	}
	n := len(ds)
	profile, action, from, kind, value, msg, reason := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	rank, at := make([]int64, n), make([]time.Time, n)
	for i, d := range ds {
		profile[i], action[i], from[i], kind[i], value[i], msg[i], reason[i] = d.ProfileID, d.Action, d.From, d.Identifier.Kind, d.Identifier.Value, d.MessageID, d.Reason
		rank[i], at[i] = d.Rank, d.At.UTC()
	}
	// WITH ORDINALITY keeps the ids in the order the decisions were made.
	if _, err := b.tx.Exec(ctx, `INSERT INTO decisions (workspace_id, profile_id, action, from_id, kind, value, message_id, reason, rank, at)
		SELECT $1, p, a, f, k, v, m, r, rk, t FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::timestamptz[])
			WITH ORDINALITY AS u(p, a, f, k, v, m, r, rk, t, o) ORDER BY o`,
		ws, profile, action, from, kind, value, msg, reason, rank, at); err != nil {
		return fmt.Errorf("record decisions: %w", err)
	}
	return nil
}

func (b *batch) SaveProfiles(ctx context.Context, profiles []*kenner.Profile) error {
	if len(profiles) == 0 {
		return nil
	}
	n := len(profiles)
	ws, ids, data := make([]string, n), make([]string, n), make([][]byte, n)
	ranks := make([]int64, n)
	first, last, expires := make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
	now := time.Now().UTC()
	for i, p := range profiles {
		d, err := profiledata.Encode(p)
		if err != nil {
			return err
		}
		ws[i], ids[i], data[i], ranks[i] = p.WorkspaceID, p.ID, d, p.Rank
		if !p.FirstSeen.IsZero() {
			f, l := p.FirstSeen.UTC(), p.LastSeen.UTC()
			first[i], last[i] = &f, &l
		}
		if !p.Expires.IsZero() {
			x := p.Expires.UTC()
			expires[i] = &x
		}
		p.Version++
		p.UpdatedAt = now
	}
	if _, err := b.tx.Exec(ctx, `INSERT INTO profiles (workspace_id, id, rank, data, first_seen, last_seen, version, updated_at, expires)
		SELECT w, i, r, d, f, l, 1, $7, x FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[], $5::timestamptz[], $6::timestamptz[], $8::timestamptz[]) AS t(w, i, r, d, f, l, x)
		ON CONFLICT (workspace_id, id) DO UPDATE SET data = excluded.data, first_seen = excluded.first_seen,
			last_seen = excluded.last_seen, version = profiles.version + 1, updated_at = excluded.updated_at, expires = excluded.expires`,
		ws, ids, ranks, data, first, last, now, expires); err != nil {
		return fmt.Errorf("save profiles: %w", err)
	}
	return nil
}

func (b *batch) InsertEvents(ctx context.Context, events []kenner.Event) (int, error) {
	n := len(events)
	if n == 0 {
		return 0, nil
	}
	ws, src, msg, typ, name, user, anon, prof := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	seq, idx := make([]int64, n), make([]int32, n)
	ts, recv := make([]time.Time, n), make([]time.Time, n)
	body := make([][]byte, n)
	for i, e := range events {
		ws[i], src[i], msg[i], typ[i], name[i], user[i], anon[i], prof[i] = e.WorkspaceID, e.SourceID, e.MessageID, e.Type, e.Name, e.UserID, e.AnonymousID, e.ProfileID
		seq[i], idx[i], ts[i], recv[i], body[i] = int64(e.Seq), int32(e.Index), e.Timestamp.UTC(), e.ReceivedAt.UTC(), e.Body
	}
	// See the SQLite store: the earliest copy of a message id is kept, with the profile of the
	// copy stored first.
	tag, err := b.tx.Exec(ctx, `INSERT INTO events
		(workspace_id, seq, idx, source_id, message_id, type, name, user_id, anonymous_id, ts, received_at, body, profile_id)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::text[], $10::timestamptz[], $11::timestamptz[], $12::bytea[], $13::text[])
		ON CONFLICT (workspace_id, message_id) DO UPDATE SET
			seq = excluded.seq, idx = excluded.idx, source_id = excluded.source_id, type = excluded.type, name = excluded.name,
			user_id = excluded.user_id, anonymous_id = excluded.anonymous_id, ts = excluded.ts, received_at = excluded.received_at, body = excluded.body
		WHERE (excluded.seq, excluded.idx) < (events.seq, events.idx)`, ws, seq, idx, src, msg, typ, name, user, anon, ts, recv, body, prof)
	if err != nil {
		return 0, fmt.Errorf("append events: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

func (b *batch) AssignEvents(ctx context.Context, events []kenner.Event) error {
	if len(events) == 0 {
		return nil
	}
	ws, msg, prof := make([]string, len(events)), make([]string, len(events)), make([]string, len(events))
	for i, e := range events {
		ws[i], msg[i], prof[i] = e.WorkspaceID, e.MessageID, e.ProfileID
	}
	if _, err := b.tx.Exec(ctx, `UPDATE events e SET profile_id = u.p FROM unnest($1::text[], $2::text[], $3::text[]) AS u(w, m, p)
		WHERE e.workspace_id = u.w AND e.message_id = u.m`, ws, msg, prof); err != nil {
		return fmt.Errorf("assign events: %w", err)
	}
	return nil
}

func (b *batch) AddSeparation(ctx context.Context, ws string, sep kenner.Separation) error {
	var id int64
	if err := b.tx.QueryRow(ctx, `INSERT INTO separations (workspace_id, created_at) VALUES ($1, now()) RETURNING id`, ws).Scan(&id); err != nil {
		return fmt.Errorf("add separation: %w", err)
	}
	for _, side := range []struct {
		name string
		ids  []kenner.Identifier
	}{{"A", sep.A}, {"B", sep.B}} {
		kinds, values := split(side.ids)
		if _, err := b.tx.Exec(ctx, `INSERT INTO separation_members (separation_id, workspace_id, side, kind, value)
			SELECT $1, $2, $3, k, v FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS t(k, v, o) ORDER BY o`,
			id, ws, side.name, kinds, values); err != nil {
			return fmt.Errorf("add separation: %w", err)
		}
	}
	return nil
}

func (b *batch) ResetProfile(ctx context.Context, ws, id string) ([]kenner.Event, error) {
	rows, err := b.tx.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE workspace_id = $1 AND profile_id = $2 AND profile_id <> '' ORDER BY seq, idx`, ws, id)
	if err != nil {
		return nil, fmt.Errorf("reset profile: %w", err)
	}
	events, err := collectEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("reset profile: %w", err)
	}
	for i := range events {
		events[i].ProfileID = ""
	}
	for _, q := range []string{
		`UPDATE events SET profile_id = '' WHERE workspace_id = $1 AND profile_id = $2 AND profile_id <> ''`,
		`DELETE FROM identities WHERE workspace_id = $1 AND profile_id = $2`,
		`DELETE FROM decisions WHERE workspace_id = $1 AND profile_id = $2`,
		`DELETE FROM profiles WHERE workspace_id = $1 AND (merged_into = $2 OR id = $2)`,
	} {
		if _, err := b.tx.Exec(ctx, q, ws, id); err != nil {
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

func scanProfile(row pgx.Row) (storedProfile, error) {
	return scanProfileFields(row, nil)
}

// scanProfileFields is scanProfile decoding only what fields names (nil: everything).
func scanProfileFields(row pgx.Row, fields *kenner.ProfileFields) (storedProfile, error) {
	var p storedProfile
	var data []byte
	var first, last, expires *time.Time
	if err := row.Scan(&p.WorkspaceID, &p.ID, &p.Rank, &p.mergedInto, &data, &first, &last, &p.Version, &p.UpdatedAt, &expires); err != nil {
		return p, err
	}
	return decodeProfile(p, data, first, last, expires, fields)
}

func decodeProfile(p storedProfile, data []byte, first, last, expires *time.Time, fields *kenner.ProfileFields) (storedProfile, error) {
	if err := profiledata.DecodeFields(data, &p.Profile, fields); err != nil {
		return p, err
	}
	if first != nil {
		p.FirstSeen, p.LastSeen = first.UTC(), last.UTC()
	}
	p.UpdatedAt = p.UpdatedAt.UTC()
	if expires != nil {
		p.Expires = expires.UTC()
	}
	return p, nil
}
