// Package pebble holds Kenner's hot-path state in a log-structured key-value store
// (cockroachdb/pebble): what the processor reads and rewrites for every event. An LSM tree
// writes sequentially, where a B-tree dirties a random page per index per event; issue 29
// measures the difference (BenchmarkWriteFloor here against the sqlite package's).
package pebble

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// Options sizes the engine. The zero value takes the defaults below.
type Options struct {
	// CacheBytes is the block cache (default 128 MiB): the hot profiles and identities.
	CacheBytes int64
	// MemTableBytes is one memtable (default 32 MiB); two may be in memory at once.
	MemTableBytes uint64
}

// open opens (or creates) the engine in dir. Writes are committed without fsync: the event
// log is the journal, and a reader that restarts replays from the position stored with the
// state it finds.
func open(dir string, o Options, log *slog.Logger) (*pebble.DB, error) {
	if o.CacheBytes <= 0 {
		o.CacheBytes = 128 << 20
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = 32 << 20
	}
	cache := pebble.NewCache(o.CacheBytes)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:                       cache,
		Logger:                      logger{log},
		MemTableSize:                o.MemTableBytes,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		LBaseMaxBytes:               256 << 20,
		CompactionConcurrencyRange:  func() (int, int) { return 1, 2 },
	}
	// Point lookups of keys that mostly do not exist (a new message id, a new device) are
	// answered by the bloom filters without reading a block.
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	opts.EnsureDefaults()
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open pebble at %s: %w", dir, err)
	}
	return db, nil
}
