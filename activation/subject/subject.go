// Package subject is the NATS destination: deliveries published on a subject for in-house
// consumers, on Kenner's own NATS (embedded or external) or on another server. Nats-Msg-Id is
// the idempotency key; when a JetStream stream captures the subject the publish waits for the
// stream's ack, and the stream drops redeliveries itself.
package subject

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
)

// Type is the destination type name.
const Type = "nats"

// Config is a NATS destination's config. Subject may hold {type} (segment.entered, event,
// ...), replaced per message; URL is empty for Kenner's own NATS.
type Config struct {
	Subject string `json:"subject"`
	URL     string `json:"url"`
}

// Factory returns the activation.Factory of NATS destinations; own is Kenner's connection.
func Factory(own *natsgo.Conn) activation.Factory {
	return func(d kenner.Destination) (activation.Sender, error) {
		var c Config
		if len(d.Config) > 0 {
			if err := json.Unmarshal(d.Config, &c); err != nil {
				return nil, activation.Invalid("config: %v", err)
			}
		}
		if c.Subject == "" || strings.ContainsAny(c.Subject, " \t\r\n*>") || strings.HasPrefix(c.Subject, ".") || strings.HasSuffix(c.Subject, ".") {
			return nil, activation.Invalid("config.subject must be a NATS subject without wildcards (it may hold {type}), not %q", c.Subject)
		}
		nc, owned := own, false
		if c.URL != "" {
			var err error
			if nc, err = natsgo.Connect(c.URL, natsgo.Name("kenner-destination"), natsgo.MaxReconnects(-1), natsgo.Timeout(5*time.Second)); err != nil {
				return nil, activation.Invalid("config.url: %v", err)
			}
			owned = true
		}
		if nc == nil {
			return nil, activation.Invalid("config.url is required: Kenner has no NATS connection of its own here")
		}
		js, err := jetstream.New(nc)
		if err != nil {
			return nil, err
		}
		return &sender{cfg: c, nc: nc, js: js, owned: owned, streams: map[string]capture{}}, nil
	}
}

type sender struct {
	cfg   Config
	nc    *natsgo.Conn
	js    jetstream.JetStream
	owned bool

	mu      sync.Mutex
	streams map[string]capture
}

func (s *sender) Send(ctx context.Context, msgs []activation.Message) []activation.Result {
	out := make([]activation.Result, len(msgs))
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for i, m := range msgs {
		msg := natsgo.NewMsg(strings.ReplaceAll(s.cfg.Subject, "{type}", m.Type))
		msg.Data = m.Payload
		msg.Header.Set(natsgo.MsgIdHdr, m.Key)
		msg.Header.Set("Kenner-Type", m.Type)
		var err error
		if s.captured(ctx, msg.Subject) {
			_, err = s.js.PublishMsg(ctx, msg)
		} else if err = s.nc.PublishMsg(msg); err == nil {
			// Core NATS promises no more than that the server got it.
			err = s.nc.FlushWithContext(ctx)
		}
		out[i] = activation.Result{Err: err}
	}
	return out
}

// captured reports whether a JetStream stream stores subj, asking the server at most once a
// minute per subject. A JetStream publish to a subject no stream captures would wait for an
// ack that never comes whenever a plain subscriber listens there.
func (s *sender) captured(ctx context.Context, subj string) bool {
	s.mu.Lock()
	c, ok := s.streams[subj]
	s.mu.Unlock()
	if ok && time.Since(c.at) < time.Minute {
		return c.yes
	}
	_, err := s.js.StreamNameBySubject(ctx, subj)
	yes := err == nil
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return ok && c.yes // could not ask: keep the last answer
	}
	s.mu.Lock()
	s.streams[subj] = capture{yes: yes, at: time.Now()}
	s.mu.Unlock()
	return yes
}

type capture struct {
	yes bool
	at  time.Time
}

func (s *sender) Close() error {
	if s.owned {
		s.nc.Close()
	}
	return nil
}
