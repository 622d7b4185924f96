package kenner

import "context"

// LogBatch is what ingestion appends: events of one source bound for one partition. Events are
// enriched Segment messages, already encoded.
type LogBatch struct {
	WorkspaceID string
	SourceID    string
	Partition   int
	Events      [][]byte
	// Subjects, when set, name the person of each event (its user id, else its anonymous id),
	// whose key encrypts it in the log; without them the log reads them from the events.
	Subjects []Identifier
}

// LogRecord is one batch read back from the log with its sequence number.
type LogRecord struct {
	Seq         uint64
	Partition   int
	WorkspaceID string
	SourceID    string
	Events      [][]byte
}

// Log is the durable, partitioned event log: the source of truth for raw events. Append returns
// only once every batch is durably stored.
type Log interface {
	Partitions() int
	Append(ctx context.Context, batches []LogBatch) error
	// Read calls fn with records of one partition in order, starting after sequence after, and
	// blocks until ctx is done or fn fails. A record fn did not return from is read again on the
	// next call, so consumers keep their position in the store, in the same transaction as
	// their effects.
	Read(ctx context.Context, partition int, after uint64, fn func(ctx context.Context, recs []LogRecord) error) error
	// Heads returns, per partition, the sequence of its newest record (0 when it has none).
	Heads(ctx context.Context) ([]uint64, error)
	Ping(ctx context.Context) error
}
