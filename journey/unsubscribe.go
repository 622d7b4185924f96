package journey

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
)

// UnsubscribeEvent is the event an unsubscribe link records, with the person's answer for
// the email purpose (context.consent.categoryPreferences.email = false).
const UnsubscribeEvent = "Unsubscribed"

// unsubscribeToken names a person, and the email the link was in, in an unsubscribe link,
// signed so that nobody can make a link for someone else: base64url(JSON) "." signature.
func (r *Runner) unsubscribeToken(ref emailRef) string {
	b, _ := json.Marshal(ref)
	enc := base64.RawURLEncoding.EncodeToString(b)
	return enc + "." + r.cfg.Sign("unsubscribe", enc)
}

// unsubscribeURL is the one-click unsubscribe link (RFC 8058) of an email, "" when the server
// has no public URL to put in it.
func (r *Runner) unsubscribeURL(ref emailRef) string {
	if r.cfg.PublicURL == "" || r.cfg.Sign == nil {
		return ""
	}
	return strings.TrimSuffix(r.cfg.PublicURL, "/") + "/v1/unsubscribe?" + url.Values{"t": {r.unsubscribeToken(ref)}}.Encode()
}

// Unsubscribe records the answer of the person a link names: no to the email purpose, as an
// event from the journeys source, so the profile's consent shows it with its provenance and
// every later email to them is skipped; the journey step whose email it was counts it. It is
// idempotent in effect.
func (r *Runner) Unsubscribe(ctx context.Context, token string) error {
	bad := kenner.Errorf(kenner.EInvalid, "this unsubscribe link is not valid")
	enc, sig, ok := strings.Cut(token, ".")
	if !ok || r.cfg.Sign == nil || !hmac.Equal([]byte(sig), []byte(r.cfg.Sign("unsubscribe", enc))) {
		return bad
	}
	var ref emailRef
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || json.Unmarshal(raw, &ref) != nil || ref.Workspace == "" || ref.Profile == "" {
		return bad
	}
	ws, pid := ref.Workspace, ref.Profile
	p, err := r.store.Profile(ctx, ws, kenner.Identifier{Kind: kenner.KindProfileID, Value: pid})
	if kenner.ErrorCode(err) == kenner.ENotFound {
		return kenner.Errorf(kenner.ENotFound, "this link is for a person Kenner no longer holds: nothing more will be sent to them")
	}
	if err != nil {
		return err
	}
	if r.ingest == nil {
		return fmt.Errorf("unsubscribe: no ingest configured")
	}
	now := r.cfg.Now().UTC()
	msg := map[string]any{"type": kenner.TypeTrack, "event": UnsubscribeEvent, "messageId": fmt.Sprintf("unsub_%s_%d", p.ID, now.UnixMilli()),
		"timestamp": now.Format(time.RFC3339Nano), "properties": map[string]any{"channel": "email"},
		"context": map[string]any{"consent": map[string]any{"categoryPreferences": map[string]bool{EmailPurpose: false}}}}
	for _, id := range p.Identities {
		if id.Kind == kenner.KindUserID && msg["userId"] == nil {
			msg["userId"] = id.Value
		}
	}
	if msg["userId"] == nil {
		for _, id := range p.Identities {
			if id.Kind == kenner.KindAnonymousID && msg["anonymousId"] == nil {
				msg["anonymousId"] = id.Value
			}
		}
	}
	if msg["userId"] == nil && msg["anonymousId"] == nil {
		return kenner.Errorf(kenner.EConflict, "profile %s has no user or anonymous id to record the answer with", p.ID)
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if err := r.ingest.Accept(ctx, &kenner.Source{ID: SourceID, WorkspaceID: ws}, [][]byte{b}); err != nil {
		return err
	}
	if ref.Journey != "" && ref.Key != "" {
		_, err = r.store.AddJourneyReaction(ctx, ws, ref.Journey, ref.Step, pid, ref.Key, "unsubscribed")
	}
	return err
}
