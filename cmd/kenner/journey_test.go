package main

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner/internal/smtptest"
)

// subjects are the subjects of the mails each recipient got.
func subjects(t *testing.T, srv *smtptest.Server) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, m := range srv.Mails() {
		msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
		if err != nil {
			t.Fatal(err)
		}
		subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		for _, to := range m.To {
			out[to] = append(out[to], subj)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, 30*time.Second, what, cond)
}

func waitWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestJourneyAPI drives a welcome journey through the API of a running server with a real
// SMTP server: a draft that cannot run is refused on publish with the step and reason; a
// sign-up enters the person, who gets the welcome email at once; the report and the
// person's path show it; a kill -9 after the email was queued and a restart send nobody a
// second email.
func TestJourneyAPI(t *testing.T) {
	smtp := smtptest.Start(t, smtptest.Options{})
	data := t.TempDir()
	args := []string{"--smtp-url", "smtp://" + smtp.Addr + "?security=none", "--email-from", "Shop <shop@example.com>",
		"--public-url", "https://cdp.example.com"}
	s := startServer(t, data, args...)
	creds := credentialsOf(t, data)
	api := adminAPI(t, s.url, creds.AdminToken)
	send := batchSender(t, s.url, creds.WriteKey)

	bad := `{"name":"welcome","entry":{"event":"Signed Up"},"steps":[
		{"id":"hello","type":"email","subject":"Welcome {{ .traits.first_name","text":"hi","next":"wait"},
		{"id":"wait","type":"wait","duration":"30s"}]}`
	code, j := api("POST", "/v1/journeys", bad)
	if code != 201 || j["status"] != "draft" {
		t.Fatalf("create: %d %v", code, j)
	}
	id := j["id"].(string)
	if code, out := api("POST", "/v1/journeys/"+id+"/publish", ""); code != 400 || !strings.Contains(fmt.Sprint(out), `step "hello" (email): subject`) {
		t.Fatalf("publish of a broken template: %d %v, want 400 naming step hello", code, out)
	}
	good := `{"name":"welcome","entry":{"event":"Signed Up","filter":"e.properties.plan == \"pro\""},"tracking":{"opens":true,"clicks":true},"steps":[
		{"id":"hello","type":"email","subject":"Welcome, {{ .traits.first_name | default \"there\" }}","html":"<p>Hi {{ .traits.first_name }}, see <a href=\"https://shop.example.com/new?a=1&amp;b=2\">what is new</a>.</p>","text":"Hi","next":"watch"},
		{"id":"watch","type":"wait_event","event":"Order Completed","timeout":"72h","then":"thanks"},
		{"id":"thanks","type":"email","subject":"Thanks for your order","text":"Thank you."}]}`
	if code, out := api("PUT", "/v1/journeys/"+id, good); code != 200 {
		t.Fatalf("update: %d %v", code, out)
	}
	if code, out := api("POST", "/v1/journeys/"+id+"/publish", ""); code != 200 || out["status"] != "live" || out["version"] != 1.0 {
		t.Fatalf("publish: %d %v", code, out)
	}
	send(`{"batch":[
		{"type":"identify","userId":"ann","traits":{"email":"ann@example.com","first_name":"Ann"},"messageId":"i-ann"},
		{"type":"identify","userId":"ben","traits":{"email":"ben@example.com"},"messageId":"i-ben"},
		{"type":"identify","userId":"cat","traits":{"email":"cat@example.com"},"messageId":"i-cat"},
		{"type":"track","userId":"ann","event":"Signed Up","properties":{"plan":"pro"},"messageId":"s-ann"},
		{"type":"track","userId":"cat","event":"Signed Up","properties":{"plan":"pro"},"messageId":"s-cat"},
		{"type":"track","userId":"ben","event":"Signed Up","properties":{"plan":"free"},"messageId":"s-ben"}]}`)
	waitFor(t, "the welcome mails", func() bool { return len(smtp.Mails()) == 2 })
	if got, want := subjects(t, smtp), map[string][]string{"ann@example.com": {"Welcome, Ann"}, "cat@example.com": {"Welcome, there"}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("mails %v, want %v", got, want)
	}
	// Ann opens her email and clicks its link: both are recorded on her profile, and the
	// click goes where the link went.
	var html string
	for _, m := range smtp.Mails() {
		if m.To[0] == "ann@example.com" {
			html = htmlPart(t, m.Data)
		}
	}
	open := regexp.MustCompile(`src="https://cdp\.example\.com(/v1/email/open\?[^"]+)"`).FindStringSubmatch(html)
	click := regexp.MustCompile(`href="https://cdp\.example\.com(/v1/email/click\?[^"]+)"`).FindStringSubmatch(html)
	if open == nil || click == nil {
		t.Fatalf("ann's email is not tracked:\n%s", html)
	}
	if resp, err := http.Get(s.url + strings.ReplaceAll(open[1], "&amp;", "&")); err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/gif" {
		t.Errorf("the pixel: %v %v", resp, err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(s.url + strings.ReplaceAll(click[1], "&amp;", "&"))
	if err != nil || resp.StatusCode != 302 || resp.Header.Get("Location") != "https://shop.example.com/new?a=1&b=2" {
		t.Fatalf("the click: %v %v", resp, err)
	}
	if resp, err := noFollow.Get(s.url + strings.Replace(strings.ReplaceAll(click[1], "&amp;", "&"), "shop.example.com", "evil.example.com", 1)); err != nil || resp.StatusCode != 400 {
		t.Errorf("a click link to another target: %v %v, want 400", resp, err)
	}
	waitFor(t, "ann's open and click on her timeline", func() bool {
		_, evs := api("GET", "/v1/profiles/user_id:ann/events?type=track", "")
		got := fmt.Sprint(evs)
		return strings.Contains(got, "Email Opened") && strings.Contains(got, "Email Link Clicked")
	})

	// Cat unsubscribes with the one-click link of her email (RFC 8058).
	var link string
	for _, m := range smtp.Mails() {
		msg, _ := mail.ReadMessage(strings.NewReader(string(m.Data)))
		if m.To[0] == "cat@example.com" {
			link = strings.Trim(msg.Header.Get("List-Unsubscribe"), "<>")
			if msg.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
				t.Errorf("List-Unsubscribe-Post: %q", msg.Header.Get("List-Unsubscribe-Post"))
			}
		}
	}
	if !strings.HasPrefix(link, "https://cdp.example.com/v1/unsubscribe?t=") {
		t.Fatalf("List-Unsubscribe %q", link)
	}
	forged := strings.Replace(link, "https://cdp.example.com", s.url, 1)
	if resp, err := http.Post(forged[:len(forged)-3]+"abc", "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click")); err != nil || resp.StatusCode != 400 {
		t.Errorf("a tampered link: %v %v, want 400", resp, err)
	}
	resp, err = http.Post(forged, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("one-click unsubscribe: %v %v", resp, err)
	}
	waitFor(t, "cat's answer on her profile", func() bool {
		_, c := api("GET", "/v1/profiles/user_id:cat/consent", "")
		return strings.Contains(fmt.Sprint(c), "email:map[granted:false")
	})

	// A kill -9 with Ann waiting for her order; the order arrives while the server is down.
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
	s = startServer(t, data, args...)
	api = adminAPI(t, s.url, creds.AdminToken)
	send = batchSender(t, s.url, creds.WriteKey)
	send(`{"batch":[{"type":"track","userId":"ann","event":"Order Completed","messageId":"o-ann"},
		{"type":"track","userId":"cat","event":"Order Completed","messageId":"o-cat"}]}`)
	waitFor(t, "the thank-you mail", func() bool { return len(smtp.Mails()) == 3 })
	if got, want := subjects(t, smtp)["ann@example.com"], []string{"Welcome, Ann", "Thanks for your order"}; !slices.Equal(got, want) {
		t.Fatalf("Ann's mails %v, want %v", got, want)
	}

	var rep map[string]any
	waitFor(t, "the report", func() bool {
		_, rep = api("GET", "/v1/journeys/"+id+"/report", "")
		return rep["completed"] == 2.0
	})
	if rep["entered"] != 2.0 || rep["waiting"] != 0.0 || rep["sends"] != 4.0 {
		t.Errorf("report %v: want 2 entered, 0 waiting, 4 sends (one of them skipped: cat unsubscribed)", rep)
	}
	if rep["opens"] != 1.0 || rep["clicks"] != 1.0 || rep["unsubscribes"] != 1.0 {
		t.Errorf("report %v: want 1 open, 1 click, 1 unsubscribe", rep)
	}
	if hello := rep["steps"].(map[string]any)["hello"].(map[string]any); hello["opened"] != 1.0 || hello["unsubscribed"] != 1.0 {
		t.Errorf("the hello step's report %v", hello)
	}
	if got := subjects(t, smtp)["cat@example.com"]; len(got) != 1 {
		t.Errorf("cat got %v after unsubscribing", got)
	}
	code, pj := api("GET", "/v1/profiles/user_id:ann/journeys", "")
	if code != 200 {
		t.Fatalf("profile journeys: %d %v", code, pj)
	}
	runs := pj["journeys"].([]any)
	if len(runs) != 1 {
		t.Fatalf("ann's journeys %v", pj)
	}
	var path []string
	for _, p := range runs[0].(map[string]any)["path"].([]any) {
		st := p.(map[string]any)
		path = append(path, fmt.Sprint(st["step"], ":", st["outcome"]))
	}
	if want := []string{"hello:sent", "watch:event", "thanks:sent"}; !slices.Equal(path, want) {
		t.Errorf("ann's path %v, want %v", path, want)
	}
	code, prev := api("POST", "/v1/journeys/"+id+"/preview", `{"step":"hello","profile":"user_id:ben"}`)
	if code != 200 || prev["subject"] != "Welcome, there" {
		t.Errorf("preview for ben: %d %v", code, prev)
	}
	if code, out := api("POST", "/v1/journeys/"+id+"/test", `{"step":"hello","profile":"user_id:ann","to":"marketer@example.com"}`); code != 200 {
		t.Errorf("test send: %d %v", code, out)
	}
	waitFor(t, "the test mail", func() bool { return len(subjects(t, smtp)["marketer@example.com"]) == 1 })
	if resp, err := http.Get(strings.Replace(link, "https://cdp.example.com", s.url, 1)); err != nil || resp.StatusCode != 200 {
		t.Errorf("the unsubscribe page: %v %v", resp, err)
	}
	if resp, err := http.Get(s.url + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, m := range []string{"kenner_journey_moves_total", "kenner_journey_entries_total", "kenner_journey_timer_lateness_seconds_bucket"} {
			if !strings.Contains(string(b), m) {
				t.Errorf("/metrics lacks %s", m)
			}
		}
	}

	// The same journey through the command line.
	cli := func(args ...string) string {
		t.Helper()
		code, out, stderr := runCLI(t, append(args, "--url", s.url, "--token", creds.AdminToken)...)
		if code != 0 {
			t.Fatalf("kenner %v: exit %d: %s", args, code, stderr)
		}
		return out
	}
	if out := cli("journey", "list"); !strings.Contains(out, "welcome") || !strings.Contains(out, "live") {
		t.Errorf("journey list:\n%s", out)
	}
	if out := cli("journey", "report", "welcome"); !strings.Contains(out, "converted") || !strings.Contains(out, "hello") {
		t.Errorf("journey report:\n%s", out)
	}
	file := filepath.Join(t.TempDir(), "j.json")
	os.WriteFile(file, []byte(`{"name":"cli","entry":{"event":"X"},"steps":[{"id":"w","type":"wait","duration":"1h"}]}`), 0o600)
	cli("journey", "create", "--file", file)
	if out := cli("journey", "publish", "cli"); !strings.Contains(out, "live") {
		t.Errorf("journey publish:\n%s", out)
	}
	if code, _, stderr := runCLI(t, "journey", "pause", "nope", "--url", s.url, "--token", creds.AdminToken); code != 2 || !strings.Contains(stderr, "no journey named") {
		t.Errorf("pause of an unknown journey: %d %s", code, stderr)
	}
	if code, out := api("DELETE", "/v1/journeys/"+id, ""); code != 409 {
		t.Errorf("delete of a live journey: %d %v, want 409", code, out)
	}
	if code, out := api("POST", "/v1/journeys/"+id+"/archive", ""); code != 200 {
		t.Errorf("archive: %d %v", code, out)
	}
}

