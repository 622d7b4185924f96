package inbound

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
)

var formHeader = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

// allMessages runs a mapping on a payload and decodes every message, in order.
func allMessages(t *testing.T, m kenner.WebhookMapping, payload []byte, h http.Header) []map[string]any {
	t.Helper()
	c, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Messages("src_1", payload, h)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, msg := range msgs {
		var v map[string]any
		if err := json.Unmarshal(msg.Body, &v); err != nil {
			t.Fatal(err)
		}
		v["_rule"] = msg.Rule
		out = append(out, v)
	}
	return out
}

func externalIDs(msg map[string]any) string {
	ctx, _ := msg["context"].(map[string]any)
	ids, _ := ctx["externalIds"].([]any)
	var out []string
	for _, id := range ids {
		m := id.(map[string]any)
		out = append(out, m["type"].(string)+":"+m["id"].(string))
	}
	return strings.Join(out, ",")
}

func consentOf(msg map[string]any) any {
	ctx, _ := msg["context"].(map[string]any)
	c, _ := ctx["consent"].(map[string]any)
	if c == nil {
		return nil
	}
	return c["categoryPreferences"]
}

func TestFormPayload(t *testing.T) {
	got, err := decodePayload([]byte("type=x&data[merges][EMAIL]=a%40b.c&data[id]=7&list=[1,2]&text={not json"), "application/x-www-form-urlencoded; charset=utf-8")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got)
	if string(b) != `{"data":{"id":"7","merges":{"EMAIL":"a@b.c"}},"list":[1,2],"text":"{not json","type":"x"}` {
		t.Errorf("form payload %s", b)
	}
}

func TestMailchimpPreset(t *testing.T) {
	m := kenner.WebhookMapping{Preset: "mailchimp"}
	sub := allMessages(t, m, read(t, "mailchimp_subscribe.form"), formHeader)
	if len(sub) != 1 {
		t.Fatalf("subscribe made %v", sub)
	}
	id := sub[0]
	traits := id["traits"].(map[string]any)
	if id["type"] != "identify" || id["anonymousId"] != "mailchimp:8a25ff1d98" || id["timestamp"] != "2009-03-26T21:35:57Z" ||
		traits["email"] != "api@mailchimp.com" || traits["first_name"] != "Mailchimp" || traits["last_name"] != "API" || traits["mailchimp_list_id"] != "a6b5da1054" {
		t.Errorf("subscribe: %v", id)
	}
	if externalIDs(id) != "email:api@mailchimp.com,mailchimp_id:8a25ff1d98" || consentOf(id).(map[string]any)["email"] != true {
		t.Errorf("subscribe ids and consent: %v", id["context"])
	}
	un := allMessages(t, m, read(t, "mailchimp_unsubscribe.form"), formHeader)
	if len(un) != 1 || un[0]["event"] != "Unsubscribed" || consentOf(un[0]).(map[string]any)["email"] != false ||
		un[0]["properties"].(map[string]any)["campaign_id"] != "cb398d21d2" || un[0]["properties"].(map[string]any)["reason"] != "manual" {
		t.Errorf("unsubscribe: %v", un)
	}
	up := allMessages(t, m, read(t, "mailchimp_upemail.form"), formHeader)
	if len(up) != 1 || up[0]["traits"].(map[string]any)["email"] != "api+new@mailchimp.com" ||
		externalIDs(up[0]) != "email:api+old@mailchimp.com,email:api+new@mailchimp.com,mailchimp_id:51da8c3259" {
		t.Errorf("upemail: %v", up)
	}
	cl := allMessages(t, m, read(t, "mailchimp_cleaned.form"), formHeader)
	if len(cl) != 1 || cl[0]["event"] != "Email Bounced" || cl[0]["properties"].(map[string]any)["bounce_type"] != "hard" ||
		cl[0]["context"].(map[string]any)["traits"].(map[string]any)["email_status"] != "cleaned" {
		t.Errorf("cleaned: %v", cl)
	}
	if c := allMessages(t, m, read(t, "mailchimp_campaign.form"), formHeader); len(c) != 0 {
		t.Errorf("a campaign notice is about no one: %v", c)
	}
}

