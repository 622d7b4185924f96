// Package subject is the NATS destination: deliveries published on a subject for in-house
// consumers, on Kenner's own NATS (embedded or external) or on another server. Nats-Msg-Id is
// the idempotency key; when a JetStream stream captures the subject the publish waits for the
// stream's ack, and the stream drops redeliveries itself.
//
// A destination's subject is the admin's choice, so it is kept away from what would harm
// Kenner: the server's JetStream and system APIs ($JS., $SYS., ...), reply inboxes and
// Kenner's own subjects are refused, on any server (an external one may be Kenner's own); on
// the embedded server the publish also goes through a user whose permissions deny them.
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

// Options are Kenner's side of NATS destinations.
type Options struct {
	// Publish is the connection destinations without a URL publish on (nil: they need one);
	// it should be a user that may not publish on Kenner's subjects (nats.Log.DestinationConn).
	Publish *natsgo.Conn
	// Lookup asks the server which stream captures a subject (a read-only API call the
	// restricted user may not make); nil: Publish.
	Lookup *natsgo.Conn
	// Prefix, when set, is the only subject space destinations may publish in ("crm." or
	// "out.>"-style prefixes without the wildcard: "out.").
	Prefix string
}

// reserved are the subject prefixes no destination may publish on (compared without case:
// a server is case-sensitive, but a near miss is a mistake or an attack, never intended).
var reserved = []string{"$js.", "$sys.", "$kv.", "$o.", "$srv.", "_inbox.", "kenner."}

// CheckSubject says whether a destination may publish on subj.
func (o Options) CheckSubject(subj string) error {
	if subj == "" || strings.ContainsAny(subj, " \t\r\n*>") || strings.HasPrefix(subj, ".") || strings.HasSuffix(subj, ".") || strings.Contains(subj, "..") {
		return activation.Invalid("config.subject must be a NATS subject without wildcards (it may hold {type}), not %q", subj)
	}
	low := strings.ToLower(subj)
	for _, r := range reserved {
		if strings.HasPrefix(low, r) || low+"." == r {
			return activation.Invalid("config.subject %q is reserved: subjects starting with $JS., $SYS., $KV., $O., $SRV., _INBOX. or kenner. belong to the server and to Kenner", subj)
		}
	}
	if o.Prefix != "" && !strings.HasPrefix(subj, o.Prefix) {
		return activation.Invalid("config.subject must start with %q on this server", o.Prefix)
	}
	return nil
}

// Factory returns the activation.Factory of NATS destinations.
func Factory(opts Options) activation.Factory {
	return func(d kenner.Destination) (activation.Sender, error) {
		var c Config
		if len(d.Config) > 0 {
			if err := json.Unmarshal(d.Config, &c); err != nil {
				return nil, activation.Invalid("config: %v", err)
			}
		}
		if err := opts.CheckSubject(strings.ReplaceAll(c.Subject, "{type}", "type")); err != nil {
			return nil, err
		}
		nc, lookup, owned := opts.Publish, opts.Lookup, false
		if c.URL != "" {
			var err error
			if nc, err = natsgo.Connect(c.URL, natsgo.Name("kenner-destination"), natsgo.MaxReconnects(-1), natsgo.Timeout(5*time.Second)); err != nil {
				return nil, activation.Invalid("config.url: could not connect")
			}
			lookup, owned = nc, true
		}
		if nc == nil {
			return nil, activation.Invalid("config.url is required: Kenner has no NATS connection for destinations here")
		}
		if lookup == nil {
			lookup = nc
		}
		js, err := jetstream.New(nc)
		if err != nil {
			return nil, err
		}
		ljs, err := jetstream.New(lookup)
		if err != nil {
			return nil, err
		}
		return &sender{cfg: c, opts: opts, nc: nc, js: js, lookup: ljs, owned: owned, streams: map[string]capture{}}, nil
	}
}

type sender struct {
	cfg    Config
	opts   Options
	nc     *natsgo.Conn
	js     jetstream.JetStream
	lookup jetstream.JetStream
	owned  bool

	mu      sync.Mutex
	streams map[string]capture
}

func (s *sender) Send(ctx context.Context, msgs []activation.Message) []activation.Result {
	out := make([]activation.Result, len(msgs))
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for i, m := range msgs {
		msg := natsgo.NewMsg(strings.ReplaceAll(s.cfg.Subject, "{type}", m.Type))
		if err := s.opts.CheckSubject(msg.Subject); err != nil {
			out[i] = activation.Result{Err: err, Permanent: true}
			continue
		}
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
	_, err := s.lookup.StreamNameBySubject(ctx, subj)
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
