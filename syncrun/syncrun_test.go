package syncrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/dbsync"
	"github.com/kenner-cdp/kenner/identity"
	"github.com/kenner-cdp/kenner/importer"
	"github.com/kenner-cdp/kenner/ingest"
	"github.com/kenner-cdp/kenner/nats"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/sqlite"
)

func TestParseSchedule(t *testing.T) {
	from := time.Date(2026, 3, 1, 10, 7, 30, 0, time.UTC)
	for _, tc := range []struct {
		in, next string // next "" with no error: no schedule
		bad      bool
	}{
		{in: ""},
		{in: "every 15m", next: "2026-03-01T10:22:30Z"},
		{in: "90s", next: "2026-03-01T10:09:00Z"},
		{in: "0 3 * * *", next: "2026-03-02T03:00:00Z"},
		{in: "*/10 * * * *", next: "2026-03-01T10:10:00Z"},
		{in: "@hourly", next: "2026-03-01T11:00:00Z"},
		{in: "@every 2h", next: "2026-03-01T12:07:30Z"},
		{in: "every 10ms", bad: true},
		{in: "sometimes", bad: true},
		{in: "61 * * * *", bad: true},
	} {
		next, err := NextRun(tc.in, from)
		switch {
		case tc.bad:
			if kenner.ErrorCode(err) != kenner.EInvalid {
				t.Errorf("%q: %v, want invalid", tc.in, err)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.next == "" && next != nil, tc.next != "" && (next == nil || next.Format(time.RFC3339) != tc.next):
			t.Errorf("%q: next %v, want %q", tc.in, next, tc.next)
		}
	}
}

func TestRowRef(t *testing.T) {
	row := map[string]any{"id": 7.0, "mail": "A@x.com", "anon": "a1", "nested": map[string]any{"userId": "n1"}}
	for _, tc := range []struct {
		mapping, want string
	}{
		{`columns: {id: userId, mail: traits.email}`, "user_id:7"},
		{`columns: {mail: traits.email, anon: anonymousId}`, "email:A@x.com"},
		{`columns: {anon: anonymousId}`, "anonymous_id:a1"},
		{`columns: {mail: traits.email}`, "email:A@x.com"},
		{`columns: {mail: traits.name}`, ""},
		{`columns: {nested.userId: userId}`, "user_id:n1"},
		{``, ""}, // rows as Segment messages: this row has no userId
	} {
		m, err := importer.ParseMapping([]byte(tc.mapping))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if f := rowRef(m); f != nil {
			if id, ok := f(row); ok {
				got = id.Kind + ":" + id.Value
			}
		}
		if got != tc.want {
			t.Errorf("%q: %q, want %q", tc.mapping, got, tc.want)
		}
	}
}

// env is a real embedded store, log, tracking handler and processor, and a table in the
// PostgreSQL server to sync from.
type env struct {
	store *sqlite.Store
	src   *kenner.Source
	r     *Runner
	proc  *process.Processor
	exec  func(q string)
	table string
	dsn   string
}

// databases are the servers syncs read from in tests: the table's DDL in each.
var databases = []struct{ name, env, ddl string }{
	{"postgres", "KENNER_TEST_POSTGRES", "CREATE TABLE TABLE_ (id integer PRIMARY KEY, email text, updated_at timestamptz NOT NULL, visitor text)"},
	{"mysql", "KENNER_TEST_MYSQL", "CREATE TABLE TABLE_ (id integer PRIMARY KEY, email varchar(200), updated_at datetime(6) NOT NULL, visitor varchar(100))"},
}

// eachDatabase runs test against every database server the environment names.
func eachDatabase(t *testing.T, test func(t *testing.T, e *env)) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			dsn := os.Getenv(db.env)
			if dsn == "" {
				t.Skipf("%s is not set; set it to a %s URL to test syncs against it", db.env, db.name)
			}
			test(t, newEnv(t, dsn, db.ddl))
		})
	}
}

