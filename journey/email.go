package journey

import (
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/activation/email"
)

// Mailer sends rendered mails (email.Mailer over SMTP).
type Mailer interface {
	Send(ctx context.Context, mails []email.Mail) []activation.Result
}

// EmailPurpose is the consent purpose journeys' emails need: a person who answered no
// (unsubscribed) gets none.
const EmailPurpose = "email"

// EmailQueue is the destination activation runs for journeys' emails. It is not stored: it
// exists wherever journeys can send email.
func EmailQueue() kenner.Destination {
	return kenner.Destination{ID: EmailDestination, Name: "Journey emails", Type: EmailType, BatchSize: 20, Parallel: 2}
}

// EmailSenders is the activation sender type of the journeys' email queue: each delivery
// is rendered when it is sent, from its journey version's template and the person's
// profile as it is then, to their email identifier, with a Message-ID from the idempotency
// key.
func (r *Runner) EmailSenders() activation.Factory {
	return func(kenner.Destination) (activation.Sender, error) {
		if r.cfg.Mailer == nil {
			return nil, kenner.Errorf(kenner.EInvalid, "journeys cannot send email: no mail server configured (--smtp-url, --email-from)")
		}
		return &emailSender{r: r, mailer: r.cfg.Mailer, from: r.cfg.From}, nil
	}
}

type emailSender struct {
	r      *Runner
	mailer Mailer
	from   *mail.Address
}

func (s *emailSender) Close() error { return nil }

func (s *emailSender) Send(ctx context.Context, msgs []activation.Message) []activation.Result {
	results := make([]activation.Result, len(msgs))
	var mails []email.Mail
	var idx []int
	for i, m := range msgs {
		ml, skip, err := s.compose(ctx, m)
		switch {
		case err != nil:
			results[i] = activation.Result{Err: err, Permanent: kenner.ErrorCode(err) == kenner.EInvalid}
		case skip != "":
			results[i] = activation.Result{Response: "skipped: " + skip}
		default:
			mails = append(mails, ml)
			idx = append(idx, i)
		}
	}
	if len(mails) > 0 {
		for j, res := range s.mailer.Send(ctx, mails) {
			results[idx[j]] = res
		}
	}
	return results
}

func (s *emailSender) compose(ctx context.Context, m activation.Message) (email.Mail, string, error) {
	var pl emailPayload
	if err := json.Unmarshal(m.Payload, &pl); err != nil {
		return email.Mail{}, "", kenner.Errorf(kenner.EInvalid, "payload: %v", err)
	}
	c, err := s.r.version(ctx, pl.Workspace, pl.Journey, pl.Version)
	if kenner.ErrorCode(err) == kenner.ENotFound {
		return email.Mail{}, "the journey was deleted", nil
	}
	if err != nil {
		return email.Mail{}, "", err
	}
	st := c.steps[pl.Step]
	if st == nil || st.tpl == nil {
		return email.Mail{}, "", kenner.Errorf(kenner.EInvalid, "journey %s version %d has no email step %q", pl.Journey, pl.Version, pl.Step)
	}
	p, err := s.r.store.Profile(ctx, pl.Workspace, kenner.Identifier{Kind: kenner.KindProfileID, Value: pl.Profile})
	if kenner.ErrorCode(err) == kenner.ENotFound {
		return email.Mail{}, "the person is gone", nil
	}
	if err != nil {
		return email.Mail{}, "", err
	}
	if cons, ok := p.Consent[EmailPurpose]; ok && !cons.Granted {
		return email.Mail{}, "the person unsubscribed", nil
	}
	if st := emailStatus(p); st == "bounced" || st == "complained" {
		// A hard bounce or a spam complaint the mail service reported (the postmark webhook
		// preset, or any source setting the trait).
		return email.Mail{}, "the address " + st, nil
	}
	to := ""
	for _, id := range p.Identities {
		if id.Kind == kenner.KindEmail {
			to = id.Value
			break
		}
	}
	if to == "" {
		return email.Mail{}, "the person has no email address", nil
	}
	addr, err := mail.ParseAddress(to)
	if err != nil {
		return email.Mail{}, fmt.Sprintf("the person's email %q is not an address", to), nil
	}
	return s.r.mail(ctx, c, st, p, addr, m.Key)
}

