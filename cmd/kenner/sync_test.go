package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kenner-cdp/kenner/dbsync"
)

// TestSync pulls a table from the real PostgreSQL and MySQL (MariaDB) servers, run after run:
// new and changed rows only, ties on the cursor resumed by id, the cursor kept in the state.
func TestSync(t *testing.T) {
	for _, db := range []struct{ name, env, ddl string }{
		{"postgres", "KENNER_TEST_POSTGRES", `CREATE TABLE %s (id integer PRIMARY KEY, email text, plan text, amount numeric(10,2), updated_at timestamptz NOT NULL)`},
		{"mysql", "KENNER_TEST_MYSQL", `CREATE TABLE %s (id integer PRIMARY KEY, email varchar(200), plan varchar(20), amount decimal(10,2), updated_at datetime(6) NOT NULL)`},
	} {
		t.Run(db.name, func(t *testing.T) {
			dsn := os.Getenv(db.env)
			if dsn == "" {
				t.Skipf("%s is not set; set it to a %s URL to test kenner sync against it", db.env, db.name)
			}
			conn, _, err := dbsync.Connect(dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			b := make([]byte, 4)
			rand.Read(b)
			table := "kenner_sync_" + hex.EncodeToString(b)
			exec := func(q string, args ...any) {
				t.Helper()
				if _, err := conn.ExecContext(t.Context(), q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			exec(strings.Replace(db.ddl, "%s", table, 1))
			t.Cleanup(func() { conn.Exec("DROP TABLE " + table) })
			ins := "INSERT INTO " + table + " (id, email, plan, amount, updated_at) VALUES (1, ' ADA@Example.com', 'free', 10.50, '2026-01-01 10:00:00'), (2, 'grace@example.com', 'pro', 0, '2026-01-01 11:00:00'), (3, 'alan@example.com', 'pro', 3, '2026-01-01 11:00:00')"
			exec(ins)

			dir := t.TempDir()
			mapping := filepath.Join(dir, "customers.yaml")
			os.WriteFile(mapping, []byte("columns:\n  id: userId\n  email: traits.email\n  plan: traits.plan\n  amount: {target: traits.ltv, type: number}\n  updated_at: timestamp\n"), 0o600)
			data := t.TempDir()
			args := []string{"sync", "--from", dsn, "--table", table, "--cursor", "updated_at", "--id", "id", "--as", "identify", "--map", mapping, "--data", data}

			code, out, stderr := runCLI(t, args...)
			if code != 0 || !strings.Contains(out, "3 rows read after the start") || !strings.Contains(out, "imported 3, duplicates 0, rejected 0") {
				t.Fatalf("first run: %d %q %q", code, out, stderr)
			}
			var st syncState
			b, err = os.ReadFile(filepath.Join(data, "sync", table+".json"))
			if err != nil || json.Unmarshal(b, &st) != nil || st.Cursor.ID != "3" || !strings.HasPrefix(st.Cursor.Value, "2026-01-01") {
				t.Fatalf("state after the first run: %s %v", b, err)
			}
			if code, out, _ := runCLI(t, args...); code != 0 || !strings.Contains(out, "0 rows read") {
				t.Errorf("nothing new: %d %q", code, out)
			}

			// A change to row 2 and a new row 4 with the cursor value rows 2 and 3 had.
			exec("UPDATE " + table + " SET plan = 'enterprise', updated_at = '2026-01-02 09:00:00' WHERE id = 2")
			exec("INSERT INTO " + table + " (id, email, plan, amount, updated_at) VALUES (4, 'edsger@example.com', 'free', 1, '2026-01-01 11:00:00')")
			if code, out, _ := runCLI(t, append(args, "--dry-run")...); code != 0 || !strings.Contains(out, "2 rows read") {
				t.Errorf("dry run: %d %q", code, out)
			}
			code, out, stderr = runCLI(t, args...)
			if code != 0 || !strings.Contains(out, "2 rows read") || !strings.Contains(out, "imported 2") {
				t.Fatalf("after changes (the dry run must not have moved the cursor): %d %q %q", code, out, stderr)
			}

			s := startServer(t, data)
			creds := credentialsOf(t, data)
			prof := waitProfile(t, s.url, creds.AdminToken, "user_id:2", func(p map[string]any) bool {
				return p["traits"].(map[string]any)["plan"] == "enterprise"
			})
			if traits := prof["traits"].(map[string]any); traits["email"] != "grace@example.com" {
				t.Errorf("traits of row 2: %v", traits)
			}
			if p := waitProfile(t, s.url, creds.AdminToken, "email:ada@example.com", nil); p["traits"].(map[string]any)["ltv"] != 10.5 {
				t.Errorf("row 1 standardized: %v", p["traits"])
			}

			// Through the server, from a fresh state: every row is read again, only the new one
			// is imported.
			exec("INSERT INTO " + table + " (id, email, plan, amount, updated_at) VALUES (5, 'barbara@example.com', 'pro', 2, '2026-01-03 08:00:00')")
			remote := []string{"sync", "--from", dsn, "--table", table, "--cursor", "updated_at", "--id", "id", "--as", "identify", "--map", mapping,
				"--url", s.url, "--token", creds.AdminToken, "--state", filepath.Join(dir, "remote.json")}
			code, out, stderr = runCLI(t, remote...)
			if code != 0 || !strings.Contains(out, "5 rows read after the start") || !strings.Contains(out, "imported 1, duplicates 4") {
				t.Errorf("remote sync: %d %q %q", code, out, stderr)
			}
			waitProfile(t, s.url, creds.AdminToken, "user_id:5", nil)

			for _, bad := range [][]string{
				{"sync", "--table", table, "--cursor", "updated_at", "--as", "identify", "--map", mapping, "--data", data},
				{"sync", "--from", dsn, "--cursor", "updated_at", "--as", "identify", "--map", mapping, "--data", data},
				{"sync", "--from", dsn, "--table", table, "--as", "identify", "--map", mapping, "--data", data},
				{"sync", "--from", dsn, "--table", table + "; DROP TABLE x", "--cursor", "updated_at", "--as", "identify", "--map", mapping, "--data", data},
				{"sync", "--from", dsn, "--table", table, "--cursor", "nope", "--as", "identify", "--map", mapping, "--data", data},
			} {
				if code, _, stderr := runCLI(t, bad...); code != 2 || stderr == "" {
					t.Errorf("%v: exit %d %q, want 2 with a message", bad, code, stderr)
				}
			}
		})
	}
}

// waitProfile polls a profile until it exists and ok (nil: any) holds for it.
func waitProfile(t *testing.T, url, token, ref string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	var prof map[string]any
	waitUntil(t, "profile "+ref, func() bool {
		req, _ := http.NewRequest("GET", url+"/v1/profiles/"+ref, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		prof = nil
		return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&prof) == nil && (ok == nil || ok(prof))
	})
	return prof
}
