package journey

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
)

// Events that open and click tracking record on the person's profile.
const (
	EmailOpenedEvent  = "Email Opened"
	EmailClickedEvent = "Email Link Clicked"
)

// emailRef names one sent email in a tracking link: whose, from which journey step, and its
// idempotency key.
type emailRef struct {
	Workspace string `json:"w"`
	Profile   string `json:"p"`
	Journey   string `json:"j"`
	Step      string `json:"s"`
	Key       string `json:"k"`
}

func (r *Runner) trackToken(ref emailRef, extra string) string {
	b, _ := json.Marshal(ref)
	enc := base64.RawURLEncoding.EncodeToString(b)
	return enc + "." + r.cfg.Sign("email-tracking", enc+"\x00"+extra)
}

func (r *Runner) readTrackToken(token, extra string) (emailRef, error) {
	var ref emailRef
	bad := kenner.Errorf(kenner.EInvalid, "this link is not valid")
	enc, sig, ok := strings.Cut(token, ".")
	if !ok || r.cfg.Sign == nil || !hmac.Equal([]byte(sig), []byte(r.cfg.Sign("email-tracking", enc+"\x00"+extra))) {
		return ref, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || json.Unmarshal(b, &ref) != nil {
		return ref, bad
	}
	return ref, nil
}

var hrefPattern = regexp.MustCompile(`(?i)(<a\s[^>]*?href\s*=\s*")(https?://[^"]+)(")`)

// track adds what a journey asks for to an email's HTML: every http(s) link through the
// click endpoint, which records the click and redirects (signed, so it is no open redirect;
// the unsubscribe link is left alone), and a pixel for opens.
func (r *Runner) track(html string, ref emailRef, unsubscribe string, t *kenner.EmailTracking) string {
	base := strings.TrimSuffix(r.cfg.PublicURL, "/")
	if t.Clicks {
		html = hrefPattern.ReplaceAllStringFunc(html, func(m string) string {
			parts := hrefPattern.FindStringSubmatch(m)
			target := htmlUnescape(parts[2])
			if unsubscribe != "" && target == unsubscribe {
				return m
			}
			link := base + "/v1/email/click?" + url.Values{"t": {r.trackToken(ref, target)}, "u": {target}}.Encode()
			return parts[1] + strings.ReplaceAll(link, "&", "&amp;") + parts[3]
		})
	}
	if !t.Opens {
		return html
	}
	pixel := `<img src="` + base + `/v1/email/open?t=` + r.trackToken(ref, "open") + `" width="1" height="1" alt="" style="display:none">`
	if i := strings.LastIndex(strings.ToLower(html), "</body>"); i >= 0 {
		return html[:i] + pixel + html[i:]
	}
	return html + pixel
}

func htmlUnescape(s string) string { return strings.ReplaceAll(s, "&amp;", "&") }

// Opened records that the email a pixel names was opened (once per email: its message id
// is derived from the email's key, so reloads and image proxies count once).
func (r *Runner) Opened(ctx context.Context, token string) error {
	ref, err := r.readTrackToken(token, "open")
	if err != nil {
		return err
	}
	if _, err := r.store.AddJourneyReaction(ctx, ref.Workspace, ref.Journey, ref.Step, ref.Profile, ref.Key, "opened"); err != nil {
		return err
	}
	return r.record(ctx, ref, EmailOpenedEvent, "open_"+ref.Key, nil)
}

// Clicked records a click on a tracked link and returns where it goes.
func (r *Runner) Clicked(ctx context.Context, token, target string) (string, error) {
	ref, err := r.readTrackToken(token, target)
	if err != nil {
		return "", err
	}
	if _, err := r.store.AddJourneyReaction(ctx, ref.Workspace, ref.Journey, ref.Step, ref.Profile, ref.Key, "clicked"); err != nil {
		return target, err
	}
	sum := sha256.Sum256([]byte(target))
	// One click per email and link is recorded; the redirect happens every time.
	return target, r.record(ctx, ref, EmailClickedEvent, "click_"+ref.Key+"_"+hex.EncodeToString(sum[:6]), map[string]any{"url": target})
}

// record appends a tracking event of the person an email went to.
func (r *Runner) record(ctx context.Context, ref emailRef, event, messageID string, props map[string]any) error {
	p, err := r.store.Profile(ctx, ref.Workspace, kenner.Identifier{Kind: kenner.KindProfileID, Value: ref.Profile})
	if kenner.ErrorCode(err) == kenner.ENotFound {
		return nil // erased since: nothing to record
	}
	if err != nil {
		return err
	}
	if props == nil {
		props = map[string]any{}
	}
	props["journey_id"], props["step"], props["email_id"] = ref.Journey, ref.Step, ref.Key
	msg := map[string]any{"type": kenner.TypeTrack, "event": event, "messageId": messageID,
		"timestamp": r.cfg.Now().UTC().Format(time.RFC3339Nano), "properties": props}
	for _, kind := range []string{kenner.KindUserID, kenner.KindAnonymousID} {
		for _, id := range p.Identities {
			if id.Kind == kind && msg["userId"] == nil && msg["anonymousId"] == nil {
				msg[map[string]string{kenner.KindUserID: "userId", kenner.KindAnonymousID: "anonymousId"}[kind]] = id.Value
			}
		}
	}
	if msg["userId"] == nil && msg["anonymousId"] == nil {
		return nil
	}
	if r.ingest == nil {
		return fmt.Errorf("email tracking: no ingest configured")
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	return r.ingest.Accept(ctx, &kenner.Source{ID: SourceID, WorkspaceID: ref.Workspace}, [][]byte{b})
}
