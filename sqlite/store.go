// Package sqlite is the default, embedded store: one SQLite database file in WAL mode, pure Go
// (modernc.org/sqlite), so the kenner binary needs no external server and no cgo.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/internal/groupcommit"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ kenner.Store = (*Store)(nil)

// Store is a kenner.Store on a SQLite file. Writes go through one connection (SQLite has one
// writer at a time anyway, and queuing in Go is cheaper than SQLITE_BUSY retries); reads use a
// pool, which WAL lets run beside the writer.
type Store struct {
	w    *sql.DB
	r    *sql.DB
	ckpt *checkpointer

	// lookups are the profile lookup's statements, prepared once: parsing them again on every
	// request was a third of a lookup's CPU (the decision API makes one per page view).
	lookups lookupStmts

	// applies runs concurrent Apply calls in shared transactions (see Apply).
	applies *groupcommit.Group[*applyRequest]
}

// dataSource is the database's connection string with the pragmas every connection uses.
func dataSource(path string) string {
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)" +
		"&_pragma=secure_delete(ON)&_pragma=journal_size_limit(268435456)&_txlock=immediate" +
		"&_pragma=mmap_size(2147418112)"
}

// writerPragmas are the writer connection's own settings (see Open).
const writerPragmas = "&_pragma=cache_size(-131072)&_pragma=wal_autocheckpoint(65536)"

// Open opens (creating if needed) the database at path and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	// temp_store(MEMORY) keeps the savepoint and statement journals of a commit round in memory:
	// on disk they were a tenth of the processor's time (every changed page written twice).
	// The writer gets a bigger page cache than the readers: it walks the identity and profile
	// indexes at random for every event it applies.
	// mmap_size is SQLite's largest (2 GB): reads of mapped pages skip a system call and a copy
	// each. At 1M profiles / 10M events (a 5 GB file) going from 1 GB to 2 GB took a preview of
	// 100,000 profiles from 1.12 s to 0.61 s. Mapped pages count in RSS as file-backed memory,
	// which the kernel reclaims under pressure.
	// journal_size_limit keeps the WAL file at up to 256 MB when it restarts instead of
	// truncating it: under load the WAL takes ~30 MB/s (each small commit rewrites whole index
	// pages), and truncating a 100+ MB file each time it wrapped stalled the writer for 50–100
	// ms, the p99 of event-to-segment-change latency.
	dsn := dataSource(path)
	w, err := sql.Open("sqlite", dsn+writerPragmas)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn+"&_pragma=cache_size(-8192)&mode=ro")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	// Keep them all open: database/sql keeps 2 idle by default, so a burst of reads closed the
	// others and the next burst opened them again (pragmas, a fresh page cache, statements
	// prepared anew), which was most of the decision API's tail latency at 1M profiles.
	r.SetMaxIdleConns(8)
	s := &Store{w: w, r: r}
	s.applies = groupcommit.New(s.commitRound)
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.lookups, err = prepareLookups(ctx, r); err != nil {
		s.Close()
		return nil, err
	}
	if s.ckpt, err = startCheckpointer(dsn); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the checkpointer and closes the connection pools.
func (s *Store) Close() error {
	var err error
	if s.ckpt != nil {
		err = s.ckpt.close()
	}
	return errors.Join(err, s.r.Close(), s.w.Close())
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.r.PingContext(ctx)
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		var n int
		if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, name).Scan(&n); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, name); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	return nil
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func nullMillis(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func fromNullMillis(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMillis(v.Int64)
	return &t
}

// isUnique reports whether err is a UNIQUE constraint violation.
func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// scanAll reads every row of a query with scan into a list; what names the list in errors.
func scanAll[T any](rows *sql.Rows, err error, what string, scan func(interface{ Scan(...any) error }) (*T, error)) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
