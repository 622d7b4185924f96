package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// browser starts headless Chromium (Debian's, as .ci/run installs it) for one test, and
// records every URL the pages request. Without KENNER_TEST_BROWSER the test is skipped
// when no Chromium is installed; with it (CI), a missing Chromium fails the test.
func browser(t *testing.T, flags ...chromedp.ExecAllocatorOption) (context.Context, *[]string) {
	t.Helper()
	path := os.Getenv("KENNER_CHROMIUM")
	if path == "" {
		path, _ = exec.LookPath("chromium")
	}
	if path == "" {
		if os.Getenv("KENNER_TEST_BROWSER") != "" {
			t.Fatal("KENNER_TEST_BROWSER is set but no chromium is installed (apt-get install -y chromium)")
		}
		t.Skip("no chromium installed (apt-get install -y chromium); set KENNER_TEST_BROWSER to require it")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1280, 900))
	opts = append(opts, flags...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	var mu sync.Mutex
	urls := &[]string{}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			*urls = append(*urls, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("network events: %v", err)
	}
	return ctx, urls
}

// screenshot saves the page under docs/screenshots when KENNER_SCREENSHOTS names the
// repository (how the README's pictures are made), and into the test's directory otherwise.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := t.TempDir()
	if repo := os.Getenv("KENNER_SCREENSHOTS"); repo != "" {
		dir = filepath.Join(repo, "docs", "screenshots")
		os.MkdirAll(dir, 0o755)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// signIn signs the owner in to the console at url and opens the page named in the main
// navigation (by its link text).
func signIn(t *testing.T, ctx context.Context, url string, creds initialCredentials, page string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(url+"/console/login"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), creds.ConsoleEmail),
		chromedp.SendKeys(chromedp.ID("password"), creds.ConsolePassword),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(`//h1[text()="Overview"]`),
		chromedp.Click(`//nav//a[text()="`+page+`"]`),
		chromedp.WaitVisible(`//h1[text()="`+page+`"]`),
	); err != nil {
		t.Fatal(err)
	}
}

