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

// unsubscribeToken names a person in an unsubscribe link, signed so that nobody can make a
// link for someone else: base64url(workspace NUL profile) "." signature.
func (r *Runner) unsubscribeToken(ws, pid string) string {
	who := ws + "\x00" + pid
	return base64.RawURLEncoding.EncodeToString([]byte(who)) + "." + r.cfg.Sign("unsubscribe", who)
}

// UnsubscribeURL is the one-click unsubscribe link (RFC 8058) of a person's emails, "" when
// the server has no public URL to put in it.
func (r *Runner) UnsubscribeURL(ws, pid string) string {
	if r.cfg.PublicURL == "" || r.cfg.Sign == nil {
		return ""
	}
	return strings.TrimSuffix(r.cfg.PublicURL, "/") + "/v1/unsubscribe?" + url.Values{"t": {r.unsubscribeToken(ws, pid)}}.Encode()
}

// Unsubscribe records the answer of the person a link names: no to the email purpose, as an
// event from the journeys source, so the profile's consent shows it with its provenance and
// every later email to them is skipped. It is idempotent in effect.
func (r *Runner) Unsubscribe(ctx context.Context, token string) error {
	bad := kenner.Errorf(kenner.EInvalid, "this unsubscribe link is not valid")
	enc, sig, ok := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if !ok || err != nil || r.cfg.Sign == nil {
		return bad
	}
	who := string(raw)
	if !hmac.Equal([]byte(sig), []byte(r.cfg.Sign("unsubscribe", who))) {
		return bad
	}
	ws, pid, _ := strings.Cut(who, "\x00")
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
	return r.ingest.Accept(ctx, &kenner.Source{ID: SourceID, WorkspaceID: ws}, [][]byte{b})
}
