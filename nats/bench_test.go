package nats_test

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/nats"
)

// BenchmarkAppend measures durable appends of one ~600-byte event from many concurrent callers
// (the 128-clients x 1-event load), which group commit turns into few records.
func BenchmarkAppend(b *testing.B) {
	l, err := nats.Open(b.Context(), nats.Options{Dir: b.TempDir(), Partitions: 4}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	event := bytes.Repeat([]byte("x"), 600)
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if err := l.Append(b.Context(), []kenner.LogBatch{{WorkspaceID: "ws", SourceID: "s", Partition: i % 4, Events: [][]byte{event}}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