// accessible checks the basics on the current page: a heading, and a label for every form
// field (by for=, by wrapping, or aria-label).
func accessible(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(function () {
	  var out = [];
	  if (!document.querySelector('h1')) out.push('no h1');
	  document.querySelectorAll('input:not([type=hidden]), select, textarea').forEach(function (el) {
	    if (el.closest('template')) return;
	    var labelled = (el.id && document.querySelector('label[for="' + el.id + '"]')) || el.closest('label') || el.getAttribute('aria-label');
	    if (!labelled) out.push((el.name || el.className || el.tagName) + ' has no label');
	  });
	  return out;
	})()`))
	if err != nil {
		t.Fatalf("%s: %v", page, err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", page, p)
	}
}

// TestConsoleInBrowser drives the console in headless Chromium as a person would: a
// signed-out visit lands on the sign-in form; the owner signs in, finds a person by email
// and sees their timeline; an analyst sees them masked with no erase button. No page
// requests anything outside Kenner's origin.
func TestConsoleInBrowser(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	send := batchSender(t, s.url, creds.WriteKey)
	send(`{"batch":[
		{"type":"identify","userId":"u1","anonymousId":"a-7f3","traits":{"email":"ann@example.com","name":"Ann Smith","plan":"pro","city":"Utrecht"},"messageId":"b1"},
		{"type":"page","anonymousId":"a-7f3","name":"Pricing","messageId":"b2"},
		{"type":"track","userId":"u1","event":"Order Completed","properties":{"revenue":42.5},"messageId":"b3"},
		{"type":"identify","userId":"u2","traits":{"email":"bo@example.com","plan":"free"},"messageId":"b4"}]}`)
	api := adminAPI(t, s.url, creds.AdminToken)
	api("POST", "/v1/segments", `{"name":"Pro customers","condition":"has(traits.plan) && traits.plan == \"pro\""}`)
	// A tracking plan the next order breaks: the overview lists the violation.
	_, srcs := api("GET", "/v1/sources", "")
	src := srcs["sources"].([]any)[0].(map[string]any)["id"].(string)
	if code, out := api("PUT", "/v1/sources/"+src+"/tracking-plan", `{"mode":"flag","unplanned":"allow",
		"events":{"Order Completed":{"type":"object","required":["order_id"]}}}`); code != 200 {
		t.Fatalf("tracking plan: %d %v", code, out)
	}
	send(`{"batch":[{"type":"track","userId":"u2","event":"Order Completed","properties":{"revenue":10},"messageId":"b5"}]}`)
	waitUntil(t, "the profiles", func() bool {
		code, _ := api("GET", "/v1/profiles/user_id:u2?consistent=true", "")
		return code == 200
	})

	ctx, urls := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(s.url+"/"), chromedp.WaitVisible(chromedp.ID("email"))); err != nil {
		t.Fatal(err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(loc, "/console/login") {
		t.Errorf("signed out, / ended at %s", loc)
	}
	screenshot(t, ctx, "login")
	accessible(t, ctx, "login")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("email"), creds.ConsoleEmail),
		chromedp.SendKeys(chromedp.ID("password"), creds.ConsolePassword),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(`//h1[text()="Overview"]`),
	); err != nil {
		t.Fatal(err)
	}
	// Profiles are counted in the background (every 10 s at this size): the overview shows the
	// count that includes the people sent above, and processing up to date.
	for deadline := time.Now().Add(30 * time.Second); ; {
		n, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#stat-profiles .n")))
		state, err2 := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#stat-processing .n")))
		if err == nil && err2 == nil && n != "…" && n != "0" && state == "up to date" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the overview shows %q profiles (%v), processing %q (%v)", n, err, state, err2)
			break
		}
		time.Sleep(time.Second)
		if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(`//h1[text()="Overview"]`)); err != nil {
			t.Fatal(err)
		}
	}
	if problems, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main"))); err != nil || !strings.Contains(problems, "Recent problems") ||
		!strings.Contains(problems, "tracking plan: Order Completed") {
		t.Errorf("the overview lists no tracking-plan violation (%v)", err)
	}
	if drawn, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#events-chart canvas') !== null`)); err != nil || !drawn {
		t.Errorf("the events chart was not drawn (%v)", err)
	}
	screenshot(t, ctx, "overview")
	accessible(t, ctx, "overview")
	if err := chromedp.Do(ctx,
		chromedp.Click(`//nav//a[text()="Profiles"]`),
		chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), "ann@example.com"),
		chromedp.Submit(chromedp.ID("q")),
		chromedp.WaitVisible(`//h2[text()="Timeline"]`),
	); err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ann@example.com", "Ann Smith", "Order Completed", "Pricing", "Pro customers", "Erase this person"} {
		if !strings.Contains(body, want) {
			t.Errorf("the profile page lacks %q", want)
		}
	}
	screenshot(t, ctx, "profile")
	accessible(t, ctx, "profile")
	// The timeline filters by type.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("tl-type"), "page"),
		chromedp.Submit(chromedp.ID("tl-event")),
		chromedp.WaitVisible(`//h2[text()="Timeline"]`),
	); err != nil {
		t.Fatal(err)
	}
	if body, _ := chromedp.Run(ctx, chromedp.Text(`//h2[text()="Timeline"]/following-sibling::table[1]`)); !strings.Contains(body, "Pricing") || strings.Contains(body, "Order Completed") {
		t.Errorf("timeline filtered to pages:\n%s", body)
	}
	// Find people by a trait: the search box takes "city = Utrecht".
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("q"), "city = Utrecht"),
		chromedp.Submit(chromedp.ID("q")),
		chromedp.WaitVisible(`//h2[contains(., "has city = Utrecht")]`),
	); err != nil {
		t.Fatal(err)
	}
	if body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main"))); !strings.Contains(body, "1 person has city = Utrecht") || !strings.Contains(body, "ann@example.com") {
		t.Errorf("trait search:\n%s", body)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`//a[starts-with(text(), "prf_")]`), chromedp.WaitVisible(`//h2[text()="Timeline"]`)); err != nil {
		t.Fatalf("from the search to the profile: %v", err)
	}
	// Readable on a phone: nothing wider than the screen.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(`//h2[text()="Timeline"]`)); err != nil {
		t.Fatal(err)
	}
	if wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)); err != nil || wide {
		t.Errorf("the profile page is wider than a phone's screen (%v)", err)
	}
	screenshot(t, ctx, "profile-phone")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`//nav//a[text()="Segments"]`), chromedp.WaitVisible(`//h1[text()="Segments"]`)); err != nil {
		t.Fatal(err)
	}

	// The visual builder writes the condition and the preview counts the members.
	if err := chromedp.Do(ctx,
		chromedp.Click(`//a[text()="New segment"]`),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "Utrecht customers"),
		chromedp.SendKeys(chromedp.CSS(".r-name"), "city"),
		chromedp.SendKeys(chromedp.CSS(".r-value"), "Utrecht"),
		chromedp.WaitVisible(chromedp.ID("preview-count")),
	); err != nil {
		t.Fatal(err)
	}
	// The preview follows the typing: wait for the one for the whole rule.
	var count string
	for range 40 {
		if count, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("preview-count"))); err == nil && count == "1" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if count != "1" {
		t.Errorf("preview count %q (%v), want 1", count, err)
	}
	cond, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("condition")))
	if !strings.Contains(cond, `traits["city"] == "Utrecht"`) {
		t.Errorf("the builder wrote %q", cond)
	}
	screenshot(t, ctx, "segment-builder")
	accessible(t, ctx, "segment builder")
	if err := chromedp.Do(ctx, chromedp.Submit(chromedp.ID("name")), chromedp.WaitVisible(`//table//*[text()="Utrecht customers"]`)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "segments")
	if err := chromedp.Do(ctx, chromedp.Click(`//a[text()="Pro customers"]`), chromedp.WaitVisible(`//h2[text()="Members per day"]`)); err != nil {
		t.Fatal(err)
	}
	if text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main"))); !strings.Contains(text, "members (ready)") {
		t.Errorf("the segment's page:\n%s", text)
	}
	accessible(t, ctx, "segment")

	// A webhook destination made in the console, and a delivery to it.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer hook.Close()
	if err := chromedp.Do(ctx,
		chromedp.Click(`//nav//a[text()="Destinations"]`),
		chromedp.Click(`//a[text()="New destination"]`),
		chromedp.WaitVisible(chromedp.ID("url")),
		chromedp.SendKeys(chromedp.ID("name"), "CRM"),
		chromedp.SendKeys(chromedp.ID("url"), hook.URL+"/kenner"),
		chromedp.Submit(chromedp.ID("url")),
		chromedp.WaitVisible(`//h2[text()="Deliveries"]`),
	); err != nil {
		t.Fatal(err)
	}
	send(`{"batch":[{"type":"track","userId":"u1","event":"Product Viewed","messageId":"b5"}]}`)
	delivered := false
	for range 40 {
		if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(`//h2[text()="Deliveries"]`)); err != nil {
			t.Fatal(err)
		}
		if text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main"))); strings.Contains(text, "delivered") && strings.Contains(text, "b5") {
			delivered = true
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !delivered {
		t.Error("no delivery shown on the destination's page")
	}
	screenshot(t, ctx, "destination")
	accessible(t, ctx, "destination")
	// A personalization slot made in the console, for the members of a segment.
	if err := chromedp.Do(ctx,
		chromedp.Click(`//nav//a[text()="Personalization"]`),
		chromedp.WaitVisible(chromedp.ID("slot-name")),
		chromedp.SendKeys(chromedp.ID("slot-name"), "hero"),
		chromedp.SendKeys(chromedp.ID("slot-default"), "<h2>10% off your first order</h2>"),
		chromedp.SetValue(chromedp.ID("slot-holdout"), "10"),
		chromedp.SendKeys(chromedp.ID("v-name-0"), "pro-upgrade"),
		chromedp.SendKeys(chromedp.ID("v-cond-0"), `segment("Pro customers")`),
		chromedp.SendKeys(chromedp.ID("v-content-0"), "<h2>Your team plan is one click away</h2>"),
		chromedp.Submit(chromedp.ID("slot-name")),
		chromedp.WaitVisible(`//p[@role="status" or @role="alert"]`),
	); err != nil {
		t.Fatal(err)
	}
	if msg, _ := chromedp.Run(ctx, chromedp.Text(`//p[@role="status" or @role="alert"]`)); !strings.Contains(msg, "Slot hero saved") {
		t.Fatalf("saving a slot: %s", msg)
	}
	if _, list := api("GET", "/v1/slots", ""); len(list["slots"].([]any)) != 1 ||
		path(list["slots"].([]any)[0].(map[string]any), "variants") == nil {
		t.Errorf("slots after the console saved one: %v", list)
	}
	screenshot(t, ctx, "personalization")
	accessible(t, ctx, "personalization")
	// The source's tag settings, saved from its page.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.url+"/console/sources/default"),
		chromedp.WaitVisible(chromedp.ID("tag-consent")),
		chromedp.SetValue(chromedp.ID("tag-consent"), "required"),
		chromedp.Click(`//input[@name="clicks"]`),
		chromedp.Submit(chromedp.ID("tag-purpose")),
		chromedp.WaitVisible(`//p[@role="status" or @role="alert"]`),
	); err != nil {
		t.Fatal(err)
	}
	if msg, _ := chromedp.Run(ctx, chromedp.Text(`//p[@role="status" or @role="alert"]`)); !strings.Contains(msg, "Tag settings saved") {
		t.Fatalf("saving tag settings: %s", msg)
	}
	if _, tag := api("GET", "/v1/sources/default/tag", ""); tag["consent"] != "required" || tag["clicks"] != true {
		t.Errorf("tag settings after the console saved them: %v", tag)
	}
	screenshot(t, ctx, "source-tag")
	accessible(t, ctx, "source")
	for _, p := range []string{"/console/events", "/console/sources", "/console/computed-traits", "/console/settings", "/console/privacy", "/console/account", "/console/destinations/new"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(s.url+p), chromedp.WaitVisible(`h1`)); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		accessible(t, ctx, p)
	}

	// An analyst, in a fresh browser.
	_, out, _ := runCLI(t, "user", "create", "ana@example.com", "--role", "analyst", "--url", s.url, "--token", creds.AdminToken)
	actx, aurls := browser(t)
	_, p := api("GET", "/v1/profiles/user_id:u1", "")
	if err := chromedp.Do(actx,
		chromedp.Navigate(s.url+"/console/profiles?q="+p["id"].(string)),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "ana@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), strings.TrimSpace(out)),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(`//h2[text()="Timeline"]`),
	); err != nil {
		t.Fatal(err)
	}
	if body, err = chromedp.Run(actx, chromedp.Text(chromedp.CSS("main"))); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, "ann@example.com") || strings.Contains(body, "Ann Smith") || strings.Contains(body, "Erase this person") {
		t.Errorf("the analyst sees personal data or the erase button:\n%s", body)
	}
	if !strings.Contains(body, "Order Completed") {
		t.Error("the analyst does not see the timeline")
	}
	screenshot(t, actx, "profile-analyst")

	for _, u := range append(*urls, *aurls...) {
		if !strings.HasPrefix(u, s.url+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("a page requested %s, outside Kenner", u)
		}
	}
}
