package main

import (
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"
)

// TestErasureSuppressesOnlyTheErased: after Bob is erased, a different person who shares his
// landline (new user id, new email) is kept, by identify and by import, where the erased
// phone used to drop them silently. The suppression list names kinds and keyed hashes only,
// only the identifiers that named Bob (user id, email), and an owner can lift one so that
// Bob can sign up again.
func TestErasureSuppressesOnlyTheErased(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	owner := adminAPI(t, s.url, creds.AdminToken)
	send := batchSender(t, s.url, creds.WriteKey)
	found := func(ref string) bool {
		code, _ := owner("GET", "/v1/profiles/"+ref+"?consistent=true", "")
		return code == 200
	}

	send(`{"batch":[{"type":"identify","userId":"bob","traits":{"email":"bob@example.org","phone":"+31 20 555 1234"},"messageId":"b1"}]}`)
	waitUntil(t, "bob", func() bool { return found("user_id:bob") })
	if code, out := owner("DELETE", "/v1/profiles/user_id:bob", ""); code != 202 {
		t.Fatalf("erase bob: %d %v", code, out)
	}
	waitUntil(t, "bob gone", func() bool { return !found("user_id:bob") })

	_, list := owner("GET", "/v1/suppressions", "")
	kinds := map[string]bool{}
	for _, it := range list["suppressions"].([]any) {
		m := it.(map[string]any)
		kinds[m["kind"].(string)] = true
		if strings.Contains(m["hash"].(string), "bob") {
			t.Errorf("the list shows a value: %v", m)
		}
	}
	if !kinds["user_id"] || !kinds["email"] || kinds["phone"] || kinds["anonymous_id"] {
		t.Errorf("suppressed kinds %v, want user_id and email only", kinds)
	}

	// Carol shares Bob's landline.
	send(`{"batch":[{"type":"identify","userId":"carol","traits":{"email":"carol@example.org","phone":"+31 20 555 1234","name":"Carol"},"messageId":"c1"}]}`)
	waitUntil(t, "carol", func() bool { return found("user_id:carol") })
	if !found("phone:+31205551234") {
		t.Error("carol's phone does not find her")
	}
	// So does Dave, imported from a file.
	q := url.Values{"source": {"default"}, "type": {"identify"}, "mapping": {"columns: {id: userId, phone: traits.phone}"}}
	if code, imp := owner("POST", "/v1/imports?"+q.Encode(), "id,phone\ndave,+31 20 555 1234\n"); code != 200 || imp["imported"] != 1.0 {
		t.Fatalf("import: %d %v", code, imp)
	}
	waitUntil(t, "dave", func() bool { return found("user_id:dave") })

	// Bob comes back on a new device with his email: the event goes on without it.
	send(`{"batch":[{"type":"identify","anonymousId":"bob-new-phone","traits":{"email":"Bob@Example.org","plan":"pro"},"messageId":"b2"}]}`)
	waitUntil(t, "bob's new device", func() bool { return found("anonymous_id:bob-new-phone") })
	if found("email:bob@example.org") {
		t.Error("the suppressed email identifies again")
	}

	// Lifting: owner only, audited; then his email works again.
	_, tok := owner("POST", "/v1/tokens", `{"name":"ops","role":"admin"}`)
	admin := adminAPI(t, s.url, tok["token"].(string))
	if code, _ := admin("DELETE", "/v1/suppressions/email:bob@example.org", ""); code != 403 {
		t.Errorf("an admin lifted a suppression: %d", code)
	}
	if code, out := owner("DELETE", "/v1/suppressions/email:Bob@Example.org", ""); code != 204 {
		t.Fatalf("lift: %d %v", code, out)
	}
	if code, _ := owner("DELETE", "/v1/suppressions/email:bob@example.org", ""); code != 404 {
		t.Errorf("lifting twice: %d, want 404", code)
	}
	send(`{"batch":[{"type":"identify","anonymousId":"bob-new-phone","traits":{"email":"bob@example.org"},"messageId":"b3"}]}`)
	waitUntil(t, "bob's email again", func() bool { return found("email:bob@example.org") })
	_, audit := owner("GET", "/v1/audit?action="+url.QueryEscape("DELETE /v1/suppressions/{ref}"), "")
	entries, _ := audit["entries"].([]any)
	if len(entries) == 0 {
		t.Fatalf("lifting is not audited: %v", audit)
	}
	if target := entries[0].(map[string]any)["target"].(string); strings.Contains(target, "bob") {
		t.Errorf("the audit log keeps the identifier: %q", target)
	}
}

// TestLocalAdminCommandsAudited: admin commands run on the data directory itself (no server,
// no token) are in the audit log, with the operating-system user as the actor.
func TestLocalAdminCommandsAudited(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
	for _, args := range [][]string{{"token", "create", "--data", data, "--role", "viewer"}, {"source", "create", "--data", data, "crm"}} {
		if code, _, stderr := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: %d %s", args, code, stderr)
		}
	}
	s = startServer(t, data)
	api := adminAPI(t, s.url, creds.AdminToken)
	for _, action := range []string{"cli token create", "cli source create"} {
		_, out := api("GET", "/v1/audit?action="+url.QueryEscape(action), "")
		entries, _ := out["entries"].([]any)
		if len(entries) != 1 || !strings.HasPrefix(fmt.Sprint(entries[0].(map[string]any)["actor"]), "cli") {
			t.Errorf("%s: audit %v", action, out)
		}
	}
}
