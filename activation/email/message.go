package email

import (
	"bytes"
	"io"
	"net/mail"
	"net/textproto"
	"regexp"
	"sort"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"
)

// Mail is one email ready to send.
type Mail struct {
	From    *mail.Address
	To      *mail.Address
	ReplyTo *mail.Address
	Subject string
	Text    string
	HTML    string
	// ID makes the Message-ID: the same ID gives the same Message-ID on every attempt.
	ID      string
	Headers map[string]string
	Date    time.Time
}

var idUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// MessageID is the Message-ID header for an id.
func MessageID(id string) string { return "<" + idUnsafe.ReplaceAllString(id, "-") + "@kenner>" }

// Bytes renders the mail in RFC 5322 form with go-message: UTF-8, quoted-printable bodies,
// and multipart/alternative when it has both a text and an HTML body.
func (m Mail) Bytes() ([]byte, error) {
	var h gomail.Header
	h.SetAddressList("From", []*gomail.Address{m.From})
	h.SetAddressList("To", []*gomail.Address{m.To})
	if m.ReplyTo != nil {
		h.SetAddressList("Reply-To", []*gomail.Address{m.ReplyTo})
	}
	h.SetSubject(m.Subject)
	h.SetDate(m.Date)
	h.SetMessageID(strings.Trim(MessageID(m.ID), "<>"))
	keys := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h.SetText(textproto.CanonicalMIMEHeaderKey(k), m.Headers[k])
	}
	var b bytes.Buffer
	part := func(typ string) gomail.InlineHeader {
		var ih gomail.InlineHeader
		ih.SetContentType(typ, map[string]string{"charset": "utf-8"})
		ih.Set("Content-Transfer-Encoding", "quoted-printable")
		return ih
	}
	if m.Text != "" && m.HTML != "" {
		w, err := gomail.CreateInlineWriter(&b, h)
		if err != nil {
			return nil, err
		}
		for _, p := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
			pw, err := w.CreatePart(part(p.typ))
			if err != nil {
				return nil, err
			}
			if _, err := io.WriteString(pw, p.body); err != nil {
				return nil, err
			}
			if err := pw.Close(); err != nil {
				return nil, err
			}
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	typ, body := "text/plain", m.Text
	if m.HTML != "" {
		typ, body = "text/html", m.HTML
	}
	ih := part(typ)
	h.SetContentType(typ, map[string]string{"charset": "utf-8"})
	h.Set("Content-Transfer-Encoding", ih.Get("Content-Transfer-Encoding"))
	w, err := gomail.CreateSingleInlineWriter(&b, h)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(w, body); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
