package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kenner-cdp/kenner/postgres/pgtest"
)

// TestBackupRestoreDrill is the README's restore drill: the store is backed up with pg_dump,
// lost, restored with pg_restore into a new database, and Kenner on it shows the same profiles;
// kenner replay on the restored store rebuilds them from the log, the same again.
func TestBackupRestoreDrill(t *testing.T) {
	base := pgtest.URL(t)
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: the drill uses PostgreSQL's own tools", tool)
		}
	}
	data := t.TempDir()
	env := []string{"KENNER_SECRET=backup-drill-secret-0123456789abcdef0123"}
	t.Setenv("KENNER_SECRET", strings.TrimPrefix(env[0], "KENNER_SECRET="))
	source := pgtest.Database(t, base)
	s := startNode(t, data, env, "--store", source)
	creds, err := waitForCredentials(t.Context(), data, s.url)
	if err != nil {
		t.Fatal(err)
	}
	var batch []string
	for i := range 20 {
		batch = append(batch, fmt.Sprintf(`{"type":"identify","userId":"p%d","anonymousId":"d%d","traits":{"email":"p%d@example.com","plan":"pro"},"messageId":"i%d"}`, i, i, i, i),
			fmt.Sprintf(`{"type":"track","userId":"p%d","event":"Order Completed","properties":{"revenue":%d},"messageId":"o%d"}`, i, 10*i, i))
	}
	batchSender(t, s.url, creds.WriteKey)(`{"batch":[` + strings.Join(batch, ",") + `]}`)
	profiles := func(url string) map[string]string {
		t.Helper()
		api := adminAPI(t, url, creds.AdminToken)
		out := map[string]string{}
		for i := range 20 {
			code, p := api("GET", fmt.Sprintf("/v1/profiles/user_id:p%d?consistent=true", i), "")
			if code != 200 {
				t.Fatalf("profile p%d: %d %v", i, code, p)
			}
			delete(p, "version")
			b, _ := json.Marshal(map[string]any{"traits": p["traits"], "identities": p["identities"], "first_seen": p["first_seen"], "last_seen": p["last_seen"]})
			out[fmt.Sprint(i)] = string(b)
		}
		return out
	}
	before := profiles(s.url)
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()

	dump := filepath.Join(t.TempDir(), "kenner.dump")
	if out, err := exec.Command("pg_dump", "-Fc", "-d", source, "-f", dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	target := pgtest.Database(t, base)
	if out, err := exec.Command("pg_restore", "--no-owner", "-d", target, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	s = startNode(t, data, env, "--store", target)
	if after := profiles(s.url); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("profiles after the restore differ:\n%v\nwas\n%v", after, before)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
	if code, out, stderr := runCLI(t, "replay", "--data", data, "--store", target); code != 0 {
		t.Fatalf("replay on the restored store: %d %s %s", code, out, stderr)
	}
	s = startNode(t, data, env, "--store", target)
	if after := profiles(s.url); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("profiles after the restore and a replay differ:\n%v\nwas\n%v", after, before)
	}
}