// mandrillSign signs a form as Mailchimp Transactional does.
func mandrillSign(key, u string, form url.Values) string {
	s := u
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s += k + form.Get(k)
	}
	m := hmac.New(sha1.New, []byte(key))
	m.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestMailchimpTransactionalPreset(t *testing.T) {
	form := url.Values{"mandrill_events": {string(read(t, "mandrill_events.json"))}}
	body := []byte(form.Encode())
	m := kenner.WebhookMapping{Preset: "mailchimp-transactional", Verify: &kenner.WebhookVerify{Secret: "mandrill-key"}}
	got := allMessages(t, m, body, formHeader)
	if len(got) != 4 {
		t.Fatalf("5 events (one a deferral) made %d messages: %v", len(got), got)
	}
	open, click, bounce, spam := got[0], got[1], got[2], got[3]
	if open["event"] != "Email Opened" || open["userId"] != "111" || open["anonymousId"] != "mandrill:example.webhook@mandrillapp.com" ||
		open["timestamp"] != "2024-02-14T16:49:00Z" || open["properties"].(map[string]any)["email_subject"] != "Your March offer" ||
		externalIDs(open) != "email:Example.Webhook@mandrillapp.com" || consentOf(open) != nil {
		t.Errorf("open: %v", open)
	}
	if click["event"] != "Email Link Clicked" || click["properties"].(map[string]any)["link_url"] != "https://shop.example/march?utm_source=mandrill" {
		t.Errorf("click: %v", click)
	}
	if open["messageId"] == click["messageId"] {
		t.Error("two events of one email share a message id")
	}
	if bounce["event"] != "Email Bounced" || bounce["properties"].(map[string]any)["bounce_type"] != "hard" || bounce["userId"] != nil ||
		bounce["context"].(map[string]any)["traits"].(map[string]any)["email_status"] != "bounced" {
		t.Errorf("bounce: %v", bounce)
	}
	if spam["event"] != "Email Marked as Spam" || consentOf(spam).(map[string]any)["email"] != false {
		t.Errorf("spam: %v", spam)
	}

	c, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	const hook = "https://cdp.example.com/v1/webhooks/src_1"
	sig := mandrillSign("mandrill-key", hook, form)
	if err := c.Verify(body, Request{Method: "POST", URL: hook, Header: http.Header{"X-Mandrill-Signature": {sig}}}, time.Now()); err != nil {
		t.Errorf("a good signature: %v", err)
	}
	for name, req := range map[string]Request{
		"another key":  {Method: "POST", URL: hook, Header: http.Header{"X-Mandrill-Signature": {mandrillSign("other", hook, form)}}},
		"another URL":  {Method: "POST", URL: hook + "x", Header: http.Header{"X-Mandrill-Signature": {sig}}},
		"no signature": {Method: "POST", URL: hook},
		"garbled":      {Method: "POST", URL: hook, Header: http.Header{"X-Mandrill-Signature": {"%%%"}}},
	} {
		if err := c.Verify(body, req, time.Now()); kenner.ErrorCode(err) != kenner.EUnauthorized {
			t.Errorf("%s: %v, want unauthorized", name, err)
		}
	}
	// Behind a proxy, the URL registered with Mailchimp is the one signed.
	m.Verify.URL = hook
	c, _ = Compile(m)
	if err := c.Verify(body, Request{Method: "POST", URL: "http://10.0.0.5:8080/v1/webhooks/src_1", Header: http.Header{"X-Mandrill-Signature": {sig}}}, time.Now()); err != nil {
		t.Errorf("verify.url: %v", err)
	}
}

func TestHubSpotPreset(t *testing.T) {
	body := read(t, "hubspot_events.json")
	m := kenner.WebhookMapping{Preset: "hubspot", Verify: &kenner.WebhookVerify{Secret: "client-secret"}}
	got := allMessages(t, m, body, nil)
	if len(got) != 7 {
		t.Fatalf("7 events made %d messages: %v", len(got), got)
	}
	created, email, stage, deal, won, assoc, deleted := got[0], got[1], got[2], got[3], got[4], got[5], got[6]
	if created["type"] != "identify" || created["anonymousId"] != "hubspot:123" || externalIDs(created) != "hubspot_id:123" || created["timestamp"] != "2024-02-14T16:49:00.123Z" {
		t.Errorf("contact created: %v", created)
	}
	if email["traits"].(map[string]any)["email"] != "ada@example.com" || externalIDs(email) != "hubspot_id:123,email:ada@example.com" {
		t.Errorf("email change: %v", email)
	}
	if tr := stage["traits"].(map[string]any); tr["lifecycle_stage"] != "salesqualifiedlead" || tr["email"] != nil {
		t.Errorf("lifecycle change: %v", stage)
	}
	if deal["event"] != "Deal Created" || deal["anonymousId"] != "hubspot-deal:9876" {
		t.Errorf("deal created: %v", deal)
	}
	if won["event"] != "Deal Stage Changed" || won["properties"].(map[string]any)["stage"] != "closedwon" {
		t.Errorf("deal won: %v", won)
	}
	if assoc["event"] != "Deal Associated" || assoc["anonymousId"] != "hubspot:123" || assoc["properties"].(map[string]any)["deal_id"] != "9876" {
		t.Errorf("association: %v", assoc)
	}
	if deleted["traits"].(map[string]any)["deleted_in_source"] != "true" && deleted["traits"].(map[string]any)["deleted_in_source"] != true {
		t.Errorf("deletion: %v", deleted)
	}
	// The same event in another batch keeps its message id: a retry is a duplicate.
	var events []json.RawMessage
	json.Unmarshal(body, &events)
	again := allMessages(t, m, []byte("["+string(events[2])+"]"), nil)
	if again[0]["messageId"] != stage["messageId"] {
		t.Errorf("a retried event has a new id: %v vs %v", again[0]["messageId"], stage["messageId"])
	}

	c, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	const hook = "https://cdp.example.com/v1/webhooks/src_1"
	now := time.Now()
	sign := func(secret, method, u string, at time.Time) http.Header {
		ts := strconv.FormatInt(at.UnixMilli(), 10)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(method + u + string(body) + ts))
		return http.Header{"X-Hubspot-Signature-V3": {base64.StdEncoding.EncodeToString(mac.Sum(nil))}, "X-Hubspot-Request-Timestamp": {ts}}
	}
	if err := c.Verify(body, Request{Method: "POST", URL: hook, Header: sign("client-secret", "POST", hook, now)}, now); err != nil {
		t.Errorf("a good signature: %v", err)
	}
	for name, h := range map[string]http.Header{
		"another secret": sign("other", "POST", hook, now),
		"another URL":    sign("client-secret", "POST", hook+"?x=1", now),
		"another method": sign("client-secret", "PUT", hook, now),
		"too old":        sign("client-secret", "POST", hook, now.Add(-6*time.Minute)),
		"no signature":   {},
	} {
		if err := c.Verify(body, Request{Method: "POST", URL: hook, Header: h}, now); kenner.ErrorCode(err) != kenner.EUnauthorized {
			t.Errorf("%s: %v, want unauthorized", name, err)
		}
	}
}
