package email

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/egress"
)

// Profiles finds the person an event is about (kenner.Store does).
type Profiles interface {
	Profile(ctx context.Context, ws string, id kenner.Identifier) (*kenner.Profile, error)
}

// Factory is the activation.Factory of email destinations: SMTP connections go only where
// policy allows, and mail goes only to the email identifiers of the person a delivery is
// about (looked up in profiles for events), never to an address an event merely carries:
// the write key is public, and an email destination must not be a relay for anyone who has it.
func Factory(policy egress.Policy, profiles Profiles) activation.Factory {
	return func(d kenner.Destination) (activation.Sender, error) {
		c, err := ParseConfig(d.Config)
		if err != nil {
			return nil, err
		}
		if err := policy.CheckHost(c.Host); err != nil {
			return nil, activation.Invalid("config.host: %s", kenner.ErrorMessage(err))
		}
		t, err := compile(c)
		if err != nil {
			return nil, err
		}
		from, _ := mail.ParseAddress(c.From)
		s := &sender{mailer: &Mailer{cfg: c, policy: policy}, tpl: t, from: from, ws: d.WorkspaceID, profiles: profiles}
		if c.ReplyTo != "" {
			s.replyTo, _ = mail.ParseAddress(c.ReplyTo)
		}
		return s, nil
	}
}

type sender struct {
	mailer   *Mailer
	tpl      *templates
	from     *mail.Address
	replyTo  *mail.Address
	ws       string
	profiles Profiles
}

func (s *sender) Close() error { return nil }

// Send renders each message and sends the ones with a recipient over one SMTP connection.
// A message about someone without an email address is delivered as skipped: it will not get
// one by retrying.
func (s *sender) Send(ctx context.Context, msgs []activation.Message) []activation.Result {
	results := make([]activation.Result, len(msgs))
	var mails []Mail
	var idx []int
	for i, m := range msgs {
		ml, skip, err := s.compose(ctx, m)
		var retry *retryable
		switch {
		case errors.As(err, &retry):
			results[i] = activation.Result{Err: err}
		case err != nil:
			results[i] = activation.Result{Err: err, Permanent: true}
		case skip != "":
			results[i] = activation.Result{Response: skip}
		default:
			mails = append(mails, ml)
			idx = append(idx, i)
		}
	}
	if len(mails) == 0 {
		return results
	}
	for j, r := range s.mailer.Send(ctx, mails) {
		results[idx[j]] = r
	}
	return results
}

// retryable is a compose error that may pass: the person is not known yet.
type retryable struct{ error }

func (s *sender) compose(ctx context.Context, m activation.Message) (Mail, string, error) {
	var data map[string]any
	if err := json.Unmarshal(m.Payload, &data); err != nil {
		return Mail{}, "", fmt.Errorf("payload: %w", err)
	}
	emails, err := s.personEmails(ctx, data)
	if err != nil {
		return Mail{}, "", err
	}
	if len(emails) == 0 {
		return Mail{}, "skipped: the person has no email identifier", nil
	}
	to := emails[0]
	if s.tpl.to != nil {
		v, err := render(s.tpl.to, data)
		if err != nil {
			return Mail{}, "", fmt.Errorf("to: %w", err)
		}
		to = v
	}
	if to, _ = oneLine("to", to); to == "" {
		return Mail{}, "skipped: no recipient address", nil
	}
	addr, err := mail.ParseAddress(to)
	if err != nil {
		return Mail{}, "", fmt.Errorf("recipient %q: %w", to, err)
	}
	if !slices.Contains(emails, strings.ToLower(addr.Address)) {
		return Mail{}, "skipped: the recipient is not one of the person's email identifiers", nil
	}
	subject, err := render(s.tpl.subject, data)
	if err == nil {
		subject, err = oneLine("subject", subject)
	}
	if err != nil {
		return Mail{}, "", fmt.Errorf("subject: %w", err)
	}
	ml := Mail{From: s.from, To: addr, ReplyTo: s.replyTo, Subject: subject, ID: m.Key, Headers: s.mailer.cfg.Headers, Date: time.Now()}
	if s.tpl.text != nil {
		if ml.Text, err = render(s.tpl.text, data); err != nil {
			return Mail{}, "", fmt.Errorf("text: %w", err)
		}
	}
	if s.tpl.html != nil {
		if ml.HTML, err = render(s.tpl.html, data); err != nil {
			return Mail{}, "", fmt.Errorf("html: %w", err)
		}
	}
	return ml, "", nil
}

// personEmails are the email identifiers of the person a payload is about: the profile's in
// a change, the profile of the event's user id (else anonymous id) for an event.
func (s *sender) personEmails(ctx context.Context, data map[string]any) ([]string, error) {
	if _, ok := data["profile"].(map[string]any); ok {
		return identityEmails(data), nil
	}
	if s.profiles == nil {
		return nil, nil
	}
	for _, id := range []kenner.Identifier{{Kind: kenner.KindUserID, Value: str(data, "message", "userId")}, {Kind: kenner.KindAnonymousID, Value: str(data, "message", "anonymousId")}} {
		if id.Value == "" {
			continue
		}
		p, err := s.profiles.Profile(ctx, s.ws, id)
		if kenner.ErrorCode(err) == kenner.ENotFound {
			continue
		}
		if err != nil {
			return nil, &retryable{err}
		}
		var out []string
		for _, i := range p.Identities {
			if i.Kind == kenner.KindEmail {
				out = append(out, strings.ToLower(i.Value))
			}
		}
		return out, nil
	}
	// The processor may not have applied the event yet: try again later.
	return nil, &retryable{errors.New("the person this event is about is not known yet")}
}

