// Package webhook is the webhook destination: each delivery is a JSON POST signed with
// HMAC-SHA256 over the timestamp and the body, so receivers can check it came from Kenner
// and is fresh, and carrying an idempotency key so they can drop the duplicates that
// at-least-once delivery allows.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/egress"
	"golang.org/x/net/http/httpguts"
)

// Type is the destination type name.
const Type = "webhook"

// Config is a webhook destination's config.
type Config struct {
	URL     string            `json:"url"`
	Secret  string            `json:"secret"`
	Headers map[string]string `json:"headers"`
	// Timeout bounds one request ("10s" by default).
	Timeout kenner.Duration `json:"timeout"`
}

// Headers Kenner sets on every request.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderTimestamp      = "X-Kenner-Timestamp"
	HeaderSignature      = "X-Kenner-Signature"
	HeaderAttempt        = "X-Kenner-Attempt"
)

// Sign is the signature of a request: hex HMAC-SHA256 with the secret over the timestamp
// (unix seconds, as sent in X-Kenner-Timestamp) followed by the body.
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// ParseConfig reads and checks a config; the URL's host must be one policy allows.
func ParseConfig(raw json.RawMessage, policy egress.Policy) (Config, error) {
	var c Config
	if len(raw) == 0 {
		return c, activation.Invalid("config.url is required")
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, activation.Invalid("config: %v", err)
	}
	if err := activation.CheckURL("config.url", c.URL, policy); err != nil {
		return c, err
	}
	for k, v := range c.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			return c, activation.Invalid("config.headers: %q is not a header name", k)
		}
		if !httpguts.ValidHeaderFieldValue(v) {
			return c, activation.Invalid("config.headers: the value of %s holds a line break or a control character", k)
		}
		switch http.CanonicalHeaderKey(k) {
		case HeaderIdempotencyKey, HeaderTimestamp, HeaderSignature, "Content-Type", "Content-Length":
			return c, activation.Invalid("config.headers: %s is set by Kenner", k)
		}
	}
	if c.Timeout < 0 {
		return c, activation.Invalid("config.timeout must not be negative")
	}
	if c.Timeout == 0 {
		c.Timeout = kenner.Duration(10 * time.Second)
	}
	return c, nil
}

// Factory is the activation.Factory of webhooks that connect only where policy allows.
func Factory(policy egress.Policy) activation.Factory {
	return func(d kenner.Destination) (activation.Sender, error) {
		c, err := ParseConfig(d.Config, policy)
		if err != nil {
			return nil, err
		}
		return &sender{cfg: c, client: policy.HTTPClient(time.Duration(c.Timeout), max(d.Parallel, 4))}, nil
	}
}

type sender struct {
	cfg    Config
	client *http.Client
}

// Send posts one message as its payload, or several as {"batch": [...]} with each item's
// idempotency_key; the request's Idempotency-Key is then that of the batch's contents.
func (s *sender) Send(ctx context.Context, msgs []activation.Message) []activation.Result {
	var body []byte
	key := msgs[0].Key
	if len(msgs) == 1 {
		body = msgs[0].Payload
	} else {
		items := make([]json.RawMessage, len(msgs))
		keys := make([]string, len(msgs))
		for i, m := range msgs {
			items[i] = withKey(m.Payload, m.Key)
			keys[i] = m.Key
		}
		body, _ = json.Marshal(map[string]any{"type": "batch", "batch": items})
		sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
		key = "batch_" + hex.EncodeToString(sum[:16])
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return activation.Failed(len(msgs), activation.Result{Err: err, Permanent: true})
	}
	for k, v := range s.cfg.Headers {
		req.Header.Set(k, v)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Kenner-Webhook/1")
	req.Header.Set(HeaderIdempotencyKey, key)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderAttempt, strconv.Itoa(msgs[0].Attempt))
	if s.cfg.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(s.cfg.Secret, ts, body))
	}
	resp, err := s.client.Do(req)
	return activation.Failed(len(msgs), activation.HTTPResult(resp, egress.Generic(err), time.Now()))
}

// withKey adds "idempotency_key" to a JSON object.
func withKey(payload json.RawMessage, key string) json.RawMessage {
	p := bytes.TrimSpace(payload)
	k, _ := json.Marshal(key)
	if len(p) < 2 || p[0] != '{' {
		out, _ := json.Marshal(map[string]any{"idempotency_key": key, "payload": payload})
		return out
	}
	var b bytes.Buffer
	b.WriteString(`{"idempotency_key":`)
	b.Write(k)
	if rest := bytes.TrimSpace(p[1:]); len(rest) > 0 && rest[0] != '}' {
		b.WriteByte(',')
	}
	b.Write(p[1:])
	return b.Bytes()
}

func (s *sender) Close() error {
	s.client.CloseIdleConnections()
	return nil
}
