package nats

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/kenner-cdp/kenner"
	"github.com/nats-io/nats.go/jetstream"
)

// maxReadBatch bounds how many records one call of a reader's fn sees, which bounds the size of
// the consumer's transaction.
const maxReadBatch = 256

// readBufferBytes is how much one partition reader may buffer ahead of its consumer. A
// node's readers (the processor's and activation's, one per partition each: 8 at the
// default 4 partitions) share one connection, on which they may have 64 MB undelivered: the
// embedded server allows its clients 128 MB (an external server's default is 64 MB; past
// it the server cuts the readers' connection and they resume from their stored positions).
// 4 MB each was measured: the tracking API under load accepted a quarter less.
const readBufferBytes = 8 << 20

// Read implements kenner.Log with an ordered (ephemeral, flow-controlled) consumer filtered to
// one partition. Batches end when the server reports nothing more pending, so a lone event is
// handed over at once while a backlog is handed over in large batches.
func (l *Log) Read(ctx context.Context, partition int, after uint64, fn func(context.Context, []kenner.LogRecord) error) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{l.subject(partition)}}
	if after > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = after + 1
	}
	cons, err := l.rjs.OrderedConsumer(ctx, l.opts.Stream, cfg)
	if err != nil {
		return fmt.Errorf("read partition %d: %w", partition, err)
	}
	// Bounded by bytes: records hold up to ~1 MB, and a reader that buffers hundreds of them per
	// partition costs hundreds of MB under load. A message-count limit is not used: it also sizes
	// the client's delivery channel, which then overflows ("slow consumer") when the reader
	// falls behind, forcing the ordered consumer to start over.
	it, err := cons.Messages(jetstream.PullMaxBytes(readBufferBytes))
	if err != nil {
		return fmt.Errorf("read partition %d: %w", partition, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()

	batch := make([]kenner.LogRecord, 0, maxReadBatch)
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return ctx.Err()
			}
			return fmt.Errorf("read partition %d: %w", partition, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("read partition %d: %w", partition, err)
		}
		rec := kenner.LogRecord{
			Seq:         meta.Sequence.Stream,
			Partition:   partition,
			WorkspaceID: msg.Headers().Get(headerWorkspace),
			SourceID:    msg.Headers().Get(headerSource),
		}
		if f := msg.Headers().Get(headerFormat); f != formatFrames {
			l.skip(rec.Seq, partition, fmt.Errorf("unknown format %q", f))
		} else if rec.WorkspaceID == "" || rec.SourceID == "" {
			l.skip(rec.Seq, partition, errors.New("no workspace or source"))
		} else if rec.Events, err = decodeFrames(msg.Data()); err != nil {
			rec.Events = nil
			l.skip(rec.Seq, partition, err)
		}
		batch = append(batch, rec)
		if meta.NumPending == 0 || len(batch) == maxReadBatch {
			if err := fn(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
}

// skip passes over a record that Kenner did not write (or that is damaged): it is handed to
// the consumer without events, so that the partition's position moves past it instead of
// stopping there for ever, and it stays in the stream at its sequence, untouched, for an
// operator to inspect (the quarantine of the log). Each is logged and counted.
func (l *Log) skip(seq uint64, partition int, err error) {
	l.skipped.Add(1)
	l.logger.Error("log record Kenner cannot read; skipped (it stays in the stream at its sequence)",
		"seq", seq, "partition", partition, "err", err)
}

// SkippedRecords is how many records readers have skipped since the log was opened.
func (l *Log) SkippedRecords() int64 { return l.skipped.Load() }

// String describes the log for logs and /readyz.
func (l *Log) String() string {
	where := "embedded"
	if l.opts.URL != "" {
		where = l.opts.URL
	}
	return "nats(" + where + ", stream " + l.opts.Stream + ", " + strconv.Itoa(l.opts.Partitions) + " partitions)"
}