// Mailer sends mails to one SMTP server.
type Mailer struct {
	cfg    Config
	policy egress.Policy
}

// NewMailer returns a Mailer for a checked config (ParseConfig) that connects only where
// policy allows.
func NewMailer(c Config, policy egress.Policy) *Mailer { return &Mailer{cfg: c, policy: policy} }

// Send delivers mails over one connection and returns one Result per mail: a 5xx answer to
// one mail is permanent for that mail only; 4xx answers and connection failures are retried.
func (m *Mailer) Send(ctx context.Context, mails []Mail) []activation.Result {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(m.cfg.Timeout))
	defer cancel()
	c, err := m.dial(ctx)
	if err != nil {
		// Not the mails' fault (a refused login, no STARTTLS): retried, so that fixing the
		// config sends them.
		r := smtpResult(err)
		r.Permanent = false
		return activation.Failed(len(mails), r)
	}
	defer c.Close()
	results := make([]activation.Result, len(mails))
	for i, ml := range mails {
		if ctx.Err() != nil {
			results[i] = activation.Result{Err: ctx.Err()}
			continue
		}
		results[i] = m.sendOne(c, ml)
		if results[i].Err != nil {
			var se *smtp.SMTPError
			if !errors.As(results[i].Err, &se) {
				// The connection is broken: the rest are retried later.
				for j := i + 1; j < len(mails); j++ {
					results[j] = activation.Result{Err: fmt.Errorf("not sent: %w", results[i].Err)}
				}
				return results
			}
			if c.Reset() != nil {
				for j := i + 1; j < len(mails); j++ {
					results[j] = activation.Result{Err: errors.New("not sent: the server refused RSET")}
				}
				return results
			}
		}
	}
	c.Quit()
	return results
}

func (m *Mailer) sendOne(c *smtp.Client, ml Mail) activation.Result {
	body, err := ml.Bytes()
	if err != nil {
		return activation.Result{Err: err, Permanent: true}
	}
	if err := c.Mail(ml.From.Address, nil); err != nil {
		return smtpResult(err)
	}
	if err := c.Rcpt(ml.To.Address, nil); err != nil {
		return smtpResult(err)
	}
	w, err := c.Data()
	if err != nil {
		return smtpResult(err)
	}
	if _, err := w.Write(body); err != nil {
		return smtpResult(err)
	}
	if err := w.Close(); err != nil {
		return smtpResult(err)
	}
	return activation.Result{Status: 250, Response: "250 accepted for " + ml.To.Address}
}

// dial connects, greets, secures and logs in, with emersion's go-smtp client.
func (m *Mailer) dial(ctx context.Context) (*smtp.Client, error) {
	var conn net.Conn
	var err error
	d := m.policy.Dialer(10 * time.Second)
	if m.cfg.Security == TLS {
		conn, err = (&tls.Dialer{NetDialer: d, Config: m.cfg.tlsConfig()}).DialContext(ctx, "tcp", m.cfg.addr())
	} else {
		conn, err = d.DialContext(ctx, "tcp", m.cfg.addr())
	}
	if err != nil {
		return nil, egress.Generic(err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	var c *smtp.Client
	if m.cfg.Security == StartTLS {
		// go-smtp greets as "localhost" before STARTTLS: the helo setting applies to the
		// other modes.
		if c, err = smtp.NewClientStartTLS(conn, m.cfg.tlsConfig()); err != nil {
			conn.Close()
			if strings.Contains(err.Error(), "doesn't support STARTTLS") {
				return nil, errors.New("the server does not offer STARTTLS (set security to \"tls\", or \"none\" for a trusted relay)")
			}
			return nil, err
		}
	} else {
		c = smtp.NewClient(conn)
		if err := c.Hello(m.cfg.HELO); err != nil {
			c.Close()
			return nil, err
		}
	}
	if m.cfg.Username != "" {
		if _, isTLS := c.TLSConnectionState(); !isTLS && !loopback(m.cfg.Host) {
			c.Close()
			return nil, errors.New("refusing to send the password over an unencrypted connection (use security starttls or tls)")
		}
		if err := c.Auth(sasl.NewPlainClient("", m.cfg.Username, m.cfg.Password)); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// loopback reports whether host names this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// smtpResult maps an SMTP error: 5xx replies are permanent, 4xx and anything else retried.
func smtpResult(err error) activation.Result {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return activation.Result{Status: se.Code, Err: err, Permanent: se.Code >= 500, Response: activation.Excerpt([]byte(se.Error()))}
	}
	return activation.Result{Err: err}
}
