package email_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/activation/email"
	"github.com/kenner-cdp/kenner/egress"
	"github.com/kenner-cdp/kenner/internal/smtptest"
)

func destination(t *testing.T, cfg map[string]any) kenner.Destination {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return kenner.Destination{ID: "dst_1", Name: "mail", Type: email.Type, Config: b}
}

func hostPort(t *testing.T, addr string) (string, int) {
	host, port, _ := net.SplitHostPort(addr)
	var p int
	fmt.Sscan(port, &p)
	return host, p
}

func TestConfig(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{"host": "smtp.example.com", "from": "Shop <news@shop.example>", "subject": "Hi", "text": "Hello"}
	}
	tests := []struct {
		name string
		edit func(c map[string]any)
		ok   bool
	}{
		{"valid", func(c map[string]any) {}, true},
		{"html only", func(c map[string]any) { delete(c, "text"); c["html"] = "<p>Hi {{.profile.id}}</p>" }, true},
		{"no host", func(c map[string]any) { delete(c, "host") }, false},
		{"host with port", func(c map[string]any) { c["host"] = "smtp.example.com:25" }, false},
		{"bad security", func(c map[string]any) { c["security"] = "ssl" }, false},
		{"bad from", func(c map[string]any) { c["from"] = "not an address" }, false},
		{"no subject", func(c map[string]any) { delete(c, "subject") }, false},
		{"no body", func(c map[string]any) { delete(c, "text") }, false},
		{"bad template", func(c map[string]any) { c["text"] = "Hello {{.profile" }, false},
		{"bad html template", func(c map[string]any) { c["html"] = "{{if}}" }, false},
		{"user without password", func(c map[string]any) { c["username"] = "u" }, false},
		{"reserved header", func(c map[string]any) { c["headers"] = map[string]string{"Bcc": "x@y.z"} }, false},
		{"header injection", func(c map[string]any) { c["headers"] = map[string]string{"X-A": "1\r\nBcc: x@y.z"} }, false},
		{"bad ca", func(c map[string]any) { c["ca_cert"] = "nope" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.edit(c)
			_, err := testFactory(destination(t, c))
			if (err == nil) != tt.ok {
				t.Fatalf("New = %v, want ok %v", err, tt.ok)
			}
			if err != nil && kenner.ErrorCode(err) != kenner.EInvalid {
				t.Errorf("error code %q, want invalid", kenner.ErrorCode(err))
			}
		})
	}
}

