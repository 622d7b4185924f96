// Package activation delivers events and changes to destinations: a dispatcher turns the event
// log and the store's changes stream into per-destination queues in the store (in the same
// transaction as its read position, so nothing is queued twice or lost), and one worker per
// destination sends them with retries, backoff, a circuit breaker and a rate limit, keeping
// each person's messages in order, until they are delivered or dead-lettered.
package activation

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/egress"
)

// Message is one queued delivery handed to a Sender.
type Message struct {
	ID       int64
	Key      string // idempotency key: the same for every attempt
	OrderKey string
	Type     string
	Payload  json.RawMessage // after the destination's mapping
	Attempt  int             // 1 for the first try
}

// Result is what happened to one message. A nil Err means delivered. Permanent failures are
// not retried (a 400 will be a 400 again); RetryAfter is the receiver's request to wait.
type Result struct {
	Status     int
	Err        error
	Permanent  bool
	RetryAfter time.Duration
	Response   string
}

// Sender talks to one configured destination. Send gets at most the destination's batch size
// of messages, never two of one person, and returns one Result per message.
type Sender interface {
	Send(ctx context.Context, msgs []Message) []Result
	Close() error
}

// Factory builds a Sender for a destination, checking its config: an invalid config is a
// kenner.EInvalid error naming the problem.
type Factory func(d kenner.Destination) (Sender, error)

// Senders are the destination types Kenner knows, by type name.
type Senders map[string]Factory

// Invalid is a config error for Factories to return.
func Invalid(format string, args ...any) error {
	return kenner.Errorf(kenner.EInvalid, format, args...)
}

// Excerpt cuts a receiver's answer to what the delivery log keeps.
func Excerpt(b []byte) string {
	const max = 512
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// Failed is the Result for every message of a request that failed as a whole.
func Failed(n int, r Result) []Result {
	out := make([]Result, n)
	for i := range out {
		out[i] = r
	}
	return out
}

// DecodeConfig reads a destination's config strictly: a misspelt setting is an error, not a
// setting silently left at its default.
func DecodeConfig(raw json.RawMessage, into any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return Invalid("config: %v", err)
	}
	return nil
}

// CheckURL checks the http(s) URL a destination calls, named field in errors, and that policy
// lets it connect there.
func CheckURL(field, raw string, policy egress.Policy) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Invalid("%s must be an absolute http or https URL, not %q", field, raw)
	}
	if err := policy.CheckHost(u.Hostname()); err != nil {
		return Invalid("%s: %s", field, kenner.ErrorMessage(err))
	}
	return nil
}