func newEnv(t *testing.T, dsn, ddl string) *env {
	ctx := t.Context()
	logger := slog.New(slog.DiscardHandler)
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	log, err := nats.Open(ctx, nats.Options{Dir: t.TempDir(), Partitions: 2}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	if err := store.CreateWorkspace(ctx, &kenner.Workspace{ID: "ws", Name: "ws"}); err != nil {
		t.Fatal(err)
	}
	src := &kenner.Source{WorkspaceID: "ws", Name: "crm", WriteKeyHash: "h"}
	if err := store.CreateSource(ctx, src); err != nil {
		t.Fatal(err)
	}
	tracking := ingest.New(log, noSources{}, ingest.NewMetrics(prometheus.NewRegistry()), logger, ingest.Config{})
	proc := process.New(log, store, process.DefaultConfig(), prometheus.NewRegistry(), logger)
	pctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { proc.Run(pctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })

	conn, _, err := dbsync.Connect(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	b := make([]byte, 4)
	rand.Read(b)
	e := &env{store: store, src: src, proc: proc, table: "kenner_syncrun_" + hex.EncodeToString(b), dsn: dsn}
	e.exec = func(q string) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, strings.ReplaceAll(q, "TABLE_", e.table)); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	e.exec(ddl)
	t.Cleanup(func() { conn.Exec("DROP TABLE " + e.table) })
	e.r = New(Config{Store: store, Ingest: tracking, Normalize: identity.Normalizer{}.Normalize, Log: logger})
	return e
}

// noSources: the rows come through the runner, not the tracking API's write keys.
type noSources struct{}

func (noSources) Source(context.Context, string) (*kenner.Source, error) {
	return nil, kenner.Errorf(kenner.ENotFound, "no source")
}

func (e *env) sync(t *testing.T, onDelete string, limit int) *kenner.Sync {
	t.Helper()
	sy := &kenner.Sync{ID: kenner.NewID("syn"), WorkspaceID: "ws", Name: "people", Kind: kenner.SyncDatabase, SourceID: e.src.ID, Type: "identify",
		Mapping: json.RawMessage(`{"columns":{"email":"traits.email","updated_at":"timestamp","visitor":"anonymousId"}}`), OnDelete: onDelete, DeleteLimit: limit,
		Config: json.RawMessage(fmt.Sprintf(`{"dsn":%q,"table":%q,"cursor":"updated_at","id":"id"}`, e.dsn, e.table))}
	if err := e.r.Check(t.Context(), sy); err != nil {
		t.Fatal(err)
	}
	if err := e.store.SaveSync(t.Context(), sy); err != nil {
		t.Fatal(err)
	}
	return sy
}

// run runs the sync now and waits for the outcome.
func (e *env) run(t *testing.T, sy *kenner.Sync) kenner.SyncRun {
	t.Helper()
	run, err := e.r.RunNow(t.Context(), "ws", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		runs, err := e.store.SyncRuns(t.Context(), "ws", sy.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) == 1 && runs[0].ID == run.ID && runs[0].Status != kenner.SyncRunning {
			if err := e.proc.Caught(t.Context()); err != nil {
				t.Fatal(err)
			}
			return runs[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the run did not finish in 20s")
	return kenner.SyncRun{}
}

// TestSuppressDeleted: rows of a table with no user id (an email and a visitor id) are
// imported; a deleted one withdraws its person's marketing consent: the person is found by
// email, and the consent event addressed by the id their profile has.
func TestSuppressDeleted(t *testing.T) { eachDatabase(t, testSuppressDeleted) }

func testSuppressDeleted(t *testing.T, e *env) {
	e.exec("INSERT INTO TABLE_ VALUES (1, 'Ada@Example.com', '2026-01-01 10:00:00', 'v1'), (2, 'grace@example.com', '2026-01-01 11:00:00', 'v2'), (3, 'alan@example.com', '2026-01-01 12:00:00', 'v3')")
	sy := e.sync(t, kenner.DeleteSuppress, 0)
	if fmt.Sprint(sy.SuppressPurposes) != "[marketing]" || sy.DeleteLimit != kenner.DefaultDeleteLimit {
		t.Errorf("defaults: %v %d", sy.SuppressPurposes, sy.DeleteLimit)
	}
	if run := e.run(t, sy); run.Status != kenner.SyncDone || run.Imported != 3 {
		t.Fatalf("first run %+v", run)
	}
	items, _ := e.store.SyncItems(t.Context(), "ws", sy.ID, "", 10)
	if len(items) != 3 || items[0].Ref != (kenner.Identifier{Kind: kenner.KindEmail, Value: "ada@example.com"}) {
		t.Errorf("items %+v", items)
	}
	e.exec("DELETE FROM TABLE_ WHERE id = 2")
	if run := e.run(t, sy); run.Status != kenner.SyncDone || run.Deleted != 1 || run.Rows != 0 {
		t.Fatalf("second run %+v", run)
	}
	p, err := e.store.Profile(t.Context(), "ws", kenner.Identifier{Kind: kenner.KindEmail, Value: "grace@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := p.Consent["marketing"]; !ok || c.Granted {
		t.Errorf("grace's consent %+v", p.Consent)
	}
	if p, _ := e.store.Profile(t.Context(), "ws", kenner.Identifier{Kind: kenner.KindEmail, Value: "alan@example.com"}); len(p.Consent) != 0 {
		t.Errorf("alan's consent %+v", p.Consent)
	}
	if items, _ := e.store.SyncItems(t.Context(), "ws", sy.ID, "", 10); len(items) != 2 {
		t.Errorf("items after the delete %+v", items)
	}
}

// TestDeleteLimit: a source that suddenly holds much less than before fails the run and acts
// on nobody; the limit raised, the next run acts.
func TestDeleteLimit(t *testing.T) { eachDatabase(t, testDeleteLimit) }

func testDeleteLimit(t *testing.T, e *env) {
	e.exec("INSERT INTO TABLE_ VALUES (1, 'a@example.com', '2026-01-01 10:00:00', 'v1'), (2, 'b@example.com', '2026-01-01 11:00:00', 'v2'), (3, 'c@example.com', '2026-01-01 12:00:00', 'v3')")
	sy := e.sync(t, kenner.DeleteMark, 0)
	e.run(t, sy)
	e.exec("DELETE FROM TABLE_ WHERE id <> 1")
	run := e.run(t, sy)
	if run.Status != kenner.SyncFailed || run.Deleted != 0 || !strings.Contains(run.Error, "2 of the 3 rows") {
		t.Fatalf("over the limit: %+v", run)
	}
	if p, _ := e.store.Profile(t.Context(), "ws", kenner.Identifier{Kind: kenner.KindEmail, Value: "b@example.com"}); p.Traits["deleted_in_source"].Value != nil {
		t.Errorf("marked over the limit: %s", p.Traits["deleted_in_source"].Value)
	}
	sy.DeleteLimit = 100
	if err := e.store.SaveSync(t.Context(), sy); err != nil {
		t.Fatal(err)
	}
	if run := e.run(t, sy); run.Status != kenner.SyncDone || run.Deleted != 2 {
		t.Fatalf("limit raised: %+v", run)
	}
	p, _ := e.store.Profile(t.Context(), "ws", kenner.Identifier{Kind: kenner.KindEmail, Value: "b@example.com"})
	if string(p.Traits["deleted_in_source"].Value) != "true" {
		t.Errorf("b's traits %v", p.Traits)
	}
}
