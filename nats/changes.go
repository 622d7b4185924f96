package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kenner-cdp/kenner"
)

// ChangesOptions name the changes stream. Its subjects are Subject.<workspace>.<type>, e.g.
// kenner.changes.ws_1.segment.entered, so a consumer can filter by workspace and by kind.
type ChangesOptions struct {
	Stream  string        // default "changes"
	Subject string        // default "kenner.changes"
	MaxAge  time.Duration // how long the stream keeps a change; 0 keeps it until space runs out
}

// Changes is the changes stream on the log's server (embedded or external): profile.updated,
// identity decisions, segment.entered/exited and profile.deleted as the store recorded them,
// for consumers outside Kenner (journeys, warehouses, in-house services).
type Changes struct {
	js     jetstream.JetStream
	opts   ChangesOptions
	stream jetstream.Stream
}

// Changes makes sure the changes stream exists and returns it.
func (l *Log) Changes(ctx context.Context, opts ChangesOptions) (*Changes, error) {
	if opts.Stream == "" {
		opts.Stream = "changes"
	}
	if opts.Subject == "" {
		opts.Subject = "kenner.changes"
	}
	cfg := jetstream.StreamConfig{
		Name:      opts.Stream,
		Subjects:  []string{opts.Subject + ".>"},
		Storage:   jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy,
		Replicas:  l.opts.Replicas,
		MaxAge:    opts.MaxAge,
		// A relay that restarts publishes again what it published since it last saved its
		// position (at most a few seconds' worth): the stream drops those copies by message id.
		Duplicates:  2 * time.Minute,
		Discard:     jetstream.DiscardOld,
		Description: "Kenner changes: profile updates, identity decisions, segment entries and exits, deletions",
	}
	s, err := l.js.Stream(ctx, cfg.Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		s, err = l.js.CreateStream(ctx, cfg)
	case err == nil && s.CachedInfo().Config.MaxAge != cfg.MaxAge:
		s, err = l.js.UpdateStream(ctx, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("changes stream %s: %w", cfg.Name, err)
	}
	return &Changes{js: l.js, opts: opts, stream: s}, nil
}

// Subject is where a change of type typ in workspace ws is published. Characters a subject
// token cannot hold become '_' (the message itself has the exact workspace id).
func (c *Changes) Subject(ws, typ string) string {
	ws = strings.Map(func(r rune) rune {
		if r == '.' || r == '*' || r == '>' || r <= ' ' {
			return '_'
		}
		return r
	}, ws)
	if ws == "" {
		ws = "_"
	}
	return c.opts.Subject + "." + ws + "." + typ
}

// PublishChanges publishes cs in order and returns once the stream has stored them all. Each
// message is the change as JSON; its id (Nats-Msg-Id) is the change's sequence and time, so
// a change published twice is stored once.
func (c *Changes) PublishChanges(ctx context.Context, cs []kenner.Change) error {
	futures := make([]jetstream.PubAckFuture, 0, len(cs))
	for _, ch := range cs {
		data, err := json.Marshal(ch)
		if err != nil {
			return fmt.Errorf("publish change %d: %w", ch.Seq, err)
		}
		msg := natsgo.NewMsg(c.Subject(ch.WorkspaceID, ch.Type))
		msg.Data = data
		msg.Header.Set(natsgo.MsgIdHdr, strconv.FormatInt(ch.Seq, 10)+"-"+strconv.FormatInt(ch.At.UnixNano(), 36))
		f, err := c.js.PublishMsgAsync(msg, jetstream.WithExpectStream(c.opts.Stream))
		if err != nil {
			return fmt.Errorf("publish change %d: %w", ch.Seq, err)
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish change %d: %w", cs[i].Seq, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Delete removes the stream; tests use it on a shared server.
func (c *Changes) Delete(ctx context.Context) error { return c.js.DeleteStream(ctx, c.opts.Stream) }