// mail renders a step's email for a person.
func (r *Runner) mail(ctx context.Context, c *compiled, st *step, p *kenner.Profile, to *mail.Address, key string) (email.Mail, string, error) {
	ref := emailRef{Workspace: p.WorkspaceID, Profile: p.ID, Journey: c.id, Step: st.ID, Key: key}
	out, err := st.tpl.Render(r.templateData(ctx, c, p, ref))
	if err != nil {
		return email.Mail{}, "", kenner.Errorf(kenner.EInvalid, "step %q: %v", st.ID, err)
	}
	ml := email.Mail{From: r.cfg.From, To: to, Subject: out.Subject, Text: out.Text, HTML: out.HTML, ID: key, Date: r.cfg.Now(),
		Headers: map[string]string{"X-Kenner-Journey": c.id + "/" + st.ID}}
	unsub := r.unsubscribeURL(ref)
	if t := c.def.Tracking; t != nil && ml.HTML != "" && r.cfg.PublicURL != "" && r.cfg.Sign != nil {
		ml.HTML = r.track(ml.HTML, ref, unsub, t)
	}
	if u := unsub; u != "" {
		// RFC 8058: mail clients show an unsubscribe button that POSTs to the link.
		ml.Headers["List-Unsubscribe"] = "<" + u + ">"
		ml.Headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
	}
	return ml, "", nil
}

// Preview renders an email step of a definition for a person, as it would be sent now.
func (r *Runner) Preview(ctx context.Context, ws string, def kenner.JourneyDefinition, stepID string, p *kenner.Profile) (email.Rendered, error) {
	c, err := r.compile(ctx, ws, "preview", 0, def)
	if err != nil {
		return email.Rendered{}, err
	}
	st := c.steps[stepID]
	if st == nil || st.tpl == nil {
		return email.Rendered{}, kenner.Errorf(kenner.EInvalid, "no email step %q", stepID)
	}
	out, err := st.tpl.Render(r.templateData(ctx, c, p, emailRef{Workspace: ws, Profile: p.ID, Journey: c.id, Step: stepID}))
	if err != nil {
		return out, kenner.Errorf(kenner.EInvalid, "step %q does not render for this person: %v", stepID, err)
	}
	return out, nil
}

// TestSend sends an email step of a definition, rendered for a person, to an address of
// the marketer's choosing, at once (not through the queue, and not counted).
func (r *Runner) TestSend(ctx context.Context, ws string, def kenner.JourneyDefinition, stepID string, p *kenner.Profile, to *mail.Address) error {
	if r.cfg.Mailer == nil {
		return kenner.Errorf(kenner.EInvalid, "no mail server is configured (kenner serve --smtp-url, --email-from)")
	}
	c, err := r.compile(ctx, ws, "test", 0, def)
	if err != nil {
		return err
	}
	st := c.steps[stepID]
	if st == nil || st.tpl == nil {
		return kenner.Errorf(kenner.EInvalid, "no email step %q", stepID)
	}
	ml, _, err := r.mail(ctx, c, st, p, to, kenner.NewID("test"))
	if err != nil {
		return err
	}
	ml.Subject = "[Test] " + ml.Subject
	if res := r.cfg.Mailer.Send(ctx, []email.Mail{ml}); res[0].Err != nil {
		return kenner.Errorf(kenner.EInvalid, "the mail server refused the test: %v", res[0].Err)
	}
	return nil
}

// templateData is what an email template sees of a person: {{ .traits.first_name }},
// {{ .computed.orders }}, {{ .predictions.clv.clv }}, {{ .email }}, {{ .journey.name }}.
func (r *Runner) templateData(ctx context.Context, c *compiled, p *kenner.Profile, ref emailRef) map[string]any {
	traits := map[string]any{}
	for name, t := range p.Traits {
		var v any
		if json.Unmarshal(t.Value, &v) == nil {
			traits[name] = v
		}
	}
	segments := make([]string, 0, len(p.Segments))
	for id := range p.Segments {
		segments = append(segments, id)
	}
	data := map[string]any{"id": p.ID, "traits": traits, "computed": c.eng.Computed(p, r.cfg.Now()), "segments": segments,
		"journey": map[string]any{"id": c.id, "name": c.name}, "unsubscribe": r.unsubscribeURL(ref)}
	for _, id := range p.Identities {
		if id.Kind == kenner.KindEmail && data["email"] == nil {
			data["email"] = strings.ToLower(id.Value)
		}
	}
	if r.cfg.Scores != nil {
		data["predictions"] = r.cfg.Scores(ctx, p.WorkspaceID, p)
	}
	return data
}

// emailStatus is the person's email_status trait: "bounced" or "complained" stop emails.
func emailStatus(p *kenner.Profile) string {
	var s string
	if t, ok := p.Traits["email_status"]; ok {
		json.Unmarshal(t.Value, &s)
	}
	return s
}
