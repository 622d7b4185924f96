package server_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
)

// TestWebhookHubSpot: HubSpot's signed batch of contact and deal events becomes the contact's
// profile (found by email and by HubSpot id) with the deal on their timeline; a batch signed
// with another secret gets 401 and stores nothing.
func TestWebhookHubSpot(t *testing.T) {
	s := newStack(t, withStandardization)
	admin := s.tokens[kenner.RoleAdmin]
	id := s.sourceID(t, "web")
	if code, out := s.do(t, "PUT", "/v1/sources/web/webhook", admin, `{"preset": "hubspot", "verify": {"secret": "hs-client-secret"}}`); code != 200 {
		t.Fatalf("PUT webhook: %d %v", code, out)
	}
	body, err := os.ReadFile("../inbound/testdata/hubspot_events.json")
	if err != nil {
		t.Fatal(err)
	}
	url := s.url + "/v1/webhooks/" + id
	post := func(secret string) (int, map[string]any) {
		ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte("POST" + url + string(body) + ts))
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-HubSpot-Signature-v3", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
		req.Header.Set("X-HubSpot-Request-Timestamp", ts)
		return doJSON(t, req)
	}
	if code, out := post("wrong"); code != 401 {
		t.Fatalf("another secret: %d %v", code, out)
	}
	if code, out := post("hs-client-secret"); code != 200 || out["events"] != 7.0 {
		t.Fatalf("signed batch: %d %v", code, out)
	}
	var prof map[string]any
	waitFor(t, func() bool {
		var code int
		code, prof = s.do(t, "GET", "/v1/profiles/email:ada@example.com", admin, "")
		return code == 200 && prof["traits"].(map[string]any)["lifecycle_stage"] != nil
	})
	if tr := prof["traits"].(map[string]any); tr["lifecycle_stage"] != "salesqualifiedlead" {
		t.Errorf("traits %v", tr)
	}
	var events map[string]any
	waitFor(t, func() bool {
		var code int
		code, events = s.do(t, "GET", "/v1/profiles/anonymous_id:hubspot:123/events", admin, "")
		return code == 200 && len(events["events"].([]any)) == 4
	})
	found := false
	for _, e := range events["events"].([]any) {
		if e.(map[string]any)["event"] == "Deal Associated" {
			found = true
		}
	}
	if !found {
		t.Errorf("no Deal Associated on the contact: %v", events)
	}
	// Nothing from the refused batch: the accepted one's 7 messages only.
	if code, all := s.do(t, "GET", "/v1/events?limit=100", admin, ""); code != 200 || len(all["events"].([]any)) != 7 {
		t.Errorf("events stored: %d %v", code, len(all["events"].([]any)))
	}
}

// TestWebhookMailchimp: Mailchimp's form-encoded subscribe and unsubscribe calls, sent with the
// source's write key, make the subscriber's profile and record their email consent.
func TestWebhookMailchimp(t *testing.T) {
	s := newStack(t, withStandardization)
	admin := s.tokens[kenner.RoleAdmin]
	id := s.sourceID(t, "web")
	if code, out := s.do(t, "PUT", "/v1/sources/web/webhook", admin, `{"preset": "mailchimp"}`); code != 200 {
		t.Fatalf("PUT webhook: %d %v", code, out)
	}
	post := func(file, key string) int {
		body, err := os.ReadFile("../inbound/testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", s.url+"/v1/webhooks/"+id+"?writeKey="+key, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		code, _ := doJSON(t, req)
		return code
	}
	// Mailchimp checks the URL with a GET before it saves the webhook.
	if resp, err := http.Get(s.url + "/v1/webhooks/" + id); err != nil || resp.StatusCode != 200 {
		t.Errorf("GET of the webhook URL: %v %v", err, resp)
	}
	if resp, err := http.Get(s.url + "/v1/webhooks/src_nope"); err != nil || resp.StatusCode != 401 {
		t.Errorf("GET of an unknown source's URL: %v %v", err, resp)
	}
	if code := post("mailchimp_subscribe.form", "wrong"); code != 401 {
		t.Errorf("a wrong write key: %d", code)
	}
	if code := post("mailchimp_subscribe.form", s.writeKey); code != 200 {
		t.Fatalf("subscribe: %d", code)
	}
	var prof map[string]any
	waitFor(t, func() bool {
		var code int
		code, prof = s.do(t, "GET", "/v1/profiles/anonymous_id:mailchimp:8a25ff1d98", admin, "")
		return code == 200
	})
	if tr := prof["traits"].(map[string]any); tr["email"] != "api@mailchimp.com" || tr["first_name"] != "Mailchimp" {
		t.Errorf("traits %v", tr)
	}
	waitFor(t, func() bool {
		code, c := s.do(t, "GET", "/v1/profiles/anonymous_id:mailchimp:8a25ff1d98/consent", admin, "")
		e, _ := c["consent"].(map[string]any)["email"].(map[string]any)
		return code == 200 && e["granted"] == true
	})
	if code := post("mailchimp_unsubscribe.form", s.writeKey); code != 200 {
		t.Fatalf("unsubscribe: %d", code)
	}
	waitFor(t, func() bool {
		code, c := s.do(t, "GET", "/v1/profiles/anonymous_id:mailchimp:8a25ff1d98/consent", admin, "")
		e, _ := c["consent"].(map[string]any)["email"].(map[string]any)
		return code == 200 && e["granted"] == false
	})
}

// TestWebhookPreview: a mapping is tried on a payload (a form here) without storing anything;
// a source without a mapping, or a payload the mapping cannot read, is a 400 that says why.
func TestWebhookPreview(t *testing.T) {
	s := newStack(t, withStandardization)
	admin := s.tokens[kenner.RoleAdmin]
	if code, out := s.do(t, "POST", "/v1/sources/web/webhook/preview", admin, `{"payload": {"a": 1}}`); code != 400 || !strings.Contains(fmt.Sprint(out), "no webhook mapping") {
		t.Errorf("no mapping: %d %v", code, out)
	}
	body, _ := os.ReadFile("../inbound/testdata/mailchimp_subscribe.form")
	req, _ := json.Marshal(map[string]any{"mapping": map[string]any{"preset": "mailchimp"}, "payload": string(body), "content_type": "application/x-www-form-urlencoded"})
	code, out := s.do(t, "POST", "/v1/sources/web/webhook/preview", admin, string(req))
	if code != 200 || len(out["messages"].([]any)) != 1 || out["events"].([]any)[0] != "subscriber" {
		t.Fatalf("preview: %d %v", code, out)
	}
	if code, out := s.do(t, "POST", "/v1/sources/web/webhook/preview", admin, `{"mapping": {"preset": "shopify"}, "payload": "not json"}`); code != 400 {
		t.Errorf("an unreadable payload: %d %v", code, out)
	}
	if code, out := s.do(t, "POST", "/v1/sources/web/webhook/preview", s.tokens[kenner.RoleMarketer], `{"payload": {}}`); code != 403 {
		t.Errorf("a marketer: %d %v", code, out)
	}
	if _, all := s.do(t, "GET", "/v1/events", admin, ""); len(all["events"].([]any)) != 0 {
		t.Errorf("a preview stored events: %v", all)
	}
}
