package nats_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/nats"
)

// backends opens a log on each available server: always the embedded one, and the external
// server named by KENNER_TEST_NATS (with a stream and subject of its own, deleted afterwards).
func backends(t *testing.T) map[string]func(t *testing.T, dir string) *nats.Log {
	out := map[string]func(t *testing.T, dir string) *nats.Log{
		"embedded": func(t *testing.T, dir string) *nats.Log {
			return open(t, nats.Options{Dir: dir, Partitions: 3})
		},
	}
	url := os.Getenv("KENNER_TEST_NATS")
	if url == "" {
		t.Log("KENNER_TEST_NATS is not set: the external NATS tests are skipped")
		return out
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "kenner_test_" + hex.EncodeToString(b)
	out["external"] = func(t *testing.T, dir string) *nats.Log {
		l := open(t, nats.Options{URL: url, Stream: name, Subject: name, Partitions: 3})
		t.Cleanup(func() { l.DeleteStream(context.Background()) })
		return l
	}
	return out
}

func open(t *testing.T, o nats.Options) *nats.Log {
	t.Helper()
	l, err := nats.Open(t.Context(), o, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// readAll reads a partition from after until its head.
func readAll(t *testing.T, l *nats.Log, p int, after uint64) []kenner.LogRecord {
	t.Helper()
	heads, err := l.Heads(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if heads[p] <= after {
		return nil
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var out []kenner.LogRecord
	err = l.Read(ctx, p, after, func(ctx context.Context, recs []kenner.LogRecord) error {
		for _, r := range recs {
			r.Events = append([][]byte(nil), r.Events...)
			out = append(out, r)
			if r.Seq >= heads[p] {
				cancel()
			}
		}
		return nil
	})
	if ctx.Err() == context.DeadlineExceeded {
		t.Fatalf("partition %d: read did not reach head %d", p, heads[p])
	}
	_ = err
	return out
}

func TestLog(t *testing.T) {
	for name, openLog := range backends(t) {
		t.Run(name, func(t *testing.T) {
			l := openLog(t, t.TempDir())
			testAppendRead(t, l)
			testConcurrentAppends(t, l)
			testLargeBatchIsChunked(t, l)
		})
	}
}

func testAppendRead(t *testing.T, l *nats.Log) {
	err := l.Append(t.Context(), []kenner.LogBatch{
		{WorkspaceID: "ws", SourceID: "s1", Partition: 0, Events: [][]byte{[]byte(`{"n":1}`), []byte("{\"n\":\n2}")}},
		{WorkspaceID: "ws", SourceID: "s1", Partition: 2, Events: [][]byte{[]byte(`{"n":3}`)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, l, 0, 0)
	if len(recs) != 1 || len(recs[0].Events) != 2 || string(recs[0].Events[1]) != "{\"n\":\n2}" || recs[0].SourceID != "s1" || recs[0].WorkspaceID != "ws" {
		t.Fatalf("partition 0 = %+v", recs)
	}
	if got := readAll(t, l, 2, 0); len(got) != 1 || string(got[0].Events[0]) != `{"n":3}` {
		t.Fatalf("partition 2 = %+v", got)
	}
	// Reading after a record's sequence starts past it.
	if got := readAll(t, l, 0, recs[0].Seq); len(got) != 0 {
		t.Fatalf("read after the last record returned %d records", len(got))
	}
}

// testConcurrentAppends checks that group commit keeps every event, and each caller's events in
// order within their partition.
func testConcurrentAppends(t *testing.T, l *nats.Log) {
	before, _ := l.Heads(t.Context())
	const callers, each = 20, 30
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				ev := []byte(fmt.Sprintf(`{"c":%d,"i":%d}`, c, i))
				if err := l.Append(t.Context(), []kenner.LogBatch{{WorkspaceID: "ws", SourceID: "s", Partition: 1, Events: [][]byte{ev}}}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	next := map[int]int{}
	n := 0
	for _, r := range readAll(t, l, 1, before[1]) {
		for _, e := range r.Events {
			var c, i int
			if _, err := fmt.Sscanf(string(e), `{"c":%d,"i":%d}`, &c, &i); err != nil {
				t.Fatalf("event %s: %v", e, err)
			}
			if i != next[c] {
				t.Fatalf("caller %d: event %d after %d", c, i, next[c]-1)
			}
			next[c]++
			n++
		}
	}
	if n != callers*each {
		t.Errorf("read %d events, want %d", n, callers*each)
	}
}

func testLargeBatchIsChunked(t *testing.T, l *nats.Log) {
	before, _ := l.Heads(t.Context())
	big := bytes.Repeat([]byte("x"), 30<<10)
	var events [][]byte
	for i := range 100 { // 3 MB: more than one record may hold
		events = append(events, []byte(fmt.Sprintf(`{"i":%d,"p":"%s"}`, i, big)))
	}
	if err := l.Append(t.Context(), []kenner.LogBatch{{WorkspaceID: "ws", SourceID: "s", Partition: 0, Events: events}}); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, l, 0, before[0])
	if len(recs) < 4 {
		t.Errorf("3 MB went into %d records; want chunks under 1 MB", len(recs))
	}
	var got int
	for _, r := range recs {
		for _, e := range r.Events {
			if !bytes.HasPrefix(e, []byte(fmt.Sprintf(`{"i":%d,`, got))) {
				t.Fatalf("event %d out of order", got)
			}
			got++
		}
	}
	if got != 100 {
		t.Errorf("read %d events, want 100", got)
	}
}

func TestEmbeddedReopenKeepsRecords(t *testing.T) {
	dir := t.TempDir()
	l, err := nats.Open(t.Context(), nats.Options{Dir: dir, Partitions: 2}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(t.Context(), []kenner.LogBatch{{WorkspaceID: "ws", SourceID: "s", Partition: 1, Events: [][]byte{[]byte(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := nats.Open(t.Context(), nats.Options{Dir: dir, Partitions: 3}, slog.New(slog.DiscardHandler)); kenner.ErrorCode(err) != kenner.EInvalid {
		t.Fatalf("reopening with another partition count: %v, want an invalid error", err)
	}
	l = open(t, nats.Options{Dir: dir, Partitions: 2})
	if got := readAll(t, l, 1, 0); len(got) != 1 {
		t.Errorf("after reopen partition 1 has %d records, want 1", len(got))
	}
}
