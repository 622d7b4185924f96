package server_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
)

func (s *stack) sourceID(t testing.TB, name string) string {
	t.Helper()
	src, err := s.store.SourceByName(t.Context(), "ws", name)
	if err != nil {
		t.Fatal(err)
	}
	return src.ID
}

func (s *stack) postWebhook(t *testing.T, path string, body []byte, h http.Header) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url+path, bytes.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	return doJSON(t, req)
}

func shopifySign(secret string, body []byte) http.Header {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return http.Header{"X-Shopify-Hmac-Sha256": {base64.StdEncoding.EncodeToString(m.Sum(nil))}, "X-Shopify-Topic": {"orders/create"}}
}

func TestWebhookShopify(t *testing.T) {
	s := newStack(t, withStandardization)
	admin := s.tokens[kenner.RoleAdmin]
	id := s.sourceID(t, "web")

	code, out := s.do(t, "PUT", "/v1/sources/web/webhook", admin, `{"preset": "shopify", "verify": {"secret": "shpss_123"}}`)
	if code != 200 {
		t.Fatalf("PUT webhook: %d %v", code, out)
	}
	v := out["settings"].(map[string]any)["webhook"].(map[string]any)["verify"].(map[string]any)
	if v["secret"] != "(set)" || v["scheme"] != nil && v["scheme"] != "" {
		t.Errorf("verify shown as %v: the secret must not be shown", v)
	}
	code, out = s.do(t, "GET", "/v1/sources/"+id, admin, "")
	if code != 200 || out["name"] != "web" {
		t.Fatalf("GET source: %d %v", code, out)
	}
	if code, _ := s.do(t, "GET", "/v1/sources/web", s.tokens[kenner.RoleMarketer], ""); code != 403 {
		t.Errorf("a marketer read source settings: %d", code)
	}

	body, err := os.ReadFile("../inbound/testdata/shopify_orders_create.json")
	if err != nil {
		t.Fatal(err)
	}
	path := "/v1/webhooks/" + id
	if code, out := s.postWebhook(t, path, body, nil); code != 401 {
		t.Errorf("unsigned payload: %d %v", code, out)
	}
	if code, _ := s.postWebhook(t, path, body, shopifySign("wrong", body)); code != 401 {
		t.Errorf("payload signed with another secret: %d", code)
	}
	if code, _ := s.postWebhook(t, "/v1/webhooks/src_unknown", body, shopifySign("shpss_123", body)); code != 401 {
		t.Errorf("unknown source: %d", code)
	}
	code, out = s.postWebhook(t, path, body, shopifySign("shpss_123", body))
	if code != 200 || out["events"] != 2.0 {
		t.Fatalf("signed payload: %d %v", code, out)
	}
	// Shopify retries a delivery it did not see acknowledged: the same messages again.
	if code, _ := s.postWebhook(t, path, body, shopifySign("shpss_123", body)); code != 200 {
		t.Fatalf("retry: %d", code)
	}

	// The customer's profile: found by the Shopify id and by the standardized email.
	var prof map[string]any
	waitFor(t, func() bool {
		var code int
		code, prof = s.do(t, "GET", "/v1/profiles/email:john@example.com", admin, "")
		return code == 200 && prof["traits"].(map[string]any)["lastName"] != nil
	})
	traits := prof["traits"].(map[string]any)
	if traits["firstName"] != "John" || traits["address"].(map[string]any)["country"] != "US" {
		t.Errorf("traits = %v", traits)
	}
	code, evs := s.do(t, "GET", "/v1/profiles/anonymous_id:shopify:115310627314723954/events", admin, "")
	if code != 200 {
		t.Fatalf("events: %d %v", code, evs)
	}
	var orders []map[string]any
	for _, e := range evs["events"].([]any) {
		if e := e.(map[string]any); e["event"] == "Order Completed" {
			orders = append(orders, e)
		}
	}
	if len(orders) != 1 {
		t.Fatalf("%d Order Completed events after a retry, want 1", len(orders))
	}
	props := orders[0]["properties"].(map[string]any)
	// Shopify sends money as text; standardization makes it a number.
	if props["total"] != 388.0 || props["currency"] != "USD" || len(props["products"].([]any)) != 2 {
		t.Errorf("order properties = %v", props)
	}
}

