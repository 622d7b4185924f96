package inbound

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
)

// Signature schemes of webhook senders.
const (
	SchemeShopify = "shopify"     // X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the body
	SchemeStripe  = "stripe"      // Stripe-Signature (or Header): t=<unix>,v1=<hex HMAC-SHA256 of "t.body">
	SchemeHMAC    = "hmac-sha256" // <Header>: hex or base64 HMAC-SHA256 of the body, "sha256=" allowed
	SchemeSHA1    = "hmac-sha1"   // <Header> (X-Hub-Signature): "sha1=" and the hex HMAC-SHA1 of the body (Intercom)
	// SchemeZendesk: X-Zendesk-Webhook-Signature: base64 HMAC-SHA256 of the
	// X-Zendesk-Webhook-Signature-Timestamp header's value followed by the body.
	SchemeZendesk = "zendesk"
	// SchemeHubSpot: X-HubSpot-Signature-v3: base64 HMAC-SHA256 of the method, the URL, the
	// body and X-HubSpot-Request-Timestamp (milliseconds, within 5 minutes).
	SchemeHubSpot = "hubspot"
	// SchemeMandrill (Mailchimp Transactional): X-Mandrill-Signature: base64 HMAC-SHA1 of the
	// URL followed by every form field's name and value, sorted by name.
	SchemeMandrill = "mandrill"
)

// Request is what the schemes sign besides the body.
type Request struct {
	Method string
	// URL is the full URL the sender called (scheme, host, path and query).
	URL    string
	Header http.Header
}

// StripeTolerance is how old a Stripe signature's timestamp may be, as Stripe's own libraries
// allow, so that a captured delivery cannot be replayed later.
const StripeTolerance = 5 * time.Minute

func checkVerify(v *kenner.WebhookVerify) error {
	if v == nil {
		return nil
	}
	switch v.Scheme {
	case SchemeShopify, SchemeStripe, SchemeHMAC, SchemeSHA1, SchemeZendesk, SchemeHubSpot, SchemeMandrill:
	default:
		return kenner.Errorf(kenner.EInvalid, "verify.scheme %q is not one of shopify, stripe, hmac-sha256, hmac-sha1, zendesk, hubspot, mandrill", v.Scheme)
	}
	if v.Secret == "" {
		return kenner.Errorf(kenner.EInvalid, "verify.secret is required")
	}
	return nil
}

// Verifies reports whether the mapping checks signatures (and so needs no write key).
func (m *Mapping) Verifies() bool { return m.verify != nil }

// Verify checks a payload's signature against the mapping's secret.
func (m *Mapping) Verify(body []byte, req Request, now time.Time) error {
	v := m.verify
	if v == nil {
		return nil
	}
	h := req.Header
	signedURL := req.URL
	if v.URL != "" {
		signedURL = v.URL
	}
	mac := func(msg []byte) []byte {
		h := hmac.New(sha256.New, []byte(v.Secret))
		h.Write(msg)
		return h.Sum(nil)
	}
	bad := func(why string) error { return kenner.Errorf(kenner.EUnauthorized, "webhook signature: %s", why) }
	switch v.Scheme {
	case SchemeShopify:
		got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h.Get("X-Shopify-Hmac-Sha256")))
		if err != nil || len(got) == 0 {
			return bad("missing or malformed X-Shopify-Hmac-Sha256 header")
		}
		if !hmac.Equal(got, mac(body)) {
			return bad("X-Shopify-Hmac-Sha256 does not match the body")
		}
	case SchemeStripe:
		var ts string
		var sigs [][]byte
		name := v.Header // Calendly signs the same way under its own header
		if name == "" {
			name = "Stripe-Signature"
		}
		for part := range strings.SplitSeq(h.Get(name), ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "t":
				ts = val
			case "v1":
				if b, err := hex.DecodeString(val); err == nil {
					sigs = append(sigs, b)
				}
			}
		}
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || len(sigs) == 0 {
			return bad("missing or malformed " + name + " header (want t=...,v1=...)")
		}
		if d := now.Sub(time.Unix(sec, 0)); d > StripeTolerance || d < -StripeTolerance {
			return bad(name + " timestamp is outside the 5-minute tolerance")
		}
		want := mac(append([]byte(ts+"."), body...))
		for _, s := range sigs {
			if hmac.Equal(s, want) {
				return nil
			}
		}
		return bad("no v1 signature in " + name + " matches the body")
	case SchemeSHA1:
		name := v.Header
		if name == "" {
			name = "X-Hub-Signature"
		}
		got, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(h.Get(name)), "sha1="))
		m := hmac.New(sha1.New, []byte(v.Secret))
		m.Write(body)
		if err != nil || !hmac.Equal(got, m.Sum(nil)) {
			return bad(name + " is missing or does not match the body")
		}
	case SchemeZendesk:
		ts := strings.TrimSpace(h.Get("X-Zendesk-Webhook-Signature-Timestamp"))
		got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h.Get("X-Zendesk-Webhook-Signature")))
		if err != nil || len(got) == 0 || ts == "" {
			return bad("missing X-Zendesk-Webhook-Signature or its timestamp")
		}
		if at, err := time.Parse(time.RFC3339, ts); err != nil || now.Sub(at) > StripeTolerance || at.Sub(now) > StripeTolerance {
			return bad("X-Zendesk-Webhook-Signature-Timestamp is outside the 5-minute tolerance")
		}
		if !hmac.Equal(got, mac(append([]byte(ts), body...))) {
			return bad("X-Zendesk-Webhook-Signature does not match the body")
		}
	case SchemeHubSpot:
		ts := strings.TrimSpace(h.Get("X-HubSpot-Request-Timestamp"))
		got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h.Get("X-HubSpot-Signature-v3")))
		ms, terr := strconv.ParseInt(ts, 10, 64)
		if err != nil || len(got) == 0 || terr != nil {
			return bad("missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp")
		}
		if d := now.Sub(time.UnixMilli(ms)); d > StripeTolerance || d < -StripeTolerance {
			return bad("X-HubSpot-Request-Timestamp is outside the 5-minute tolerance")
		}
		msg := append([]byte(req.Method+signedURL), body...)
		if !hmac.Equal(got, mac(append(msg, ts...))) {
			return bad("X-HubSpot-Signature-v3 does not match the request")
		}
	case SchemeMandrill:
		got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h.Get("X-Mandrill-Signature")))
		if err != nil || len(got) == 0 {
			return bad("missing X-Mandrill-Signature")
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return bad("the body is not a form")
		}
		names := make([]string, 0, len(form))
		for k := range form {
			names = append(names, k)
		}
		sort.Strings(names)
		var b strings.Builder
		b.WriteString(signedURL)
		for _, k := range names {
			b.WriteString(k)
			b.WriteString(form.Get(k))
		}
		m := hmac.New(sha1.New, []byte(v.Secret))
		m.Write([]byte(b.String()))
		if !hmac.Equal(got, m.Sum(nil)) {
			return bad("X-Mandrill-Signature does not match the request")
		}
	case SchemeHMAC:
		name := v.Header
		if name == "" {
			name = "X-Signature"
		}
		raw := strings.TrimSpace(h.Get(name))
		raw = strings.TrimPrefix(raw, "sha256=")
		if raw == "" {
			return bad("missing " + name + " header")
		}
		want := mac(body)
		got, err := hex.DecodeString(raw)
		if err != nil || len(got) != len(want) {
			got, _ = base64.StdEncoding.DecodeString(raw)
		}
		if !hmac.Equal(got, want) {
			return bad(name + " does not match the body")
		}
	}
	return nil
}
