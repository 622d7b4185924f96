package ingest

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/kenner-cdp/kenner/jsonobj"
)

// AnonymousCookie is the first-party cookie that holds a browser's anonymous id, named as
// analytics.js names it, so that Segment's libraries and Kenner's tag share it.
const AnonymousCookie = "ajs_anonymous_id"

// anonymousCookieAge is how long a server-set anonymous id lasts: a year, like analytics.js.
// Safari caps cookies written by scripts at 7 days (ITP) but not those set by the site's own
// server, which Kenner is when it answers on a subdomain of the site.
const anonymousCookieAge = 365 * 24 * time.Hour

// CookieDomain returns the domain a cookie set in answer to a request from origin to host
// is written for (the site's registrable domain, so every subdomain reads it), and false
// when the two are not the same site: Kenner then sets nothing, since a cookie it set on
// its own domain would be a third-party cookie to the site.
func CookieDomain(origin, host string) (string, bool) {
	u, err := url.Parse(origin)
	if err != nil || u.Hostname() == "" {
		return "", false
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	site := strings.ToLower(u.Hostname())
	if net.ParseIP(host) != nil || net.ParseIP(site) != nil {
		return "", false // an address has no subdomains to share a cookie with
	}
	a, err1 := publicsuffix.EffectiveTLDPlusOne(site)
	b, err2 := publicsuffix.EffectiveTLDPlusOne(host)
	if err1 != nil || err2 != nil || a != b {
		return "", false
	}
	return a, true
}

// setAnonymousCookie answers a browser's request from the site's own domain with its
// anonymous id as an HTTP cookie: the id then survives Safari's 7-day limit on cookies
// written by scripts. Only a request whose messages all carry the same anonymous id sets it.
func setAnonymousCookie(w http.ResponseWriter, r *http.Request, raws [][]byte, secure bool) {
	origin := r.Header.Get("Origin")
	if origin == "" || len(raws) == 0 {
		return
	}
	domain, ok := CookieDomain(origin, r.Host)
	if !ok {
		return
	}
	id := ""
	for _, raw := range raws {
		m, err := jsonobj.Parse(raw)
		if err != nil {
			return
		}
		v, _ := jsonobj.String(m.Get("anonymousId"))
		if v == "" || id != "" && v != id {
			return
		}
		id = v
	}
	if len(id) > 200 || strings.ContainsAny(id, ";, \"\\") {
		return // not a value a cookie can hold as it is
	}
	http.SetCookie(w, &http.Cookie{Name: AnonymousCookie, Value: id, Domain: domain, Path: "/",
		MaxAge: int(anonymousCookieAge / time.Second), SameSite: http.SameSiteLaxMode, Secure: secure})
}
