// Package subject is the NATS destination: deliveries published on a subject for in-house
// consumers, on Kenner's own NATS (embedded or external) or on another server. When a
// JetStream stream captures the subject the publish waits for the stream's ack and sets
// Nats-Msg-Id to the idempotency key, so the stream drops redeliveries itself.
package subject

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
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
		return &sender{cfg: c, nc: nc, js: js, owned: owned}, nil
	}
}

type sender struct {
	cfg   Config
	nc    *natsgo.Conn
	js    jetstream.JetStream
	owned bool
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
		_, err := s.js.PublishMsg(ctx, msg)
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, natsgo.ErrNoResponders) {
			// No stream captures the subject: plain publish, flushed so that it reached the
			// server (core NATS promises no more).
			if err = s.nc.PublishMsg(msg); err == nil {
				err = s.nc.FlushWithContext(ctx)
			}
		}
		out[i] = activation.Result{Err: err}
	}
	return out
}

func (s *sender) Close() error {
	if s.owned {
		s.nc.Close()
	}
	return nil
}
