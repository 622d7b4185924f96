// Package forward is the Segment-spec forwarder: events re-sent, as they arrived, to any
// Segment-compatible collector (Segment itself, RudderStack, another Kenner), so Kenner can
// sit in front of an existing stack. Segment entries and exits and profile updates become
// identify calls, the way Segment's own audiences reach destinations: a trait named after
// the segment set to true or false, or the profile's traits.
package forward

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/egress"
)

// Type is the destination type name.
const Type = "segment"

// Config is a forwarder's config: the collector's base URL (https://api.segment.io) and the
// write key of the source there.
type Config struct {
	URL      string          `json:"url"`
	WriteKey string          `json:"write_key"`
	Timeout  kenner.Duration `json:"timeout"`
}

// Factory is the activation.Factory of forwarders that connect only where policy allows.
func Factory(policy egress.Policy) activation.Factory {
	return func(d kenner.Destination) (activation.Sender, error) { return newSender(d, policy) }
}

func newSender(d kenner.Destination, policy egress.Policy) (activation.Sender, error) {
	var c Config
	if len(d.Config) > 0 {
		if err := json.Unmarshal(d.Config, &c); err != nil {
			return nil, activation.Invalid("config: %v", err)
		}
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, activation.Invalid("config.url must be the collector's absolute http or https URL, not %q", c.URL)
	}
	if err := policy.CheckHost(u.Hostname()); err != nil {
		return nil, activation.Invalid("config.url: %s", kenner.ErrorMessage(err))
	}
	if c.WriteKey == "" {
		return nil, activation.Invalid("config.write_key is required")
	}
	if c.Timeout <= 0 {
		c.Timeout = kenner.Duration(10 * time.Second)
	}
	return &sender{cfg: c, endpoint: strings.TrimRight(c.URL, "/") + "/v1/batch",
		client: policy.HTTPClient(time.Duration(c.Timeout), 4)}, nil
}

type sender struct {
	cfg      Config
	endpoint string
	client   *http.Client
}

// Send posts the messages as one /v1/batch call. The collector deduplicates by messageId,
// which is the original event's (or, for changes, the idempotency key).
func (s *sender) Send(ctx context.Context, msgs []activation.Message) []activation.Result {
	batch := make([]json.RawMessage, 0, len(msgs))
	for _, m := range msgs {
		if m.Type == kenner.ChangeProfileDeleted {
			continue // the tracking API has no deletion; Segment's is a separate, authenticated API
		}
		call, err := toCall(m)
		if err != nil {
			return activation.Failed(len(msgs), activation.Result{Err: err, Permanent: true})
		}
		batch = append(batch, call)
	}
	if len(batch) == 0 {
		return make([]activation.Result, len(msgs))
	}
	body, _ := json.Marshal(map[string]any{"batch": batch, "sentAt": time.Now().UTC().Format(time.RFC3339Nano)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return activation.Failed(len(msgs), activation.Result{Err: err, Permanent: true})
	}
	req.SetBasicAuth(s.cfg.WriteKey, "")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Kenner-Forwarder/1")
	resp, err := s.client.Do(req)
	return activation.Failed(len(msgs), activation.HTTPResult(resp, egress.Generic(err), time.Now()))
}

// toCall turns a delivery payload into a Segment call.
func toCall(m activation.Message) (json.RawMessage, error) {
	var p struct {
		Type    string          `json:"type"`
		Message json.RawMessage `json:"message"`
		At      string          `json:"at"`
		Segment struct {
			ID, Name string
		} `json:"segment"`
		Profile struct {
			ID         string              `json:"id"`
			Traits     map[string]any      `json:"traits"`
			Identities []kenner.Identifier `json:"identities"`
		} `json:"profile"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return nil, err
	}
	if p.Type == kenner.DeliveryEvent {
		var msg map[string]any
		if err := json.Unmarshal(p.Message, &msg); err != nil {
			return nil, err
		}
		delete(msg, "writeKey")
		delete(msg, "seq")
		return json.Marshal(msg)
	}
	call := map[string]any{"type": "identify", "messageId": m.Key, "timestamp": p.At,
		"context": map[string]any{"library": map[string]string{"name": "kenner"}, "kenner": map[string]string{"profile_id": p.Profile.ID, "change": p.Type}}}
	for _, id := range p.Profile.Identities {
		switch id.Kind {
		case "user_id":
			call["userId"] = id.Value
		case "anonymous_id":
			if _, ok := call["anonymousId"]; !ok {
				call["anonymousId"] = id.Value
			}
		}
	}
	if call["userId"] == nil && call["anonymousId"] == nil {
		call["anonymousId"] = p.Profile.ID
	}
	traits := map[string]any{}
	switch p.Type {
	case kenner.ChangeSegmentEntered, kenner.ChangeSegmentExited:
		name := p.Segment.Name
		if name == "" {
			name = p.Segment.ID
		}
		traits[traitName(name)] = p.Type == kenner.ChangeSegmentEntered
	default:
		traits = p.Profile.Traits
	}
	call["traits"] = traits
	return json.Marshal(call)
}

// traitName is a segment's name as a trait key (snake case), as audiences are named there.
func traitName(s string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

func (s *sender) Close() error {
	s.client.CloseIdleConnections()
	return nil
}
