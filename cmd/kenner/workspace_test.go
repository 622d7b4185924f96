package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/kenner-cdp/kenner/auth"
)

// secret marks A's identifiers and names that B's requests carry (answers may repeat them);
// hidden marks A's data that no request names: no answer given to B may contain it.
const (
	secret = "zzasecret"
	hidden = "qvhiddenq"
)

// TestWorkspaceIsolation: the deployment's owner makes a second workspace (CLI and API); with
// B's owner token, every admin route of the OpenAPI document is called with A's ids and
// identifiers and finds nothing of A's, changes nothing of A's, and B's lists, analytics and
// console pages never show A's data. Deleting B then removes it, its token stops working, and
// A is untouched.
func TestWorkspaceIsolation(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	a := adminAPI(t, s.url, creds.AdminToken)

	// The deployment's owner creates workspace B from the CLI.
	code, out, stderr := runCLI(t, "workspace", "create", "Brand B", "--owner-email", "owner@brand-b.example", "--url", s.url, "--token", creds.AdminToken)
	if code != 0 {
		t.Fatalf("workspace create: %d %s", code, stderr)
	}
	var made auth.NewWorkspace
	if err := json.Unmarshal([]byte(out), &made); err != nil || made.AdminToken == "" || made.WriteKey == "" || made.ConsolePassword == "" {
		t.Fatalf("workspace create printed %q", out)
	}
	b := adminAPI(t, s.url, made.AdminToken)
	if code, out, _ := runCLI(t, "workspace", "list", "--url", s.url, "--token", creds.AdminToken); code != 0 || !strings.Contains(out, made.Workspace.ID) || !strings.Contains(out, "ws_default") {
		t.Errorf("workspace list: %d\n%s", code, out)
	}
	// Only the deployment's owners manage workspaces.
	if code, _ := b("GET", "/v1/workspaces", ""); code != 403 {
		t.Errorf("B's owner lists workspaces: %d, want 403", code)
	}
	if code, _ := b("DELETE", "/v1/workspaces/ws_default?confirm=ws_default", ""); code != 403 {
		t.Errorf("B's owner deletes the deployment's workspace: %d, want 403", code)
	}
	if code, _ := a("DELETE", "/v1/workspaces/ws_default?confirm=ws_default", ""); code != 409 {
		t.Errorf("deleting the deployment's workspace: %d, want 409", code)
	}
	if code, e := a("DELETE", "/v1/workspaces/"+made.Workspace.ID, ""); code != 400 {
		t.Errorf("deleting without confirm: %d %v, want 400", code, e)
	}

	// Workspace A: people, events and one of every kind of configuration.
	batchSender(t, s.url, creds.WriteKey)(`{"batch":[
		{"type":"identify","userId":"` + secret + `-user","anonymousId":"` + secret + `-anon","traits":{"email":"` + hidden + `@example.com","name":"` + hidden + ` Person"},"messageId":"` + secret + `-m1"},
		{"type":"track","userId":"` + secret + `-user","event":"Order Completed","properties":{"revenue":42},"context":{"campaign":{"source":"` + hidden + `","medium":"email"}},"messageId":"` + secret + `-m2"}]}`)
	waitUntil(t, "A's profile", func() bool {
		code, _ := a("GET", "/v1/profiles/user_id:"+secret+"-user?consistent=true", "")
		return code == 200
	})
	ids := map[string]string{}
	create := func(kind, path, body string) {
		t.Helper()
		code, out := a("POST", path, body)
		if code != 201 && code != 200 && code != 202 {
			t.Fatalf("A creates %s: %d %v", kind, code, out)
		}
		if id, ok := out["id"].(string); ok {
			ids[kind] = id
		}
	}
	create("segments", "/v1/segments", `{"name":"`+hidden+` segment","condition":"true"}`)
	create("computed-traits", "/v1/computed-traits", `{"name":"`+secret+`_orders","func":"count","event":"Order Completed","window":"30d"}`)
	ids["computed-traits"] = secret + "_orders"
	create("destinations", "/v1/destinations", `{"name":"`+hidden+` hook","type":"webhook","config":{"url":"http://127.0.0.1:1/`+hidden+`"},"subscribe":{"events":true}}`)
	create("sources", "/v1/sources", `{"name":"`+hidden+`-source"}`)
	create("slots", "/v1/slots", `{"name":"`+hidden+`-slot","default":{"html":"`+hidden+`"},"variants":[]}`)
	create("models", "/v1/models", `{"name":"`+hidden+`_model","kind":"clv"}`)
	create("journeys", "/v1/journeys", `{"name":"`+hidden+` journey","entry":{"event":"Order Completed"},"steps":[{"id":"w","type":"wait","duration":"1h"}]}`)
	create("reports", "/v1/reports", `{"name":"`+hidden+` report","kind":"trends","query":"event=Order+Completed"}`)
	create("tokens", "/v1/tokens", `{"name":"`+hidden+` token","role":"viewer"}`)
	create("users", "/v1/users", `{"email":"`+hidden+`@staff.example","role":"viewer"}`)
	if code, out := a("POST", "/v1/spend", `{"spend":[{"date":"2026-01-01","source":"`+hidden+`","medium":"email","campaign":"`+hidden+`","cost":10,"currency":"EUR"}]}`); code >= 300 {
		t.Fatalf("A's spend: %d %v", code, out)
	}
	profileRef := "user_id:" + secret + "-user"

	// Every admin route, as B, with A's ids.
	spec, err := os.ReadFile("../../server/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	var paths []string
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	calls := 0
	var shown []string
	for _, p := range paths {
		if !strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/v1/workspaces") {
			continue
		}
		for method := range doc.Paths[p] {
			method = strings.ToUpper(method)
			if method != "GET" && method != "POST" && method != "PUT" && method != "PATCH" && method != "DELETE" {
				continue
			}
			if !param.MatchString(p) && method != "GET" {
				continue // creating in B is B's business
			}
			kind := strings.Split(strings.TrimPrefix(p, "/v1/"), "/")[0]
			path := param.ReplaceAllStringFunc(p, func(string) string {
				switch {
				case kind == "profiles" || kind == "suppressions" || kind == "identity":
					return url.PathEscape(profileRef)
				case ids[kind] != "":
					return ids[kind]
				}
				return secret
			})
			if kind == "catalog" || kind == "identify" || kind == "track" {
				continue // the connector catalogue is the same for everyone; tracking takes write keys
			}
			calls++
			code, body := callRaw(t, s.url, made.AdminToken, method, path)
			if code < 300 && param.MatchString(p) && !strings.HasPrefix(p, "/v1/webhooks") {
				t.Errorf("B: %s %s answered %d, want A's %s not found", method, path, code, kind)
			}
			if strings.Contains(body, hidden) {
				t.Errorf("B: %s %s shows A's data: %.300s", method, path, body)
			}
			if method == "GET" && !param.MatchString(p) {
				// The control: A's own answer to the same call shows A's data.
				if _, body := callRaw(t, s.url, creds.AdminToken, method, path); strings.Contains(body, hidden) {
					shown = append(shown, p)
				}
			}
		}
	}
	if calls < 80 {
		t.Errorf("only %d routes called", calls)
	}
	t.Logf("A sees its own data at %d lists: %v", len(shown), shown)
	if len(shown) < 10 {
		t.Errorf("A's own lists show its data only at %v: the check above would not see a leak", shown)
	}
	// Nothing of A's changed.
	for kind, id := range ids {
		path := "/v1/" + kind + "/" + id
		if kind == "tokens" || kind == "users" || kind == "reports" {
			continue // no single-item read
		}
		if code, out := a("GET", path, ""); code != 200 {
			t.Errorf("A's %s after B's calls: %d %v", path, code, out)
		}
	}
	if code, _ := a("GET", "/v1/profiles/"+profileRef, ""); code != 200 {
		t.Errorf("A's profile after B's calls: %d", code)
	}
	if code, out := a("GET", "/v1/tokens", ""); code != 200 || !strings.Contains(mustJSON(out), hidden) {
		t.Errorf("A's tokens after B's calls: %d", code)
	}
	// A's write key does not write into B, nor B's into A.
	batchSender(t, s.url, made.WriteKey)(`{"batch":[{"type":"identify","userId":"b-user","traits":{"email":"b@brand-b.example"},"messageId":"b1"}]}`)
	waitUntil(t, "B's profile", func() bool {
		code, _ := b("GET", "/v1/profiles/user_id:b-user?consistent=true", "")
		return code == 200
	})
	if code, _ := a("GET", "/v1/profiles/user_id:b-user", ""); code != 404 {
		t.Errorf("A sees B's person: %d", code)
	}

	// The console: B's owner signs in and sees only B.
	con := newConsoleClient(t, s.url)
	if code, path, _ := con.post("/console/login", url.Values{"email": {made.ConsoleEmail}, "password": {made.ConsolePassword}}); code != 200 || path == "/console/login" {
		t.Fatalf("B's owner signs in: %d at %s", code, path)
	}
	for _, p := range []string{"/console/", "/console/profiles?q=" + url.QueryEscape(profileRef), "/console/profiles?q=" + secret,
		"/console/segments", "/console/segments/" + ids["segments"], "/console/segments/" + ids["segments"] + "/members.csv",
		"/console/destinations", "/console/destinations/" + ids["destinations"], "/console/sources", "/console/sources/" + ids["sources"],
		"/console/events", "/console/computed", "/console/personalization", "/console/personalization/" + ids["slots"],
		"/console/predictions", "/console/predictions/" + ids["models"], "/console/journeys", "/console/journeys/" + ids["journeys"],
		"/console/analytics", "/console/analytics?tab=campaigns", "/console/privacy", "/console/settings", "/console/syncs", "/console/matching"} {
		_, _, page := con.get(p)
		if strings.Contains(page, hidden) {
			t.Errorf("B's console page %s shows A's data", p)
		}
	}
	if _, _, page := con.get("/console/"); !strings.Contains(page, "Brand B") {
		t.Error("B's console does not name its workspace")
	}

	// Deleting B: its token stops working, its console session ends, A keeps everything.
	if code, _ := a("DELETE", "/v1/workspaces/"+made.Workspace.ID+"?confirm="+made.Workspace.ID, ""); code != 204 {
		t.Fatalf("delete B: %d", code)
	}
	if code, _ := b("GET", "/v1/segments", ""); code != 401 {
		t.Errorf("B's token after deletion: %d, want 401", code)
	}
	if _, path, _ := con.get("/console/"); path != "/console/login" {
		t.Errorf("B's console session after deletion ended at %s", path)
	}
	if code, _ := a("GET", "/v1/segments/"+ids["segments"], ""); code != 200 {
		t.Errorf("A's segment after deleting B: %d", code)
	}
	if code, out, _ := runCLI(t, "workspace", "list", "--url", s.url, "--token", creds.AdminToken); code != 0 || strings.Contains(out, made.Workspace.ID) {
		t.Errorf("workspace list after deletion: %d\n%s", code, out)
	}
}