// parsed is a received mail's headers and its text and HTML parts.
type parsed struct {
	h          mail.Header
	text, html string
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	p := parsed{h: m.Header}
	mt, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if mt != "multipart/alternative" {
		b, _ := io.ReadAll(qp(m.Header.Get("Content-Transfer-Encoding"), m.Body))
		if mt == "text/html" {
			p.html = string(b)
		} else {
			p.text = string(b)
		}
		return p
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := r.NextPart() // decodes quoted-printable itself
		if err == io.EOF {
			return p
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(part)
		if strings.HasPrefix(part.Header.Get("Content-Type"), "text/html") {
			p.html = string(b)
		} else {
			p.text = string(b)
		}
	}
}

func qp(enc string, r io.Reader) io.Reader {
	if strings.EqualFold(enc, "quoted-printable") {
		return quotedprintable.NewReader(r)
	}
	return r
}

func entered(profileID, emailAddr, firstName string) json.RawMessage {
	p := map[string]any{"type": "segment.entered", "at": "2026-11-24T10:00:00Z",
		"segment": map[string]any{"id": "seg_1", "name": "VIP"},
		"profile": map[string]any{"id": profileID, "traits": map[string]any{}, "identities": []any{}}}
	prof := p["profile"].(map[string]any)
	if emailAddr != "" {
		prof["identities"] = []any{map[string]any{"kind": "email", "value": emailAddr}}
	}
	if firstName != "" {
		prof["traits"] = map[string]any{"first_name": firstName}
	}
	b, _ := json.Marshal(p)
	return b
}

// TestSendOverStartTLS sends templated mails through a server that requires STARTTLS and a
// login, and checks what arrives.
func TestSendOverStartTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TLS: true, User: "kenner", Pass: "s3cret"})
	host, port := hostPort(t, srv.Addr)
	snd, err := testFactory(destination(t, map[string]any{
		"host": host, "port": port, "username": "kenner", "password": "s3cret", "ca_cert": srv.CertPEM,
		"from": "Shop <news@shop.example>", "reply_to": "help@shop.example",
		"subject": "Willkommen bei {{.segment.name}}, {{default \"friend\" .profile.traits.first_name}} ✓",
		"text":    "Hello {{default \"friend\" .profile.traits.first_name}}{{.profile.traits.nickname}}, you joined {{.segment.name}}.",
		"html":    "<p>Hello {{.profile.traits.first_name}} &amp; welcome to <b>{{.segment.name}}</b></p>",
		"headers": map[string]string{"List-Unsubscribe": "<mailto:unsub@shop.example>"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	msgs := []activation.Message{
		{ID: 1, Key: "chg_ws_1", Type: "segment.entered", Payload: entered("prf_1", "amy@example.com", "Amy <3")},
		{ID: 2, Key: "chg_ws_2", Type: "segment.entered", Payload: entered("prf_2", "", "")}, // no address
		{ID: 3, Key: "chg_ws_3", Type: "segment.entered", Payload: entered("prf_3", "bob@example.com", "")},
	}
	res := snd.Send(context.Background(), msgs)
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("message %d: %v", i, r.Err)
		}
	}
	if !strings.HasPrefix(res[1].Response, "skipped") {
		t.Errorf("no address: response %q, want skipped", res[1].Response)
	}
	mails := srv.Mails()
	if len(mails) != 2 {
		t.Fatalf("%d mails arrived, want 2", len(mails))
	}
	amy := parse(t, mails[0].Data)
	if !mails[0].TLS || mails[0].User != "kenner" || mails[0].To[0] != "amy@example.com" || mails[0].From != "news@shop.example" {
		t.Errorf("envelope %+v: want TLS, logged in, amy@example.com from news@shop.example", mails[0])
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(amy.h.Get("Subject"))
	if subject != "Willkommen bei VIP, Amy <3 ✓" {
		t.Errorf("subject %q", subject)
	}
	if amy.text != "Hello Amy <3, you joined VIP." {
		t.Errorf("text %q", amy.text)
	}
	if amy.html != "<p>Hello Amy &lt;3 &amp; welcome to <b>VIP</b></p>" {
		t.Errorf("html %q (the trait must be escaped)", amy.html)
	}
	if got := amy.h.Get("Message-Id"); got != email.MessageID("chg_ws_1") || got != "<chg_ws_1@kenner>" {
		t.Errorf("Message-ID %q", got)
	}
	if amy.h.Get("Reply-To") != "<help@shop.example>" || amy.h.Get("List-Unsubscribe") != "<mailto:unsub@shop.example>" {
		t.Errorf("headers %v", amy.h)
	}
	bob := parse(t, mails[1].Data)
	if bob.text != "Hello friend, you joined VIP." {
		t.Errorf("bob's text %q: want the default for a missing trait", bob.text)
	}
}

// TestFailures: a 5xx for one recipient is permanent for that mail only, a 4xx is retried,
// and a refused login or a server without STARTTLS retries everything.
func TestFailures(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{User: "kenner", Pass: "pw"})
	host, port := hostPort(t, srv.Addr)
	cfg := map[string]any{"host": host, "port": port, "security": "none", "username": "kenner", "password": "pw",
		"from": "news@shop.example", "subject": "Order {{.order}}", "text": "Thanks"}
	snd, err := testFactory(destination(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	ev := func(to, order string) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"type": "segment.entered", "order": order,
			"profile": map[string]any{"id": "p" + order, "identities": []map[string]string{{"kind": "email", "value": to}}}})
		return b
	}
	srv.Fail("gone@example.com", 550)
	srv.Fail("later@example.com", 451)
	msgs := []activation.Message{
		{ID: 1, Key: "a", Payload: ev("gone@example.com", "1")},
		{ID: 2, Key: "b", Payload: ev("later@example.com", "2")},
		{ID: 3, Key: "c", Payload: ev("ok@example.com", "3")},
		{ID: 4, Key: "d", Payload: ev("not an address", "4")},
	}
	res := snd.Send(context.Background(), msgs)
	if res[0].Err == nil || !res[0].Permanent || res[0].Status != 550 {
		t.Errorf("550: %+v, want a permanent failure", res[0])
	}
	if res[1].Err == nil || res[1].Permanent || res[1].Status != 451 {
		t.Errorf("451: %+v, want a retry", res[1])
	}
	if res[2].Err != nil {
		t.Errorf("ok: %v", res[2].Err)
	}
	if res[3].Err == nil || !res[3].Permanent {
		t.Errorf("bad address: %+v, want a permanent failure", res[3])
	}
	if r := snd.Send(context.Background(), msgs[1:2]); r[0].Err != nil {
		t.Errorf("451 retried: %v", r[0].Err)
	}
	if n := len(srv.Mails()); n != 2 {
		t.Errorf("%d mails arrived, want 2", n)
	}

	cfg["password"] = "wrong"
	snd, _ = testFactory(destination(t, cfg))
	if r := snd.Send(context.Background(), msgs[2:3]); r[0].Err == nil || r[0].Permanent {
		t.Errorf("wrong password: %+v, want a retried failure", r[0])
	}
	cfg["password"], cfg["security"] = "pw", "starttls"
	snd, _ = testFactory(destination(t, cfg))
	if r := snd.Send(context.Background(), msgs[2:3]); r[0].Err == nil || !strings.Contains(r[0].Err.Error(), "STARTTLS") {
		t.Errorf("no STARTTLS offered: %+v, want a failure naming STARTTLS", r[0])
	}
}

