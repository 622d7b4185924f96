package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/kenner-cdp/kenner/console"
)

// site is a shop's website and Kenner behind the shop's own subdomain, both over TLS, as the
// README recommends: https://www.shop.test:P serves the pages, https://cdp.shop.test:Q is a
// reverse proxy to Kenner. Chromium resolves *.shop.test to this machine.
type site struct {
	www, cdp string // origins
	kenner   string // Kenner's own URL, for the admin API
	writeKey string
}

func startSite(t *testing.T, kennerURL, writeKey string) *site {
	t.Helper()
	target, _ := url.Parse(kennerURL)
	proxy := httptest.NewTLSServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host // Kenner sees the site's host name, as behind any proxy
		r.SetXForwarded()
	}})
	t.Cleanup(proxy.Close)
	cdp := "cdp.shop.test:" + port(proxy.URL)
	snippet, err := os.ReadFile(filepath.Join("testdata", "site", "segment-snippet-5.2.1.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	fill := func(b []byte) []byte {
		s := strings.ReplaceAll(string(b), "{{SNIPPET}}", string(snippet))
		s = strings.ReplaceAll(s, "{{KENNER_SNIPPET}}", console.Snippet("https://"+cdp, writeKey))
		s = strings.ReplaceAll(s, "__KENNER_HOST__", cdp)
		return []byte(strings.ReplaceAll(s, "__WRITE_KEY__", writeKey))
	}
	www := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(filepath.Join("testdata", "site", filepath.Base(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if strings.HasSuffix(r.URL.Path, ".js") {
			w.Header().Set("Content-Type", "text/javascript")
		} else {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
		w.Write(fill(b))
	}))
	t.Cleanup(www.Close)
	return &site{www: "https://www.shop.test:" + port(www.URL), cdp: "https://" + cdp, kenner: kennerURL, writeKey: writeKey}
}

func port(u string) string {
	p, _ := url.Parse(u)
	return p.Port()
}

// siteBrowser is a browser in which *.shop.test is this machine and the test servers'
// certificates are trusted.
func siteBrowser(t *testing.T) (context.Context, *[]string) {
	return browser(t, chromedp.Flag("host-resolver-rules", "MAP *.shop.test 127.0.0.1"), chromedp.Flag("ignore-certificate-errors", true))
}

// eventsOf lists the stored events of an anonymous id (newest first).
func eventsOf(t *testing.T, api func(string, string, string) (int, map[string]any), anon string) []map[string]any {
	t.Helper()
	_, out := api("GET", "/v1/events?anonymous_id="+url.QueryEscape(anon), "")
	var evs []map[string]any
	list, _ := out["events"].([]any)
	for _, e := range list {
		evs = append(evs, e.(map[string]any))
	}
	return evs
}

func findEvent(evs []map[string]any, typ, name string) map[string]any {
	for _, e := range evs {
		if e["type"] == typ && (name == "" || e["event"] == name) {
			return e
		}
	}
	return nil
}

func path(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// outside lists the requested URLs that are neither the site nor Kenner.
func outside(urls []string, origins ...string) []string {
	var out []string
	for _, u := range urls {
		ok := strings.HasPrefix(u, "data:") || strings.HasPrefix(u, "blob:")
		for _, o := range origins {
			ok = ok || strings.HasPrefix(u, o+"/")
		}
		if !ok {
			out = append(out, u)
		}
	}
	return out
}

// TestTagInBrowser: the official Segment snippet, with its host set to Kenner, loads Kenner's
// tag; page, track and identify arrive with the browser's anonymous id, the campaign from the
// UTM parameters and the page context; Kenner sets the anonymous id as a server cookie for
// the whole site; clicks and forms are tracked as the tag settings say (without the password
// and card fields); the profile built from the anonymous visit carries the identify; and the
// page requests nothing outside the site and Kenner.
func TestTagInBrowser(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	api := adminAPI(t, s.url, creds.AdminToken)
	if code, out := api("PUT", "/v1/sources/default/tag", `{"clicks":true,"forms":true,"outbound_links":true}`); code != 200 {
		t.Fatalf("tag settings: %d %v", code, out)
	}
	st := startSite(t, s.url, creds.WriteKey)
	ctx, urls := siteBrowser(t)

	landing := st.www + "/landing.html?utm_source=newsletter&utm_medium=email&utm_campaign=winter-sale"
	if err := chromedp.Do(ctx, chromedp.Navigate(landing),
		chromedp.Poll[chromedp.Void](`window.analytics && window.analytics.initialized === true`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatal(err)
	}
	anon, err := chromedp.Run(ctx, chromedp.Evaluate[string](`analytics.user().anonymousId()`))
	if err != nil || anon == "" {
		t.Fatalf("anonymous id %q: %v", anon, err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`analytics.track("Viewed Pricing", {plan: "pro"}); undefined`),
		chromedp.Click(chromedp.ID("cta")),
		chromedp.Click(chromedp.ID("submit")),
	); err != nil {
		t.Fatal(err)
	}
	// The identify goes last, so that every event above was sent anonymously.
	waitUntil(t, "the anonymous events", func() bool {
		evs := eventsOf(t, api, anon)
		return findEvent(evs, "track", "Form Submitted") != nil && findEvent(evs, "track", "CTA Clicked") != nil && findEvent(evs, "track", "Viewed Pricing") != nil
	})
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`analytics.identify("user-42", {email: "ann@shop.test", firstName: "Ann"}); undefined`)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the identify", func() bool { return findEvent(eventsOf(t, api, anon), "identify", "") != nil })

	evs := eventsOf(t, api, anon)
	page := findEvent(evs, "page", "")
	if page == nil {
		t.Fatalf("no page view among %v", evs)
	}
	if got := path(page, "context", "campaign"); got == nil || path(page, "context", "campaign", "source") != "newsletter" ||
		path(page, "context", "campaign", "medium") != "email" || path(page, "context", "campaign", "name") != "winter-sale" {
		t.Errorf("page campaign %v", got)
	}
	if path(page, "context", "page", "path") != "/landing.html" || path(page, "context", "page", "title") != "Winter sale | Shop" ||
		!strings.HasPrefix(path(page, "context", "page", "url").(string), st.www+"/landing.html") {
		t.Errorf("page context %v", path(page, "context", "page"))
	}
	if path(page, "context", "library", "name") != "kenner.js" || !strings.Contains(path(page, "context", "userAgent").(string), "Chrome") {
		t.Errorf("library %v, user agent %v", path(page, "context", "library"), path(page, "context", "userAgent"))
	}
	if tr := findEvent(evs, "track", "Viewed Pricing"); path(tr, "properties", "plan") != "pro" || tr["userId"] != nil {
		t.Errorf("track %v", tr)
	}
	if c := findEvent(evs, "track", "CTA Clicked"); path(c, "properties", "label") != "hero button" {
		t.Errorf("click %v", c)
	}
	form := findEvent(evs, "track", "Form Submitted")
	fields, _ := path(form, "properties", "fields").(map[string]any)
	if fields["plan"] != "pro" || fields["password"] != nil || fields["card_number"] != nil || path(form, "properties", "form_id") != "signup" {
		t.Errorf("form fields %v: want plan, never password or card", fields)
	}
	if id := findEvent(evs, "identify", ""); id["userId"] != "user-42" || path(id, "traits", "firstName") != "Ann" {
		t.Errorf("identify %v", id)
	}

	// The anonymous id is a cookie Kenner set for the whole site, good for a year.
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{st.www + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	cookies := res.Cookies
	var anonCookie *network.Cookie
	for _, c := range cookies {
		if c.Name == "ajs_anonymous_id" && c.Domain == ".shop.test" && c.Value == anon {
			anonCookie = c
		}
	}
	if anonCookie == nil || time.Until(time.Unix(int64(anonCookie.Expires), 0)) < 360*24*time.Hour {
		t.Errorf("no year-long ajs_anonymous_id cookie for .shop.test in %+v", cookies)
	}

	// The profile that began as an anonymous visit carries the identify.
	waitUntil(t, "the profile", func() bool {
		code, p := api("GET", "/v1/profiles/anonymous_id:"+anon, "")
		ids, _ := p["identities"].([]any)
		has := false
		for _, i := range ids {
			has = has || i.(map[string]any)["kind"] == "user_id" && i.(map[string]any)["value"] == "user-42"
		}
		return code == 200 && has && path(p, "traits", "firstName") == "Ann"
	})
	if out := outside(*urls, st.www, st.cdp); len(out) > 0 {
		t.Errorf("requests outside the site and Kenner: %v", out)
	}
}

// TestTagConsentRequired: on a page with the console's own snippet, with consent required
// the tag neither sets a cookie nor sends anything before the site reports consent; then the held events go, with the consent in
// their context; withdrawing consent deletes the cookie.
func TestTagConsentRequired(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	api := adminAPI(t, s.url, creds.AdminToken)
	if code, out := api("PUT", "/v1/sources/default/tag", `{"consent":"required"}`); code != 200 {
		t.Fatalf("tag settings: %d %v", code, out)
	}
	st := startSite(t, s.url, creds.WriteKey)
	ctx, urls := siteBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(st.www+"/own.html"),
		chromedp.Poll[chromedp.Void](`window.analytics && window.analytics.initialized === true`, chromedp.WithPollingTimeout(15*time.Second)),
		chromedp.Evaluate[chromedp.Void](`analytics.track("Before Consent"); undefined`),
		// Long enough for the tag's 200 ms batching to have sent, were it allowed to.
		chromedp.Sleep(time.Second),
	); err != nil {
		t.Fatal(err)
	}
	sent := func() int {
		n := 0
		for _, u := range *urls {
			if strings.HasPrefix(u, st.cdp+"/v1/") {
				n++
			}
		}
		return n
	}
	cookie, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	if err != nil {
		t.Fatal(err)
	}
	if n := sent(); n != 0 || strings.Contains(cookie, "ajs_anonymous_id") {
		t.Fatalf("before consent: %d requests to Kenner's API, cookies %q", n, cookie)
	}
	anon, err := chromedp.Run(ctx, chromedp.Evaluate[string](`analytics.consent({analytics: true, marketing: false}); analytics.user().anonymousId()`))
	if err != nil || anon == "" {
		t.Fatalf("consent: %q %v", anon, err)
	}
	waitUntil(t, "the held events", func() bool {
		return findEvent(eventsOf(t, api, anon), "track", "Before Consent") != nil && findEvent(eventsOf(t, api, anon), "page", "") != nil
	})
	ev := findEvent(eventsOf(t, api, anon), "track", "Before Consent")
	if prefs := path(ev, "context", "consent", "categoryPreferences"); path(ev, "context", "consent", "categoryPreferences", "analytics") != true ||
		path(ev, "context", "consent", "categoryPreferences", "marketing") != false {
		t.Errorf("consent in context: %v", prefs)
	}
	if cookie, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`)); !strings.Contains(cookie, "ajs_anonymous_id="+anon) {
		t.Errorf("after consent, cookies %q", cookie)
	}
	cookie, err = chromedp.Run(ctx, chromedp.Evaluate[string](`analytics.consent({analytics: false}); document.cookie`))
	if err != nil || strings.Contains(cookie, "ajs_anonymous_id") {
		t.Errorf("after withdrawal, cookies %q (%v)", cookie, err)
	}
}

// TestPersonalizationInBrowser: a slot on the page shows the variant to a member of its
// segment and the default to another visitor, and the tag records what it showed.
func TestPersonalizationInBrowser(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	api := adminAPI(t, s.url, creds.AdminToken)
	send := batchSender(t, s.url, creds.WriteKey)
	send(`{"batch":[
		{"type":"identify","anonymousId":"anon-vip","userId":"vip-1","traits":{"plan":"vip","firstName":"Ada"}},
		{"type":"identify","anonymousId":"anon-free","userId":"free-1","traits":{"plan":"free"}}]}`)
	code, seg := api("POST", "/v1/segments", `{"name":"VIP","condition":"traits.plan == \"vip\""}`)
	if code != 201 {
		t.Fatalf("segment: %d %v", code, seg)
	}
	waitUntil(t, "the segment", func() bool {
		_, s := api("GET", "/v1/segments/"+seg["id"].(string), "")
		return s["state"] == "ready" && s["members"] == float64(1)
	})
	if code, out := api("POST", "/v1/slots", `{"name":"hero","personal":true,
		"default":{"html":"<h2 id=\"offer\">10% off your first order</h2>"},
		"variants":[{"name":"vip-welcome","condition":"segment(\"VIP\")","content":{"html":"<h2 id=\"offer\">Welcome back, {{ traits.firstName }}: free shipping</h2>"}}]}`); code != 201 {
		t.Fatalf("slot: %d %v", code, out)
	}
	st := startSite(t, s.url, creds.WriteKey)
	ctx, _ := siteBrowser(t)
	for _, c := range []struct{ anon, want, variant string }{
		{"anon-vip", "Welcome back, Ada: free shipping", "vip-welcome"},
		{"anon-free", "10% off your first order", "default"},
	} {
		// The visitor's browser holds their anonymous id from an earlier visit.
		if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: "ajs_anonymous_id", Value: c.anon, Domain: ".shop.test", Path: "/"}); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(st.www+"/landing.html"),
			chromedp.WaitVisible(chromedp.ID("offer"))); err != nil {
			t.Fatal(err)
		}
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("offer")))
		if err != nil || got != c.want {
			t.Errorf("%s sees %q (%v), want %q", c.anon, got, err, c.want)
		}
		if c.anon == "anon-vip" {
			screenshot(t, ctx, "personalized-slot")
		}
		waitUntil(t, "Personalization Shown", func() bool {
			ev := findEvent(eventsOf(t, api, c.anon), "track", "Personalization Shown")
			return ev != nil && path(ev, "properties", "slot") == "hero" && path(ev, "properties", "variant") == c.variant &&
				path(ev, "properties", "control") == false
		})
	}
}

// TestAnalyticsNextAgainstKenner: Segment's own @segment/analytics-next (the npm package),
// with its CDN set to Kenner, reads Kenner's settings document and sends its events to
// Kenner, and to nowhere else.
func TestAnalyticsNextAgainstKenner(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	api := adminAPI(t, s.url, creds.AdminToken)
	st := startSite(t, s.url, creds.WriteKey)
	ctx, urls := siteBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(st.www+"/next.html")); err != nil {
		t.Fatal(err)
	}
	anon, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.nextReady`, chromedp.EvalAwaitPromise))
	if err != nil || anon == "" {
		t.Fatalf("analytics-next: %q %v", anon, err)
	}
	waitUntil(t, "analytics-next's events", func() bool {
		evs := eventsOf(t, api, anon)
		return findEvent(evs, "page", "") != nil && findEvent(evs, "track", "Next Tracked") != nil && findEvent(evs, "identify", "") != nil
	})
	if id := findEvent(eventsOf(t, api, anon), "identify", ""); id["userId"] != "next-user" || path(id, "context", "library", "name") != "analytics.js" {
		t.Errorf("identify from analytics-next: %v", id)
	}
	settings := false
	for _, u := range *urls {
		settings = settings || strings.HasPrefix(u, st.cdp+"/v1/projects/"+creds.WriteKey+"/settings")
	}
	if !settings {
		t.Errorf("analytics-next did not read Kenner's settings: %v", *urls)
	}
	if out := outside(*urls, st.www, st.cdp); len(out) > 0 {
		t.Errorf("requests outside the site and Kenner: %v", out)
	}
}