// htmlPart is the HTML body of a mail, decoded.
func htmlPart(t *testing.T, data []byte) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	typ, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if !strings.HasPrefix(typ, "multipart/") {
		b, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
		return string(b)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			return ""
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
			b, _ := io.ReadAll(quotedprintable.NewReader(p))
			return string(b)
		}
	}
}

// TestJourneyKillAfterEnqueue: a journey email is queued while the mail server answers
// "try later"; the server is killed (-9) with the email still pending, and after the restart
// the person gets it exactly once.
func TestJourneyKillAfterEnqueue(t *testing.T) {
	smtp := smtptest.Start(t, smtptest.Options{})
	smtp.Fail("dan@example.com", 451, 451)
	data := t.TempDir()
	args := []string{"--smtp-url", "smtp://" + smtp.Addr + "?security=none", "--email-from", "Shop <shop@example.com>"}
	s := startServer(t, data, args...)
	creds := credentialsOf(t, data)
	api := adminAPI(t, s.url, creds.AdminToken)
	send := batchSender(t, s.url, creds.WriteKey)
	code, j := api("POST", "/v1/journeys", `{"name":"receipt","entry":{"event":"Order Completed"},"steps":[
		{"id":"receipt","type":"email","subject":"Your receipt","text":"Thank you."}]}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, j)
	}
	id := j["id"].(string)
	if code, out := api("POST", "/v1/journeys/"+id+"/publish", ""); code != 200 {
		t.Fatalf("publish: %d %v", code, out)
	}
	send(`{"batch":[{"type":"identify","userId":"dan","traits":{"email":"dan@example.com"},"messageId":"i-dan"},
		{"type":"track","userId":"dan","event":"Order Completed","messageId":"o-dan"}]}`)
	waitFor(t, "the receipt queued", func() bool {
		_, rep := api("GET", "/v1/journeys/"+id+"/report", "")
		return rep["sends"] == 1.0
	})
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
	if n := len(smtp.Mails()); n != 0 {
		t.Fatalf("%d mails before the restart; the server was to refuse the first attempts", n)
	}
	startServer(t, data, args...)
	// A kill during an attempt leaves the delivery leased for a minute (activation's lease,
	// which keeps another node from sending it meanwhile): then it is sent.
	waitWithin(t, 90*time.Second, "the receipt", func() bool { return len(smtp.Mails()) == 1 })
	// Nothing more arrives: the delivery is done, the journey has nothing left to send.
	time.Sleep(3 * time.Second)
	if got := subjects(t, smtp)["dan@example.com"]; len(got) != 1 {
		t.Errorf("dan got %v", got)
	}
}