// TestImplicitTLS connects with TLS from the first byte.
func TestImplicitTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Implicit: true})
	host, port := hostPort(t, srv.Addr)
	snd, err := testFactory(destination(t, map[string]any{"host": host, "port": port, "security": "tls", "ca_cert": srv.CertPEM,
		"from": "news@shop.example", "subject": "Hi", "text": "Hi"}))
	if err != nil {
		t.Fatal(err)
	}
	if r := snd.Send(context.Background(), []activation.Message{{Key: "k", Payload: entered("p", "amy@example.com", "")}}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if m := srv.Mails(); len(m) != 1 || !m[0].TLS {
		t.Errorf("mails %+v: want one over TLS", m)
	}
}

// testFactory makes email senders that may reach the tests' loopback SMTP servers.
var testFactory = email.Factory(egress.MustAllow("127.0.0.0/8"), nil)

// TestTemplateBounds: a template that multiplies its data (loops inside loops over a large
// array from an event) is refused when saved, and one that renders a huge output stops at the
// cap instead of growing the process by tens of MB per delivery.
func TestTemplateBounds(t *testing.T) {
	base := map[string]any{"host": "127.0.0.1", "port": 2525, "security": "none", "from": "news@shop.example", "subject": "Hi"}
	nested := map[string]any{}
	for k, v := range base {
		nested[k] = v
	}
	nested["text"] = `{{range .message.properties.items}}{{range $.message.properties.items}}{{range $.message.properties.items}}x{{end}}{{end}}{{end}}`
	if _, err := testFactory(destination(t, nested)); kenner.ErrorCode(err) != kenner.EInvalid || !strings.Contains(err.Error(), "inside each other") {
		t.Errorf("three nested loops: %v, want refused", err)
	}
	nested["text"] = `{{define "x"}}{{template "x" .}}{{end}}{{template "x" .}}`
	if _, err := testFactory(destination(t, nested)); err == nil {
		t.Error("a recursive template was accepted")
	}

	srv := smtptest.Start(t, smtptest.Options{})
	host, port := hostPort(t, srv.Addr)
	big := map[string]any{}
	for k, v := range base {
		big[k] = v
	}
	big["host"], big["port"] = host, port
	big["text"] = `{{range .items}}{{range $.items}}{{$.pad}}{{end}}{{end}}`
	snd, err := testFactory(destination(t, big))
	if err != nil {
		t.Fatal(err)
	}
	items := make([]int, 3000)
	payload, _ := json.Marshal(map[string]any{"type": "segment.entered", "items": items, "pad": strings.Repeat("p", 100),
		"profile": map[string]any{"id": "p1", "identities": []map[string]string{{"kind": "email", "value": "ann@example.com"}}}})
	r := snd.Send(context.Background(), []activation.Message{{ID: 1, Key: "k", Payload: payload}})[0]
	if r.Err == nil || !r.Permanent || !strings.Contains(r.Err.Error(), "renders to more than") {
		t.Errorf("a 900 MB rendering: %+v, want a permanent failure at the cap", r)
	}
	if len(srv.Mails()) != 0 {
		t.Error("the oversized mail was sent")
	}
}
