package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kenner-cdp/kenner/dbsync"
)

// syncRuns lists a sync's runs, newest first.
func syncRuns(t *testing.T, api func(method, path, body string) (int, map[string]any), id string) []map[string]any {
	t.Helper()
	code, out := api("GET", "/v1/syncs/"+id+"/runs", "")
	if code != 200 {
		t.Fatalf("runs = %d %v", code, out)
	}
	var runs []map[string]any
	for _, r := range out["runs"].([]any) {
		runs = append(runs, r.(map[string]any))
	}
	return runs
}

// sumRuns adds a count over the finished runs.
func sumRuns(runs []map[string]any, field string) int {
	n := 0
	for _, r := range runs {
		if v, ok := r[field].(float64); ok {
			n += int(v)
		}
	}
	return n
}

// sourceTable makes a table of a random name with columns in the PostgreSQL server tests sync
// from (KENNER_TEST_POSTGRES; skipped without it), dropped when t ends, and returns the
// server's URL, the table's name and a runner of statements.
func sourceTable(t *testing.T, prefix, columns string) (string, string, func(q string)) {
	t.Helper()
	dsn := os.Getenv("KENNER_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("KENNER_TEST_POSTGRES is not set; set it to a PostgreSQL URL to test syncs against it")
	}
	conn, _, err := dbsync.Connect(dsn)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	table := prefix + hex.EncodeToString(b)
	exec := func(q string) {
		t.Helper()
		if _, err := conn.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE TABLE " + table + " " + columns)
	t.Cleanup(func() { conn.Exec("DROP TABLE " + table); conn.Close() })
	return dsn, table, exec
}

// TestScheduledSyncs: kenner serve runs a PostgreSQL sync on its schedule: inserts and updates
// arrive, a deleted row marks its person, a restart of Kenner in between loses and repeats
// nothing; and a file dropped in an S3-compatible bucket is imported once.
func TestScheduledSyncs(t *testing.T) {
	dsn, table, exec := sourceTable(t, "kenner_sched_", "(id integer PRIMARY KEY, email text, plan text, updated_at timestamptz NOT NULL)")
	exec("INSERT INTO " + table + " VALUES (1, 'ada@example.com', 'free', '2026-01-01 10:00:00'), (2, 'grace@example.com', 'pro', '2026-01-01 11:00:00'), (3, 'alan@example.com', 'pro', '2026-01-01 11:00:00')")

	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	api := adminAPI(t, s.url, creds.AdminToken)
	if code, out := api("POST", "/v1/sources", `{"name":"crm"}`); code != 201 {
		t.Fatalf("source: %d %v", code, out)
	}
	mapping := `{"columns":{"id":"userId","email":"traits.email","plan":"traits.plan","updated_at":"timestamp"}}`
	config := fmt.Sprintf(`{"dsn":%q,"table":%q,"cursor":"updated_at","id":"id"}`, dsn, table)

	for _, bad := range []string{
		`{"name":"x","kind":"database","source":"crm","type":"identify","schedule":"every 1s","config":{"dsn":"ftp://x","table":"t","cursor":"c"}}`,
		`{"name":"x","kind":"database","source":"crm","type":"identify","schedule":"sometimes","config":` + config + `}`,
		`{"name":"x","kind":"database","source":"crm","type":"identify","schedule":"every 1s","config":{"dsn":"postgres://h/db","table":"t","cursor":"c","typo":1}}`,
		`{"name":"x","kind":"database","source":"crm","type":"identify","on_delete":"mark","config":{"dsn":"postgres://h/db","table":"t","cursor":"c"}}`,
		`{"name":"x","kind":"database","source":"crm","type":"identify","on_delete":"shred","config":` + config + `}`,
		`{"name":"x","kind":"s3","source":"crm","type":"identify","on_delete":"mark","config":{"bucket":"b"}}`,
		`{"name":"x","kind":"database","source":"nope","type":"identify","config":` + config + `}`,
		`{"name":"x","kind":"database","source":"crm","type":"sideways","config":` + config + `}`,
		`{"name":"x","kind":"ftp","source":"crm","type":"identify","config":{}}`,
	} {
		if code, out := api("POST", "/v1/syncs", bad); code != 400 || out["error"] == nil {
			t.Errorf("%s = %d %v, want 400 with a message", bad, code, out)
		}
	}
	code, out := api("POST", "/v1/syncs/test", `{"kind":"database","source":"crm","type":"identify","config":`+config+`}`)
	if code != 200 || out["ok"] != true {
		t.Errorf("test connection: %d %v", code, out)
	}
	if code, out := api("POST", "/v1/syncs/test", `{"kind":"database","source":"crm","type":"identify","config":{"dsn":"postgres://postgres@127.0.0.1:1/x","table":"t","cursor":"c"}}`); code/100 != 5 && code != 400 {
		t.Errorf("test connection to nothing: %d %v", code, out)
	}

	code, sy := api("POST", "/v1/syncs", `{"name":"customers","kind":"database","source":"crm","type":"identify","schedule":"every 1s","on_delete":"mark",
		"mapping":`+mapping+`,"config":`+config+`}`)
	if code != 201 {
		t.Fatalf("create = %d %v", code, sy)
	}
	id := sy["id"].(string)
	if cfg := sy["config"].(map[string]any); cfg["dsn"] != "(set)" || cfg["table"] != table {
		t.Errorf("the dsn is write-only: %v", cfg)
	}
	waitProfile(t, s.url, creds.AdminToken, "user_id:3", nil)
	waitUntil(t, "the first run done", func() bool {
		runs := syncRuns(t, api, id)
		return len(runs) > 0 && runs[len(runs)-1]["status"] == "done"
	})
	if runs := syncRuns(t, api, id); runs[len(runs)-1]["imported"] != 3.0 {
		t.Errorf("first run %v", runs[len(runs)-1])
	}

	// An update, an insert and a delete, picked up on the schedule.
	exec("UPDATE " + table + " SET plan = 'enterprise', updated_at = '2026-01-02 09:00:00' WHERE id = 2")
	exec("INSERT INTO " + table + " VALUES (4, 'edsger@example.com', 'free', '2026-01-02 10:00:00')")
	exec("DELETE FROM " + table + " WHERE id = 3")
	waitProfile(t, s.url, creds.AdminToken, "user_id:2", func(p map[string]any) bool { return p["traits"].(map[string]any)["plan"] == "enterprise" })
	waitProfile(t, s.url, creds.AdminToken, "user_id:4", nil)
	gone := waitProfile(t, s.url, creds.AdminToken, "user_id:3", func(p map[string]any) bool { return p["traits"].(map[string]any)["deleted_in_source"] == true })
	if gone["traits"].(map[string]any)["email"] != "alan@example.com" {
		t.Errorf("the marked profile keeps its traits: %v", gone["traits"])
	}
	if p := waitProfile(t, s.url, creds.AdminToken, "user_id:1", nil); p["traits"].(map[string]any)["deleted_in_source"] != nil {
		t.Errorf("a row still there is not marked: %v", p["traits"])
	}

	// Kenner stops; a row arrives meanwhile; the next server picks it up on the schedule.
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
	exec("INSERT INTO " + table + " VALUES (5, 'barbara@example.com', 'pro', '2026-01-03 08:00:00')")
	s = startServer(t, data)
	api = adminAPI(t, s.url, creds.AdminToken)
	waitProfile(t, s.url, creds.AdminToken, "user_id:5", nil)
	waitUntil(t, "two more runs after the restart", func() bool {
		runs := syncRuns(t, api, id)
		return len(runs) > 2 && runs[0]["status"] == "done" && runs[1]["status"] != "running"
	})
	runs := syncRuns(t, api, id)
	for i, r := range runs {
		if r["status"] == "running" && i > 0 {
			t.Errorf("a run left running: %v", r)
		}
	}
	if imported, deleted := sumRuns(runs, "imported"), sumRuns(runs, "deleted"); imported != 6 || deleted != 1 {
		t.Errorf("over %d runs: imported %d (want 3 + 2 + 1: nothing twice), deleted %d (want 1)", len(runs), imported, deleted)
	}

	// Pausing stops the schedule; a manual run still runs.
	if code, out := api("PATCH", "/v1/syncs/"+id, `{"paused":true,"config":{"dsn":"(set)","table":"`+table+`","cursor":"updated_at","id":"id"}}`); code != 200 || out["paused"] != true {
		t.Fatalf("pause = %d %v", code, out)
	}
	before := len(syncRuns(t, api, id))
	code, run := api("POST", "/v1/syncs/"+id+"/run", "")
	if code != 202 || run["trigger"] != "manual" {
		t.Fatalf("run now = %d %v", code, run)
	}
	waitUntil(t, "the manual run", func() bool {
		runs := syncRuns(t, api, id)
		return len(runs) == before+1 && runs[0]["status"] == "done"
	})
	if runs := syncRuns(t, api, id); runs[0]["error"] != nil {
		t.Errorf("the kept dsn works: %v", runs[0])
	}

	// Erasing the people of deleted rows: row 4's person is gone, with its seen row.
	if code, out := api("PATCH", "/v1/syncs/"+id, `{"on_delete":"erase"}`); code != 200 || out["on_delete"] != "erase" {
		t.Fatalf("on_delete erase = %d %v", code, out)
	}
	exec("DELETE FROM " + table + " WHERE id = 4")
	if code, run := api("POST", "/v1/syncs/"+id+"/run", ""); code != 202 {
		t.Fatalf("run now = %d %v", code, run)
	}
	waitUntil(t, "the erasure of row 4's person", func() bool {
		code, _ := api("GET", "/v1/profiles/user_id:4", "")
		return code == 404
	})
	if code, _ := api("GET", "/v1/profiles/user_id:5", ""); code != 200 {
		t.Errorf("row 5's person: %d", code)
	}

	// Files dropped in a bucket.
	backend := s3mem.New()
	faker := gofakes3.New(backend)
	bucket := httptest.NewServer(faker.Server())
	t.Cleanup(bucket.Close)
	if err := backend.CreateBucket("drop"); err != nil {
		t.Fatal(err)
	}
	// Files are written as a user's tool writes them: through the S3 API.
	writer, err := minio.New(strings.TrimPrefix(bucket.URL, "http://"), &minio.Options{Creds: credentials.NewStaticV4("k", "s", ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	put := func(key, body string) {
		t.Helper()
		if _, err := writer.PutObject(t.Context(), "drop", key, bytes.NewReader([]byte(body)), int64(len(body)), minio.PutObjectOptions{ContentType: "text/csv"}); err != nil {
			t.Fatal(err)
		}
	}
	put("in/2026-01-01.csv", "user,email,plan\nf1,f1@example.com,pro\nf2,f2@example.com,free\n")
	put("in/README.md", "not a file to import")
	put("other/x.csv", "user,email\nnope,nope@example.com\n")
	code, fs := api("POST", "/v1/syncs", fmt.Sprintf(`{"name":"files","kind":"s3","source":"crm","type":"identify","schedule":"every 1s",
		"mapping":"columns:\n  user: userId\n  email: traits.email\n  plan: traits.plan\n",
		"config":{"endpoint":%q,"bucket":"drop","prefix":"in/","path_style":true,"access_key_id":"k","secret_access_key":"s"}}`, bucket.URL))
	if code != 201 {
		t.Fatalf("file sync = %d %v", code, fs)
	}
	fid := fs["id"].(string)
	waitUntil(t, "the first file run", func() bool {
		runs := syncRuns(t, api, fid)
		return len(runs) > 0 && runs[len(runs)-1]["status"] != "running"
	})
	if runs := syncRuns(t, api, fid); runs[len(runs)-1]["status"] != "done" {
		t.Fatalf("first file run: %v", runs[len(runs)-1])
	}
	waitProfile(t, s.url, creds.AdminToken, "user_id:f2", nil)
	put("in/2026-01-02.csv", "user,email,plan\nf3,f3@example.com,pro\n")
	waitProfile(t, s.url, creds.AdminToken, "user_id:f3", nil)
	waitUntil(t, "a run with nothing new", func() bool {
		runs := syncRuns(t, api, fid)
		return len(runs) > 3 && runs[0]["status"] == "done"
	})
	files := map[string]int{}
	for _, r := range syncRuns(t, api, fid) {
		fl, _ := r["files"].([]any)
		for _, f := range fl {
			files[f.(string)]++
		}
		if r["error"] != nil {
			t.Errorf("file run failed: %v", r)
		}
	}
	if files["in/2026-01-01.csv"] != 1 || files["in/2026-01-02.csv"] != 1 || len(files) != 2 {
		t.Errorf("files imported: %v (each once, only under the prefix, only csv/ndjson)", files)
	}
	code, _ = api("GET", "/v1/profiles/user_id:nope", "")
	if code != 404 {
		t.Errorf("a file outside the prefix was imported: %d", code)
	}
	// The CLI shows the same through the API.
	if code, out, stderr := runCLI(t, "syncs", "runs", fid, "--url", s.url, "--token", creds.AdminToken); code != 0 || !strings.Contains(out, "done") {
		t.Errorf("kenner syncs runs: %d %q %q", code, out, stderr)
	}
	if code, out, _ := runCLI(t, "syncs", "list", "--url", s.url, "--token", creds.AdminToken); code != 0 || !strings.Contains(out, "customers") || !strings.Contains(out, "paused") {
		t.Errorf("kenner syncs list: %d %q", code, out)
	}
	if code, _, stderr := runCLI(t, "syncs", "run", "syn_nope", "--url", s.url, "--token", creds.AdminToken); code == 0 || !strings.Contains(stderr, "no sync") {
		t.Errorf("kenner syncs run of nothing: %d %q", code, stderr)
	}
	code, list := api("GET", "/v1/syncs", "")
	if code != 200 || len(list["syncs"].([]any)) != 2 || !strings.Contains(fmt.Sprint(list), "last_run") {
		t.Errorf("list = %d %v", code, list)
	}
	if code, _ := api("DELETE", "/v1/syncs/"+fid, ""); code != 204 {
		t.Errorf("delete = %d", code)
	}
}