func TestWebhookCustomMappingAndErrors(t *testing.T) {
	s := newStack(t)
	admin := s.tokens[kenner.RoleAdmin]
	id := s.sourceID(t, "web")
	path := "/v1/webhooks/" + id

	// No mapping yet: with the write key, a clear 404.
	if code, out := s.postWebhook(t, path+"?writeKey="+s.writeKey, []byte(`{}`), nil); code != 404 || !strings.Contains(out["error"].(map[string]any)["message"].(string), "no webhook mapping") {
		t.Errorf("no mapping: %d %v", code, out)
	}

	bad := []struct{ body, want string }{
		{`{"events": [{"type": "identify", "fields": {"email": "$.email"}}]}`, "unknown target"},
		{`{"events": [{"type": "track", "fields": {"userId": "$.id"}}]}`, "needs an event name"},
		{`{"events": [{"type": "identify", "when": "payload.x +", "fields": {"userId": "$.id"}}]}`, "expression"},
		{`{"preset": "paypal"}`, "unknown webhook preset"},
		{`{"events": [], "extra": 1}`, "unknown field"},
	}
	for _, b := range bad {
		code, out := s.do(t, "PUT", "/v1/sources/web/webhook", admin, b.body)
		msg, _ := out["error"].(map[string]any)["message"].(string)
		if code != 400 || !strings.Contains(msg, b.want) {
			t.Errorf("PUT %s: %d %v, want 400 with %q", b.body, code, out, b.want)
		}
	}

	mapping := `{"events": [
		{"name": "ticket", "when": "payload.event == 'ticket.created'", "type": "track", "event": "Ticket Opened",
		 "fields": {"userId": "$.ticket.requester.external_id", "traits.email": "$.ticket.requester.email",
		            "properties.ticket_id": "$.ticket.id", "properties.priority": "=payload.ticket.priority.upperAscii()",
		            "timestamp": "$.ticket.created_at"}}]}`
	if code, out := s.do(t, "PUT", "/v1/sources/web/webhook", admin, mapping); code != 200 {
		t.Fatalf("PUT mapping: %d %v", code, out)
	}
	payload := []byte(`{"event": "ticket.created", "ticket": {"id": 901, "priority": "high", "created_at": "2026-02-03T04:05:06Z",
		"requester": {"external_id": "u-77", "email": "help@example.com"}}}`)
	if code, _ := s.postWebhook(t, path, payload, nil); code != 401 {
		t.Errorf("no write key: %d", code)
	}
	if code, _ := s.postWebhook(t, path+"?writeKey=nope", payload, nil); code != 401 {
		t.Errorf("bad write key: %d", code)
	}
	code, out := s.postWebhook(t, path+"?writeKey="+s.writeKey, payload, nil)
	if code != 200 || out["events"] != 1.0 {
		t.Fatalf("ticket: %d %v", code, out)
	}
	// A payload no mapping event matches is acknowledged and ignored, so the sender stops retrying.
	code, out = s.postWebhook(t, path+"?writeKey="+s.writeKey, []byte(`{"event": "ticket.closed"}`), nil)
	if code != 200 || out["events"] != 0.0 {
		t.Errorf("unmatched payload: %d %v", code, out)
	}
	// A matched payload that makes an invalid message says which mapping event and why.
	code, out = s.postWebhook(t, path+"?writeKey="+s.writeKey, []byte(`{"event": "ticket.created", "ticket": {"id": 1, "priority": "low"}}`), nil)
	if msg, _ := out["error"].(map[string]any)["message"].(string); code != 400 || !strings.Contains(msg, "mapping event ticket") || !strings.Contains(msg, "userId or anonymousId") {
		t.Errorf("invalid message: %d %v", code, out)
	}
	if code, out := s.postWebhook(t, path+"?writeKey="+s.writeKey, []byte(`{"event": `), nil); code != 400 {
		t.Errorf("bad JSON: %d %v", code, out)
	}

	var ev map[string]any
	waitFor(t, func() bool {
		code, out := s.do(t, "GET", "/v1/profiles/user_id:u-77/events", admin, "")
		if code != 200 || len(out["events"].([]any)) == 0 {
			return false
		}
		ev = out["events"].([]any)[0].(map[string]any)
		return true
	})
	if ev["event"] != "Ticket Opened" || ev["properties"].(map[string]any)["priority"] != "HIGH" ||
		ev["properties"].(map[string]any)["ticket_id"] != 901.0 || !strings.HasPrefix(ev["timestamp"].(string), "2026-02-03T04:05:06") {
		t.Errorf("event = %v", ev)
	}

	if code, _ := s.do(t, "DELETE", "/v1/sources/web/webhook", admin, ""); code != 204 {
		t.Errorf("DELETE webhook: %d", code)
	}
	if code, _ := s.postWebhook(t, path+"?writeKey="+s.writeKey, payload, nil); code != 404 {
		t.Errorf("after DELETE: %d", code)
	}
}

func TestWebhookStripe(t *testing.T) {
	s := newStack(t, withStandardization)
	admin := s.tokens[kenner.RoleAdmin]
	if code, out := s.do(t, "PUT", "/v1/sources/web/webhook", admin, `{"preset": "stripe", "verify": {"secret": "whsec_test"}}`); code != 200 {
		t.Fatalf("PUT: %d %v", code, out)
	}
	body, err := os.ReadFile("../inbound/testdata/stripe_charge_customer_jpy.json")
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	m := hmac.New(sha256.New, []byte("whsec_test"))
	m.Write([]byte(ts + "."))
	m.Write(body)
	h := http.Header{"Stripe-Signature": {"t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))}}
	code, out := s.postWebhook(t, "/v1/webhooks/"+s.sourceID(t, "web"), body, h)
	if code != 200 || out["events"] != 2.0 {
		t.Fatalf("charge: %d %v", code, out)
	}
	var prof map[string]any
	waitFor(t, func() bool {
		var code int
		code, prof = s.do(t, "GET", "/v1/profiles/email:hanako.yamada@example.jp", admin, "")
		return code == 200
	})
	traits := prof["traits"].(map[string]any)
	if traits["phone"] != "+81312345678" || traits["name"] != "Hanako Yamada" {
		t.Errorf("standardized traits = %v", traits)
	}
}
