// Package email is the SMTP destination: each delivery becomes an email to the person it is
// about, its subject and bodies (plain text, HTML or both) rendered from templates over the
// delivery's payload. The Message-ID is derived from the idempotency key, so a mail system
// that drops duplicate Message-IDs drops the duplicates at-least-once delivery allows.
// Journeys send their emails through the same Mailer.
package email

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
)

// Type is the destination type name.
const Type = "email"

// Security modes of the connection to the SMTP server.
const (
	StartTLS = "starttls" // plain connection upgraded with STARTTLS, which the server must offer (default)
	TLS      = "tls"      // TLS from the first byte ("SMTPS", usually port 465)
	None     = "none"     // no encryption: only for a relay on a trusted network
)

// Config is an email destination's config.
type Config struct {
	Host     string `json:"host"`
	Port     int    `json:"port"` // default 587, or 465 with security "tls"
	Security string `json:"security"`
	// Username and Password log in with AUTH PLAIN (only over TLS, or to localhost).
	Username string `json:"username"`
	Password string `json:"password"`
	// CACert is a PEM certificate the server's may chain to, for a relay with a private CA.
	CACert string `json:"ca_cert"`
	// HELO is the name Kenner gives in EHLO (default "localhost").
	HELO string `json:"helo"`

	// From is the sender ("Shop <news@shop.example>"); To is a template of the recipient,
	// by default the person's email address.
	From    string `json:"from"`
	To      string `json:"to"`
	ReplyTo string `json:"reply_to"`
	// Subject, Text and HTML are Go templates (text/template; html/template for HTML) over
	// the delivery's payload: {{.profile.traits.first_name}}, {{.segment.name}},
	// {{.message.properties.total}}. At least one of Text and HTML is needed.
	Subject string            `json:"subject"`
	Text    string            `json:"text"`
	HTML    string            `json:"html"`
	Headers map[string]string `json:"headers"`
	// Timeout bounds the whole SMTP conversation of one request ("30s" by default).
	Timeout kenner.Duration `json:"timeout"`
}

// ParseConfig reads and checks a config.
func ParseConfig(raw json.RawMessage) (Config, error) {
	var c Config
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &c); err != nil {
			return c, activation.Invalid("config: %v", err)
		}
	}
	if c.Host == "" || strings.ContainsAny(c.Host, "/: ") {
		return c, activation.Invalid("config.host must be the SMTP server's host name, not %q", c.Host)
	}
	switch c.Security {
	case "":
		c.Security = StartTLS
	case StartTLS, TLS, None:
	default:
		return c, activation.Invalid("config.security must be %q, %q or %q, not %q", StartTLS, TLS, None, c.Security)
	}
	if c.Port == 0 {
		c.Port = 587
		if c.Security == TLS {
			c.Port = 465
		}
	}
	if c.Port < 0 || c.Port > 65535 {
		return c, activation.Invalid("config.port %d is not a port", c.Port)
	}
	if (c.Username == "") != (c.Password == "") {
		return c, activation.Invalid("config needs both username and password, or neither")
	}
	if c.CACert != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(c.CACert)) {
		return c, activation.Invalid("config.ca_cert holds no PEM certificate")
	}
	if c.HELO == "" {
		c.HELO = "localhost"
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return c, activation.Invalid("config.from %q is not an email address: %v", c.From, err)
	}
	if c.ReplyTo != "" {
		if _, err := mail.ParseAddress(c.ReplyTo); err != nil {
			return c, activation.Invalid("config.reply_to %q is not an email address: %v", c.ReplyTo, err)
		}
	}
	if strings.TrimSpace(c.Subject) == "" {
		return c, activation.Invalid("config.subject is required")
	}
	if strings.TrimSpace(c.Text) == "" && strings.TrimSpace(c.HTML) == "" {
		return c, activation.Invalid("config needs a text or an html body (or both)")
	}
	for k, v := range c.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") || strings.ContainsAny(v, "\r\n") {
			return c, activation.Invalid("config.headers: %q is not a header", k)
		}
		switch strings.ToLower(k) {
		case "from", "to", "cc", "bcc", "subject", "reply-to", "date", "message-id", "mime-version", "content-type", "content-transfer-encoding":
			return c, activation.Invalid("config.headers: %s is set by Kenner", k)
		}
	}
	if c.Timeout < 0 {
		return c, activation.Invalid("config.timeout must not be negative")
	}
	if c.Timeout == 0 {
		c.Timeout = kenner.Duration(30 * time.Second)
	}
	return c, nil
}

func (c Config) addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

func (c Config) tlsConfig() *tls.Config {
	t := &tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12}
	if c.CACert != "" {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(c.CACert))
		t.RootCAs = pool
	}
	return t
}
