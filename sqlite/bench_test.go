package sqlite_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/sqlite"
	"github.com/kenner-cdp/kenner/storetest"
)

// BenchmarkAppendEvents measures the processor's store write: batches of 100 ~900-byte events,
// as ingestion's benchmark load produces them. Reported per event.
func BenchmarkAppendEvents(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "k.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	pad := strings.Repeat("x", 800)
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	seq := uint64(0)
	for i := 0; i < b.N; i += 100 {
		seq++
		events := make([]kenner.Event, 0, 100)
		for j := range 100 {
			id := fmt.Sprintf("bench-%d-%d", seq, j)
			events = append(events, kenner.Event{WorkspaceID: "ws", SourceID: "src", Seq: seq, Index: j, MessageID: id, Type: "track", Name: "Product Viewed",
				UserID: fmt.Sprintf("user-%d", (int(seq)*7+j)%5000), AnonymousID: fmt.Sprintf("anon-%d", (int(seq)*13+j)%5000),
				Timestamp: now, ReceivedAt: now, Body: []byte(`{"messageId":"` + id + `","p":"` + pad + `"}`)})
		}
		if _, err := storetest.AppendEvents(s, b.Context(), kenner.Position{Consumer: "c", Partition: int(seq % 4), Seq: seq}, events); err != nil {
			b.Fatal(err)
		}
	}
}
