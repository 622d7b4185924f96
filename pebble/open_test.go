package pebble

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// TestOpenKeepsWhatWasCommitted: a write committed without fsync is there after a clean
// close and reopen (the engine's own WAL; the event log covers a crash), and the engine's
// messages go to slog, not to standard error.
func TestOpenKeepsWhatWasCommitted(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db, err := open(dir, Options{CacheBytes: 8 << 20, MemTableBytes: 4 << 20}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("p/ws/prf_1"), []byte(`{"plan":"pro"}`), pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = open(dir, Options{}, log); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, closer, err := db.Get([]byte("p/ws/prf_1"))
	if err != nil {
		t.Fatalf("after reopening: %v", err)
	}
	defer closer.Close()
	if string(v) != `{"plan":"pro"}` {
		t.Errorf("after reopening: %q", v)
	}
	if _, _, err := db.Get([]byte("p/ws/prf_2")); err != pebble.ErrNotFound {
		t.Errorf("a key never written: %v", err)
	}
	if !strings.Contains(logs.String(), "pebble: ") {
		t.Errorf("no engine message reached slog: %q", logs.String())
	}
}
