package main

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"time"

	"github.com/knadh/koanf/v2"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation/email"
	"github.com/kenner-cdp/kenner/egress"
)

// journeyConfig is how journeys send email and tell time.
type journeyConfig struct {
	SMTP     *email.Mailer // nil: no mail server configured
	From     *mail.Address
	Timezone *time.Location
	// PublicURL is where people reach the server, for unsubscribe links.
	PublicURL string
	// Cap is the frequency cap of journeys that set none.
	Cap *kenner.FrequencyCap
}

// loadJourneyConfig reads --smtp-url (smtp://[user:pass@]host[:port] with STARTTLS,
// ?security=none for a relay on a trusted network, smtps:// for TLS from the first byte),
// --email-from and --journey-timezone.
func loadJourneyConfig(k *koanf.Koanf) (journeyConfig, error) {
	var c journeyConfig
	tz := k.String("journey-timezone")
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return c, usageError{fmt.Errorf("journey-timezone: %q is not an IANA time zone (like Europe/Amsterdam)", tz)}
	}
	c.Timezone = loc
	if day, week := k.Int("email-cap-day"), k.Int("email-cap-week"); day > 0 || week > 0 {
		c.Cap = &kenner.FrequencyCap{Day: day, Week: week}
	} else if day < 0 || week < 0 {
		return c, usageError{fmt.Errorf("email-cap-day and email-cap-week: want a number of emails, 0 for no cap")}
	}
	if c.PublicURL = k.String("public-url"); c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return c, usageError{fmt.Errorf("public-url: want the server's address as people reach it, like https://cdp.example.com, not %q", c.PublicURL)}
		}
	}
	raw, from := k.String("smtp-url"), k.String("email-from")
	if raw == "" {
		if from != "" {
			return c, usageError{fmt.Errorf("email-from needs --smtp-url")}
		}
		return c, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") {
		return c, usageError{fmt.Errorf("smtp-url: want smtp://[user:pass@]host:port or smtps://..., not %q", raw)}
	}
	if c.From, err = mail.ParseAddress(from); err != nil {
		return c, usageError{fmt.Errorf("email-from: want the sender's address (\"Shop <news@shop.example>\") with --smtp-url, not %q", from)}
	}
	cfg := map[string]any{"host": u.Hostname(), "from": from, "subject": "-", "text": "-", "security": email.StartTLS}
	if u.Scheme == "smtps" {
		cfg["security"] = email.TLS
	}
	if s := u.Query().Get("security"); s != "" {
		cfg["security"] = s
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return c, usageError{fmt.Errorf("smtp-url: port %q is not a number", p)}
		}
		cfg["port"] = n
	}
	if u.User != nil {
		cfg["username"] = u.User.Username()
		cfg["password"], _ = u.User.Password()
	}
	b, _ := json.Marshal(cfg)
	ec, err := email.ParseConfig(b)
	if err != nil {
		return c, usageError{fmt.Errorf("smtp-url: %v", err)}
	}
	// The mail server is the operator's own, often on the local network: not a destination
	// a user named, so the egress policy's refusals of internal addresses do not apply.
	c.SMTP = email.NewMailer(ec, egress.MustAllow("0.0.0.0/0", "::/0"))
	return c, nil
}
