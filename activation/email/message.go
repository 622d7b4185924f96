package email

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"sort"
	"time"
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

// Bytes renders the mail in RFC 5322 form: UTF-8, quoted-printable bodies, and
// multipart/alternative when it has both a text and an HTML body.
func (m Mail) Bytes() ([]byte, error) {
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", m.From.String())
	h("To", m.To.String())
	if m.ReplyTo != nil {
		h("Reply-To", m.ReplyTo.String())
	}
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	h("Date", m.Date.Format(time.RFC1123Z))
	h("Message-ID", MessageID(m.ID))
	h("MIME-Version", "1.0")
	keys := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h(textproto.CanonicalMIMEHeaderKey(k), mime.QEncoding.Encode("utf-8", m.Headers[k]))
	}
	if m.Text != "" && m.HTML != "" {
		mw := multipart.NewWriter(&b)
		var rnd [12]byte
		rand.Read(rnd[:])
		if err := mw.SetBoundary("kenner-" + hex.EncodeToString(rnd[:])); err != nil {
			return nil, err
		}
		h("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
		b.WriteString("\r\n")
		for _, part := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
			w, err := mw.CreatePart(textproto.MIMEHeader{
				"Content-Type":              {part.typ + "; charset=utf-8"},
				"Content-Transfer-Encoding": {"quoted-printable"},
			})
			if err != nil {
				return nil, err
			}
			if err := writeQP(w, part.body); err != nil {
				return nil, err
			}
		}
		if err := mw.Close(); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	typ, body := "text/plain", m.Text
	if m.HTML != "" {
		typ, body = "text/html", m.HTML
	}
	h("Content-Type", typ+"; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	if err := writeQP(&b, body); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeQP(w interface{ Write([]byte) (int, error) }, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(s)); err != nil {
		return err
	}
	return qp.Close()
}
