package ingest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kenner-cdp/kenner/ingest"
)

func TestCookieDomain(t *testing.T) {
	for _, c := range []struct {
		origin, host, want string
		ok                 bool
	}{
		{"https://www.shop.example", "cdp.shop.example", "shop.example", true},
		{"https://shop.example", "cdp.shop.example:8443", "shop.example", true},
		{"https://www.shop.co.uk", "cdp.shop.co.uk", "shop.co.uk", true},
		{"https://www.shop.example", "kenner.vendor.example", "", false}, // another site: a third-party cookie
		{"https://a.github.io", "b.github.io", "", false},                // a public suffix is no shared site
		{"http://127.0.0.1:8000", "127.0.0.1:8080", "", false},
		{"null", "cdp.shop.example", "", false},
	} {
		got, ok := ingest.CookieDomain(c.origin, c.host)
		if got != c.want || ok != c.ok {
			t.Errorf("CookieDomain(%q, %q) = %q, %v; want %q, %v", c.origin, c.host, got, ok, c.want, c.ok)
		}
	}
}

// TestAnonymousCookie: a browser's request from the site's own domain gets its anonymous id
// back as a server-set cookie for the whole site; another site's, or a request mixing ids,
// gets none. CORS names the origin, so that a credentialed request may keep the cookie.
func TestAnonymousCookie(t *testing.T) {
	srv, _ := newServer(t, ingest.Config{})
	send := func(origin, body string) reply {
		return post(t, srv, "/v1/batch", body, func(r *http.Request) {
			r.Host = "cdp.shop.example"
			if origin != "" {
				r.Header.Set("Origin", origin)
			}
		})
	}
	one := `{"batch":[{"type":"page","anonymousId":"anon-1"},{"type":"track","event":"A","anonymousId":"anon-1"}]}`
	r := send("https://www.shop.example", one)
	if r.status != 200 {
		t.Fatalf("%+v", r)
	}
	c := r.header.Get("Set-Cookie")
	for _, want := range []string{"ajs_anonymous_id=anon-1", "Domain=shop.example", "Path=/", "Max-Age=31536000", "SameSite=Lax"} {
		if !strings.Contains(c, want) {
			t.Errorf("Set-Cookie %q lacks %q", c, want)
		}
	}
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "https://www.shop.example" || r.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("CORS: origin %q, credentials %q", got, r.header.Get("Access-Control-Allow-Credentials"))
	}
	for name, c := range map[string]struct{ origin, body string }{
		"another site": {"https://evil.example", one},
		"no origin":    {"", one},
		"mixed ids":    {"https://www.shop.example", `{"batch":[{"type":"page","anonymousId":"a"},{"type":"page","anonymousId":"b"}]}`},
		"user id only": {"https://www.shop.example", `{"batch":[{"type":"page","userId":"u1"}]}`},
	} {
		if r := send(c.origin, c.body); r.status != 200 || r.header.Get("Set-Cookie") != "" {
			t.Errorf("%s: %d, Set-Cookie %q; want none", name, r.status, r.header.Get("Set-Cookie"))
		}
	}
}
