package main

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// consoleClient is a browser-like client of the console: cookies kept, redirects followed.
type consoleClient struct {
	t    *testing.T
	base string
	http *http.Client
}

func newConsoleClient(t *testing.T, base string) *consoleClient {
	jar, _ := cookiejar.New(nil)
	return &consoleClient{t: t, base: base, http: &http.Client{Jar: jar}}
}

func (c *consoleClient) get(path string) (int, string, string) {
	c.t.Helper()
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Request.URL.Path, string(b)
}

func (c *consoleClient) post(path string, form url.Values) (int, string, string) {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.base)
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Request.URL.Path, string(b)
}

// csrfOf reads the CSRF token of a console page's forms.
func csrfOf(page string) string {
	_, rest, ok := strings.Cut(page, `name="csrf" value="`)
	if !ok {
		return ""
	}
	tok, _, _ := strings.Cut(rest, `"`)
	return tok
}

// TestConsole signs in with the bootstrap owner's login, finds a person by email and sees
// their timeline; an analyst sees personal data masked and no erase button; a signed-out
// request goes to the login page; a form without its CSRF token is refused; wrong passwords
// are refused and, repeated, rate limited.
func TestConsole(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	batchSender(t, s.url, creds.WriteKey)(`{"batch":[
		{"type":"identify","userId":"u1","traits":{"email":"ann@example.com","name":"Ann Smith","plan":"pro"},"messageId":"c1"},
		{"type":"track","userId":"u1","event":"Order Completed","properties":{"revenue":42},"messageId":"c2"}]}`)
	api := adminAPI(t, s.url, creds.AdminToken)
	waitUntil(t, "the profile", func() bool {
		code, _ := api("GET", "/v1/profiles/user_id:u1?consistent=true", "")
		return code == 200
	})

	owner := newConsoleClient(t, s.url)
	if code, path, _ := owner.get("/"); code != 200 || path != "/console/login" {
		t.Fatalf("signed out: / ended at %s (%d), want the login page", path, code)
	}
	if code, _, page := owner.post("/console/login", url.Values{"email": {creds.ConsoleEmail}, "password": {"wrong password!"}}); code != 401 || !strings.Contains(page, "Wrong email or password") {
		t.Errorf("wrong password: %d", code)
	}
	code, path, page := owner.post("/console/login", url.Values{"email": {creds.ConsoleEmail}, "password": {creds.ConsolePassword}, "next": {"/console/profiles?q=ann@example.com"}})
	if code != 200 || path != "/console/profiles" {
		t.Fatalf("login: %d at %s", code, path)
	}
	for _, want := range []string{"ann@example.com", "Ann Smith", "Order Completed", "c2", "Erase this person", "<td class=\"muted\">default<br>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the profile page lacks %q", want)
		}
	}
	if !strings.Contains(page, `<label for="q"`) || !strings.Contains(page, "<h1>") {
		t.Error("the profile page has an input without a label or no heading")
	}
	csrf := csrfOf(page)
	for _, want := range []string{"How this profile was joined", "Download everything held about this person"} {
		if !strings.Contains(page, want) {
			t.Errorf("the profile page lacks %q", want)
		}
	}
	_, prof := api("GET", "/v1/profiles/user_id:u1", "")
	if code, _, body := owner.get("/console/profiles/export?id=" + prof["id"].(string)); code != 200 || !strings.Contains(body, "ann@example.com") {
		t.Errorf("export download: %d", code)
	}
	_, seg := api("POST", "/v1/segments", `{"name":"Pro","condition":"has(traits.plan) && traits.plan == \"pro\""}`)
	waitUntil(t, "the segment's page lists its member", func() bool {
		_, _, page := owner.get("/console/segments/" + seg["id"].(string))
		return strings.Contains(page, prof["id"].(string)) && strings.Contains(page, "Download members (CSV)")
	})
	waitUntil(t, "the segment's members", func() bool {
		_, _, csv := owner.get("/console/segments/" + seg["id"].(string) + "/members.csv")
		return strings.Contains(csv, "ann@example.com")
	})
	// A new source's write key is shown once, with how to send events.
	if code, _, page := owner.post("/console/sources", url.Values{"csrf": {csrf}, "name": {"website"}}); code != 200 || !strings.Contains(page, "wk_") || !strings.Contains(page, "/v1/track") {
		t.Errorf("create source: %d", code)
	}
	if _, _, page := owner.get("/console/settings"); !strings.Contains(page, creds.ConsoleEmail) || !strings.Contains(page, "API token") {
		t.Errorf("settings lacks the users and tokens")
	}
	if _, _, page := owner.get("/console/settings"); !strings.Contains(page, "<td>user_id</td><td>at most 1 per person</td>") || !strings.Contains(page, "test@example.com") {
		t.Errorf("settings lacks the identity rules")
	}
	if _, _, page := owner.get("/console/privacy"); !strings.Contains(page, "GET /v1/profiles/{ref}") {
		t.Errorf("the audit log does not show the profile read")
	}
	if code, _, _ := owner.post("/console/profiles/erase", url.Values{"id": {"prf_x"}}); code != 403 {
		t.Errorf("a POST without the CSRF token: %d, want 403", code)
	}
	if code, _, page := owner.get("/console/"); code != 200 || !strings.Contains(page, "Latest events") {
		t.Errorf("overview: %d", code)
	}
	for _, p := range []string{"/console/segments", "/console/destinations", "/console/events", "/console/account",
		"/console/sources", "/console/privacy", "/console/settings", "/console/segments/new", "/console/destinations/new",
		"/console/syncs", "/console/catalog", "/console/catalog/webhook-shopify", "/console/catalog/database",
		"/console/destinations/new?type=salesforce", "/console/destinations/new?type=enrichment", "/console/analytics?tab=revenue"} {
		if code, _, page := owner.get(p); code != 200 || !strings.Contains(page, "<h1>") {
			t.Errorf("%s: %d", p, code)
		}
	}

	// An unknown connector and a sync that is not there answer a page that says so.
	if code, _, page := owner.get("/console/catalog/nope"); code != 404 || !strings.Contains(page, "no connector") {
		t.Errorf("an unknown connector: %d", code)
	}
	if code, _, page := owner.get("/console/syncs/syn_nope"); code != 200 || !strings.Contains(page, "no sync") {
		t.Errorf("an unknown sync: %d", code)
	}

	// An analyst: masked data, no erase button, no lookup by email.
	pw := strings.TrimSpace(func() string {
		_, out, _ := runCLI(t, "user", "create", "ana@example.com", "--role", "analyst", "--url", s.url, "--token", creds.AdminToken)
		return out
	}())
	analyst := newConsoleClient(t, s.url)
	if code, _, _ := analyst.post("/console/login", url.Values{"email": {"ana@example.com"}, "password": {pw}}); code != 200 {
		t.Fatalf("analyst login: %d", code)
	}
	_, _, page = analyst.get("/console/profiles?q=ann@example.com")
	if !strings.Contains(page, "masked") {
		t.Errorf("an analyst looked someone up by email")
	}
	_, p := api("GET", "/v1/profiles/user_id:u1", "")
	_, _, page = analyst.get("/console/profiles?q=" + p["id"].(string))
	if strings.Contains(page, "ann@example.com") || strings.Contains(page, "Ann Smith") || strings.Contains(page, "Erase this person") {
		t.Errorf("the analyst sees personal data or the erase button")
	}
	if !strings.Contains(page, "Order Completed") {
		t.Errorf("the analyst does not see the timeline")
	}

	// A split from the profile page: the anonymous device moves out.
	batchSender(t, s.url, creds.WriteKey)(`{"batch":[{"type":"page","anonymousId":"kiosk-1","userId":"u1","name":"Home","messageId":"c9"}]}`)
	waitUntil(t, "the kiosk id on u1", func() bool {
		code, _ := api("GET", "/v1/profiles/anonymous_id:kiosk-1?consistent=true", "")
		return code == 200
	})
	if _, _, page := owner.get("/console/profiles?q=u1"); !strings.Contains(page, "Split these out") {
		t.Error("no split form on a profile with several identifiers")
	}
	if code, _, page := owner.post("/console/profiles/split", url.Values{"csrf": {csrf}, "id": {prof["id"].(string)}, "move": {"anonymous_id:kiosk-1"}}); code != 200 || !strings.Contains(page, "Split:") {
		t.Errorf("split: %d", code)
	}
	if _, p := api("GET", "/v1/profiles/anonymous_id:kiosk-1", ""); p["id"] == prof["id"] {
		t.Error("the kiosk id is still on the person's profile")
	}
	// Erasing someone from the console; the privacy page lists the request.
	batchSender(t, s.url, creds.WriteKey)(`{"batch":[{"type":"identify","userId":"u9","traits":{"email":"gone@example.com"},"messageId":"e9"}]}`)
	var gone map[string]any
	waitUntil(t, "u9's profile", func() bool {
		var code int
		code, gone = api("GET", "/v1/profiles/user_id:u9?consistent=true", "")
		return code == 200
	})
	if code, _, page := owner.post("/console/profiles/erase", url.Values{"csrf": {csrf}, "id": {gone["id"].(string)}}); code != 200 || !strings.Contains(page, "Erasure era_") {
		t.Errorf("erase: %d", code)
	}
	waitUntil(t, "the erasure on the privacy page", func() bool {
		_, _, page := owner.get("/console/privacy")
		return strings.Contains(page, gone["id"].(string)) && strings.Contains(page, "<td>done</td>")
	})

	// A user invited from the settings page can sign in with the password shown.
	code, _, page = owner.post("/console/settings/users", url.Values{"csrf": {csrf}, "email": {"mia@example.com"}, "role": {"marketer"}})
	_, rest, _ := strings.Cut(page, "the password ")
	invited, _, _ := strings.Cut(rest, " ")
	if code != 200 || len(invited) < 10 {
		t.Fatalf("invite: %d %q", code, invited)
	}
	if code, _, _ := newConsoleClient(t, s.url).post("/console/login", url.Values{"email": {"mia@example.com"}, "password": {invited}}); code != 200 {
		t.Errorf("the invited user cannot sign in: %d", code)
	}

	// A source's tracking plan problems and quarantine, and sending them on.
	_, srcs := api("GET", "/v1/sources", "")
	srcID := srcs["sources"].([]any)[0].(map[string]any)["id"].(string)
	if code, _, page := owner.post("/console/sources/"+srcID+"/plan", url.Values{"csrf": {csrf}, "plan": {`{"mode":"block","unplanned":"nonsense"}`}}); code != 200 || !strings.Contains(page, "was not saved") {
		t.Errorf("a bad plan: %d", code)
	}
	if code, _, page := owner.post("/console/sources/"+srcID+"/plan", url.Values{"csrf": {csrf}, "plan": {`{"mode":"block","unplanned":"block","events":{}}`}}); code != 200 || !strings.Contains(page, "was saved") || !strings.Contains(page, "&#34;unplanned&#34;: &#34;block&#34;") {
		t.Fatalf("save the plan: %d", code)
	}
	batchSender(t, s.url, creds.WriteKey)(`{"batch":[{"type":"track","userId":"u1","event":"Unplanned Thing","messageId":"q1"}]}`)
	var srcPage string
	waitUntil(t, "the quarantine", func() bool {
		_, _, srcPage = owner.get("/console/sources/" + srcID)
		return strings.Contains(srcPage, "Unplanned Thing") && strings.Contains(srcPage, "Send them on")
	})
	if code, _, page := owner.post("/console/sources/"+srcID+"/replay", url.Values{"csrf": {csrf}}); code != 200 || !strings.Contains(page, "still break the plan") {
		t.Errorf("replay quarantine: %d", code)
	}
	if code, _, page := owner.post("/console/sources/"+srcID+"/plan", url.Values{"csrf": {csrf}, "plan": {""}}); code != 200 || !strings.Contains(page, "was removed") {
		t.Errorf("remove the plan: %d", code)
	}
	// The simple editor: rows of events, required properties and types become the plan.
	simple := url.Values{"csrf": {csrf}, "editor": {"simple"}, "mode": {"flag"}, "unplanned": {"allow"},
		"ev_name": {"Order Completed", ""}, "ev_required": {"order_id, total", ""}, "ev_types": {"total: number, currency: string", ""}}
	if code, _, page := owner.post("/console/sources/"+srcID+"/plan", simple); code != 200 || !strings.Contains(page, "was saved") {
		t.Fatalf("save the plan from the simple editor: %d", code)
	}
	if code, plan := api("GET", "/v1/sources/"+srcID, ""); code != 200 || !strings.Contains(fmt.Sprint(plan), "order_id") || !strings.Contains(fmt.Sprint(plan), "number") {
		t.Errorf("the plan saved from rows: %v", plan)
	}
	_, _, srcPage = owner.get("/console/sources/" + srcID)
	if !strings.Contains(srcPage, `value="order_id, total"`) || !strings.Contains(srcPage, `value="currency: string, total: number"`) {
		t.Errorf("the simple editor does not show the saved plan back")
	}
	simple.Set("ev_types", "total: money")
	if code, _, page := owner.post("/console/sources/"+srcID+"/plan", simple); code != 200 || !strings.Contains(page, "should read property: type") {
		t.Errorf("a bad type: %d", code)
	}
	owner.post("/console/sources/"+srcID+"/plan", url.Values{"csrf": {csrf}, "plan": {""}})

	// A file imported from the source's page: the report says what became of each row.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", csrf)
	mw.WriteField("type", "identify")
	mw.WriteField("mapping", "columns: {id: userId, email: traits.email}")
	fw, _ := mw.CreateFormFile("file", "crm.csv")
	fw.Write([]byte("id,email\nu7,u7@example.com\n,nobody@example.com\n"))
	mw.Close()
	req, _ := http.NewRequest("POST", s.url+"/console/sources/"+srcID+"/import", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", s.url)
	resp, err := owner.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "Imported 1 of 2 rows") || !strings.Contains(string(b), "line 3") {
		t.Errorf("import from the console: %d\n%s", resp.StatusCode, b)
	}
	if _, _, page := owner.get("/console/sources/" + srcID); !strings.Contains(page, "crm.csv") || !strings.Contains(page, "2 rows: 1 imported, 0 duplicates, 1 rejected") {
		t.Errorf("the source's page does not list the import")
	}

	// A computed trait made in the console.
	if code, _, page := owner.post("/console/computed-traits", url.Values{"csrf": {csrf}, "name": {"orders_30d"}, "func": {"count"}, "event": {"Order Completed"}, "window": {"30d"}}); code != 200 || !strings.Contains(page, "Computed trait orders_30d created") || !strings.Contains(page, "Order Completed") {
		t.Errorf("create computed trait: %d", code)
	}
	if code, _, page := owner.post("/console/computed-traits", url.Values{"csrf": {csrf}, "name": {"bad"}, "func": {"sum"}}); code != 400 || !strings.Contains(page, "error") {
		t.Errorf("a computed trait without its property: %d", code)
	}

	// Live events, filtered; the refresh answers rows only.
	if _, _, page := owner.get("/console/events?type=track&event=order"); !strings.Contains(page, "Order Completed") || strings.Contains(page, "<td>identify</td>") {
		t.Errorf("filtered live events wrong")
	}
	if code, _, rows := owner.get("/console/events/rows?type=identify"); code != 200 || strings.Contains(rows, "<html") || !strings.Contains(rows, "identify") {
		t.Errorf("live events refresh: %d %q", code, rows)
	}

	// A destination paused and resumed, its dead letters replayed, from its page.
	_, dst := api("POST", "/v1/destinations", `{"name":"crm","type":"webhook","config":{"url":"http://127.0.0.1:9/x"},"subscribe":{"profiles":true}}`)
	dpath := "/console/destinations/" + dst["id"].(string)
	if code, _, page := owner.post(dpath+"/pause", url.Values{"csrf": {csrf}, "paused": {"true"}}); code != 200 || !strings.Contains(page, "Resume sending") {
		t.Errorf("pause: %d", code)
	}
	if code, _, page := owner.post(dpath+"/pause", url.Values{"csrf": {csrf}, "paused": {"false"}}); code != 200 || !strings.Contains(page, "Pause") {
		t.Errorf("resume: %d", code)
	}
	if code, _, page := owner.post(dpath+"/replay", url.Values{"csrf": {csrf}}); code != 200 || !strings.Contains(page, "dead letters queued again") {
		t.Errorf("replay: %d", code)
	}

	// A password change: checked against the current one, audited, and the session goes on.
	if code, _, page := owner.post("/console/account/password", url.Values{"csrf": {csrf}, "current": {"not it at all"}, "new": {"a brand new password"}}); code != 200 || !strings.Contains(page, "not right") {
		t.Errorf("a wrong current password: %d", code)
	}
	if code, _, page := owner.post("/console/account/password", url.Values{"csrf": {csrf}, "current": {creds.ConsolePassword}, "new": {"a brand new password"}}); code != 200 || !strings.Contains(page, "was changed") {
		t.Errorf("password change: %d", code)
	}
	_, _, page = owner.get("/console/account")
	csrf = csrfOf(page)
	if _, _, page := owner.get("/console/privacy"); !strings.Contains(page, "POST /v1/account/password") {
		t.Error("the password change is not in the audit log")
	}

	// Signing out ends the session.
	if code, path, _ := owner.post("/console/logout", url.Values{"csrf": {csrf}}); code != 200 || path != "/console/login" {
		t.Errorf("logout: %d at %s", code, path)
	}
	if _, path, _ := owner.get("/console/"); path != "/console/login" {
		t.Errorf("after logout / is at %s", path)
	}
	// Guessing is rate limited.
	limited := false
	for range 15 {
		if code, _, _ := owner.post("/console/login", url.Values{"email": {creds.ConsoleEmail}, "password": {"guess guess guess"}}); code == 429 {
			limited = true
			break
		}
	}
	if !limited {
		t.Error("15 wrong passwords in a row were not rate limited")
	}
}