func callRaw(t *testing.T, base, token, method, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestWorkspaceCommandsOnData: without a server, workspace commands work on the data
// directory, and --workspace points the other admin commands at one workspace.
func TestWorkspaceCommandsOnData(t *testing.T) {
	data := t.TempDir()
	code, out, stderr := runCLI(t, "workspace", "create", "Offline brand", "--data", data)
	if code != 0 {
		t.Fatalf("workspace create: %d %s", code, stderr)
	}
	var made auth.NewWorkspace
	if err := json.Unmarshal([]byte(out), &made); err != nil || made.Workspace.ID == "" {
		t.Fatalf("workspace create printed %q", out)
	}
	id := made.Workspace.ID
	if code, _, stderr := runCLI(t, "source", "create", "shop", "--data", data, "--workspace", id); code != 0 {
		t.Fatalf("source create in %s: %d %s", id, code, stderr)
	}
	if _, out, _ := runCLI(t, "source", "list", "--data", data, "--workspace", id); !strings.Contains(out, "shop") || !strings.Contains(out, "default") {
		t.Errorf("sources of %s:\n%s", id, out)
	}
	if _, out, _ := runCLI(t, "source", "list", "--data", data); strings.Contains(out, "shop") {
		t.Errorf("the first workspace lists the other's source:\n%s", out)
	}
	if code, _, stderr := runCLI(t, "source", "list", "--data", data, "--workspace", "ws_nope"); code != 2 || !strings.Contains(stderr, "no workspace") {
		t.Errorf("an unknown --workspace: %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "workspace", "delete", id, "--data", data); code != 2 || !strings.Contains(stderr, "--yes") {
		t.Errorf("delete without --yes: %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "workspace", "delete", "ws_default", "--yes", "--data", data); code == 0 || !strings.Contains(stderr, "cannot be deleted") {
		t.Errorf("deleting the deployment's workspace: %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "workspace", "delete", id, "--yes", "--data", data); code != 0 {
		t.Fatalf("delete: %d %s", code, stderr)
	}
	if _, out, _ := runCLI(t, "workspace", "list", "--data", data); strings.Contains(out, id) || !strings.Contains(out, "ws_default") {
		t.Errorf("after deletion:\n%s", out)
	}
}
