package server_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/inbound"
)

// signFor signs a delivery as the preset's vendor does, with secret.
func signFor(t *testing.T, scheme, header, secret, method, target string, body []byte) http.Header {
	t.Helper()
	mac256 := func(msg []byte) []byte {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(msg)
		return m.Sum(nil)
	}
	now := time.Now()
	switch scheme {
	case inbound.SchemeShopify:
		return http.Header{"X-Shopify-Hmac-Sha256": {base64.StdEncoding.EncodeToString(mac256(body))}}
	case inbound.SchemeStripe:
		if header == "" {
			header = "Stripe-Signature"
		}
		ts := strconv.FormatInt(now.Unix(), 10)
		return http.Header{http.CanonicalHeaderKey(header): {"t=" + ts + ",v1=" + hex.EncodeToString(mac256([]byte(ts+"."+string(body))))}}
	case inbound.SchemeHMAC:
		if header == "" {
			header = "X-Signature"
		}
		return http.Header{http.CanonicalHeaderKey(header): {"sha256=" + base64.StdEncoding.EncodeToString(mac256(body))}}
	case inbound.SchemeSHA1:
		if header == "" {
			header = "X-Hub-Signature"
		}
		m := hmac.New(sha1.New, []byte(secret))
		m.Write(body)
		return http.Header{http.CanonicalHeaderKey(header): {"sha1=" + hex.EncodeToString(m.Sum(nil))}}
	case inbound.SchemeZendesk:
		ts := now.UTC().Format(time.RFC3339)
		return http.Header{"X-Zendesk-Webhook-Signature": {base64.StdEncoding.EncodeToString(mac256([]byte(ts + string(body))))}, "X-Zendesk-Webhook-Signature-Timestamp": {ts}}
	case inbound.SchemeHubSpot:
		ts := strconv.FormatInt(now.UnixMilli(), 10)
		return http.Header{"X-Hubspot-Signature-V3": {base64.StdEncoding.EncodeToString(mac256([]byte(method + target + string(body) + ts)))}, "X-Hubspot-Request-Timestamp": {ts}}
	case inbound.SchemeMandrill:
		form, _ := url.ParseQuery(string(body))
		keys := make([]string, 0, len(form))
		for k := range form {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		msg := target
		for _, k := range keys {
			msg += k + form.Get(k)
		}
		m := hmac.New(sha1.New, []byte(secret))
		m.Write([]byte(msg))
		return http.Header{"X-Mandrill-Signature": {base64.StdEncoding.EncodeToString(m.Sum(nil))}}
	}
	t.Fatalf("no signer for scheme %q", scheme)
	return nil
}

// TestWebhookPresetsSigned: every preset, through the server: its vendor's sample delivery,
// signed as the vendor signs (or with the write key, for vendors that do not sign), is
// accepted as the messages the preset makes; signed with another secret (or sent without the
// key), it gets 401 and nothing is stored.
func TestWebhookPresetsSigned(t *testing.T) {
	s := newStack(t, withStandardization)
	admin := s.tokens[kenner.RoleAdmin]
	stored := 0
	for _, preset := range inbound.Presets() {
		t.Run(preset, func(t *testing.T) {
			src, err := inbound.PresetSource(preset)
			if err != nil {
				t.Fatal(err)
			}
			m, err := inbound.ParseMapping(src)
			if err != nil {
				t.Fatal(err)
			}
			code, created := s.do(t, "POST", "/v1/sources", admin, `{"name":"p-`+preset+`"}`)
			if code != 201 {
				t.Fatalf("source: %d %v", code, created)
			}
			id, key := created["id"].(string), created["write_key"].(string)
			mapping := map[string]any{"preset": preset}
			if m.Verify != nil {
				mapping["verify"] = map[string]any{"secret": "the-secret"}
			}
			b, _ := json.Marshal(mapping)
			if code, out := s.do(t, "PUT", "/v1/sources/"+id+"/webhook", admin, string(b)); code != 200 {
				t.Fatalf("webhook: %d %v", code, out)
			}
			body, h, err := inbound.Sample(preset)
			if err != nil {
				t.Fatal(err)
			}
			compiled, _ := inbound.Compile(kenner.WebhookMapping{Preset: preset})
			want, err := compiled.Messages(id, body, h)
			if err != nil || len(want) == 0 {
				t.Fatalf("the sample maps to %d messages: %v", len(want), err)
			}
			target := s.url + "/v1/webhooks/" + id
			post := func(secret string, withKey bool) (int, map[string]any) {
				u := target
				if withKey {
					u += "?writeKey=" + key
				}
				req, _ := http.NewRequest("POST", u, bytes.NewReader(body))
				for k, v := range h {
					req.Header[k] = v
				}
				if m.Verify != nil {
					for k, v := range signFor(t, m.Verify.Scheme, m.Verify.Header, secret, "POST", target, body) {
						req.Header[k] = v
					}
				}
				return doJSON(t, req)
			}
			// Vendors that do not sign send the write key in the URL.
			unsigned := m.Verify == nil
			if code, out := post("another-secret", false); code != 401 {
				t.Errorf("signed with another secret (or without the write key): %d %v", code, out)
			}
			code, out := post("the-secret", unsigned)
			if code != 200 || out["events"] != float64(len(want)) {
				t.Fatalf("signed sample: %d %v, want %d events", code, out, len(want))
			}
			stored += len(want)
		})
	}
	// What was accepted is stored, and nothing else: the refused deliveries added nothing.
	waitFor(t, func() bool {
		code, out := s.do(t, "GET", "/v1/events?limit=1000", admin, "")
		return code == 200 && len(out["events"].([]any)) == stored
	})
	time.Sleep(200 * time.Millisecond)
	if _, out := s.do(t, "GET", "/v1/events?limit=1000", admin, ""); len(out["events"].([]any)) != stored {
		t.Errorf("%d events stored, want %d", len(out["events"].([]any)), stored)
	}
}
