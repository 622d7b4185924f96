package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner/internal/benchenv"
)

// BenchmarkWriteFloor measures the least work the embedded store must do per processed event,
// whatever the processor's design: for each event one identity lookup, the event row with the
// indexes the profile API needs (message id for deduplication, the profile's timeline) and
// one profile row rewritten. Nothing else the processor does is here: no deduplication read,
// no identity graph, no profile read or fold, no JSON, no segments. Statements are multi-row
// (100 keys or rows each) and prepared, 1,000 events per transaction, with the store's own
// pragmas and a checkpointer on its own connection, as the store runs.
//
// Its rate is an upper bound on the processor's sustained rate on this store and machine.
// Sizes come from KENNER_BENCH_PROFILES and KENNER_BENCH_EVENTS as in the process package's
// benchmarks (default 20,000 profiles, 200,000 events); KENNER_BENCH_KEEP=dir keeps the
// loaded database for the next run; KENNER_FLOOR_TX sets the events per measured transaction.
//
// "indexed" has the store's schema. "bare" drops the events table's secondary indexes (message
// id, workspace order, profile timeline), which the profile API and deduplication need: it
// bounds what any change of those indexes could give.
func BenchmarkWriteFloor(b *testing.B) {
	b.Run("indexed", func(b *testing.B) { writeFloor(b, false) })
	b.Run("bare", func(b *testing.B) { writeFloor(b, true) })
}

func writeFloor(b *testing.B, bare bool) {
	profiles, events := benchenv.Sizes()
	dir := b.TempDir()
	if keep := benchenv.KeepDir(); keep != "" {
		dir = keep
	}
	variant := "indexed"
	if bare {
		variant = "bare"
	}
	path := filepath.Join(dir, fmt.Sprintf("floor-%s-%d-%d.db", variant, profiles, events))
	_, err := os.Stat(path)
	fresh := os.IsNotExist(err)
	// The store creates the schema; the benchmark then writes through its own connection with
	// the store writer's settings, beside the store's checkpointer.
	s, err := Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", dataSource(path)+writerPragmas)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ckpt, err := startCheckpointer(dataSource(path))
	if err != nil {
		b.Fatal(err)
	}
	defer ckpt.close()

	if bare {
		for _, ix := range []string{"events_message", "events_workspace", "events_profile"} {
			if _, err := db.Exec(`DROP INDEX IF EXISTS ` + ix); err != nil {
				b.Fatal(err)
			}
		}
	}
	f := &floor{db: db, rng: rand.New(rand.NewPCG(1, 2)), profiles: profiles, data: strings.Repeat("t", 300),
		body: strings.Repeat("b", 400)}
	if fresh {
		start := time.Now()
		if err := f.populate(b, events); err != nil {
			os.Remove(path)
			b.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "floor %s: loaded %d profiles and %d events in %s\n", variant, profiles, events, time.Since(start).Round(time.Second))
	} else if err := db.QueryRow(`SELECT coalesce(max(id), 0) FROM events`).Scan(&f.next); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	perTx := 1000 // KENNER_FLOOR_TX: events per transaction
	if v, err := strconv.Atoi(os.Getenv("KENNER_FLOOR_TX")); err == nil && v > 0 {
		perTx = v
	}
	for done := 0; done < b.N; done += perTx {
		if err := f.apply(min(perTx, b.N-done)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

type floor struct {
	db         *sql.DB
	rng        *rand.Rand
	profiles   int
	next       int64 // the last event id written
	data, body string
}

// populate writes the profiles, four identifiers each (user id, two devices, email), and
// events of people picked at random, as the process benchmarks' load does.
func (f *floor) populate(b *testing.B, events int) error {
	ctx := b.Context()
	for p := 0; p < f.profiles; p += 100 {
		n := min(100, f.profiles-p)
		var prof, ids strings.Builder
		var args, idArgs []any
		for i := p; i < p+n; i++ {
			if i > p {
				prof.WriteString(",")
				ids.WriteString(",")
			}
			prof.WriteString("('ws', ?, ?, '', ?, 0, 0, 1, 0)")
			args = append(args, fmt.Sprintf("prf_%d", i), i, f.data)
			ids.WriteString("('ws', 'user_id', ?, ?, 's', 'm', 0, 0), ('ws', 'anonymous_id', ?, ?, 's', 'm', 0, 0), " +
				"('ws', 'anonymous_id', ?, ?, 's', 'm', 0, 0), ('ws', 'email', ?, ?, 's', 'm', 0, 0)")
			id := fmt.Sprintf("prf_%d", i)
			idArgs = append(idArgs, fmt.Sprintf("u-%d", i), id, fmt.Sprintf("a-%d-0", i), id, fmt.Sprintf("a-%d-1", i), id,
				fmt.Sprintf("p%d@example.com", i), id)
		}
		if _, err := f.db.ExecContext(ctx, `INSERT INTO profiles (workspace_id, id, rank, merged_into, data, first_seen, last_seen, version, updated_at)
			VALUES `+prof.String(), args...); err != nil {
			return err
		}
		if _, err := f.db.ExecContext(ctx, `INSERT INTO identities (workspace_id, kind, value, profile_id, source_id, message_id, rank, at)
			VALUES `+ids.String(), idArgs...); err != nil {
			return err
		}
	}
	for done := 0; done < events; done += 1000 {
		if err := f.apply(min(1000, events-done)); err != nil {
			return err
		}
		if events >= 1_000_000 && (done+1000)%1_000_000 == 0 {
			fmt.Fprintf(os.Stderr, "floor: %d of %d events\n", done+1000, events)
		}
	}
	return nil
}

// apply writes n events of people picked at random in one transaction: the identity lookups
// of each 100, then their events, then their profiles.
func (f *floor) apply(n int) error {
	ctx := context.Background()
	tx, err := f.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for done := 0; done < n; done += 100 {
		m := min(100, n-done)
		anon := make([]any, m)
		for i := range anon {
			anon[i] = fmt.Sprintf("a-%d-%d", f.rng.IntN(f.profiles), f.rng.IntN(2))
		}
		rows, err := tx.QueryContext(ctx, `SELECT value, profile_id FROM identities WHERE workspace_id = 'ws' AND kind = 'anonymous_id'
			AND value IN (?`+strings.Repeat(",?", m-1)+`)`, anon...)
		if err != nil {
			return err
		}
		owner := map[string]string{}
		for rows.Next() {
			var v, p string
			if err := rows.Scan(&v, &p); err != nil {
				rows.Close()
				return err
			}
			owner[v] = p
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var ev, prof strings.Builder
		var evArgs, profArgs []any
		for i, a := range anon {
			p := owner[a.(string)]
			if p == "" {
				return fmt.Errorf("no owner for %s", a)
			}
			f.next++
			if i > 0 {
				ev.WriteString(",")
				prof.WriteString(",")
			}
			ev.WriteString("(?, 'ws', 's', ?, 'page', 'Product', '', ?, 0, 0, ?, ?)")
			evArgs = append(evArgs, f.next, fmt.Sprintf("m-%d", f.next), a, f.body, p)
			prof.WriteString("(?, ?)")
			profArgs = append(profArgs, p, f.data)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (id, workspace_id, source_id, message_id, type, name, user_id, anonymous_id,
			ts, received_at, body, profile_id) VALUES `+ev.String(), evArgs...); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE profiles SET data = v.column2, last_seen = last_seen + 1, version = version + 1
			FROM (VALUES `+prof.String()+`) AS v WHERE workspace_id = 'ws' AND id = v.column1`, profArgs...); err != nil {
			return err
		}
	}
	return tx.Commit()
}
