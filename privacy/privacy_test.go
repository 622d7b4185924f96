package privacy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/privacy"
	"github.com/kenner-cdp/kenner/sqlite"
)

// memLog keeps appended records in memory, to look at exactly what the sealed log writes.
type memLog struct {
	mu   sync.Mutex
	recs []kenner.LogRecord
}

func (m *memLog) Partitions() int { return 1 }
func (m *memLog) Append(_ context.Context, bs []kenner.LogBatch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range bs {
		m.recs = append(m.recs, kenner.LogRecord{Seq: uint64(len(m.recs) + 1), WorkspaceID: b.WorkspaceID, SourceID: b.SourceID, Events: b.Events})
	}
	return nil
}
func (m *memLog) Read(ctx context.Context, _ int, after uint64, fn func(context.Context, []kenner.LogRecord) error) error {
	m.mu.Lock()
	var out []kenner.LogRecord
	for _, r := range m.recs[after:] {
		r.Events = append([][]byte(nil), r.Events...)
		out = append(out, r)
	}
	m.mu.Unlock()
	return fn(ctx, out)
}
func (m *memLog) Heads(context.Context) ([]uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return []uint64{uint64(len(m.recs))}, nil
}
func (m *memLog) Ping(context.Context) error { return nil }

func setup(t *testing.T) (*sqlite.Store, *privacy.Keys, *privacy.Suppressor, *memLog, *privacy.SealedLog) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	keys := privacy.NewKeys(store, []byte("0123456789abcdef0123456789abcdef"))
	supp := privacy.NewSuppressor(store, keys, slog.New(slog.NewTextHandler(io.Discard, nil)))
	mem := &memLog{}
	return store, keys, supp, mem, privacy.NewSealedLog(mem, keys, supp, nil)
}

func read(t *testing.T, l kenner.Log) [][]byte {
	var out [][]byte
	if err := l.Read(t.Context(), 0, 0, func(_ context.Context, recs []kenner.LogRecord) error {
		for _, r := range recs {
			out = append(out, r.Events...)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSealShredSuppress(t *testing.T) {
	store, keys, supp, mem, sealed := setup(t)
	ctx := t.Context()
	amy := []byte(`{"type":"identify","userId":"amy","traits":{"email":"amy@example.com"},"messageId":"1"}`)
	anon := []byte(`{"type":"page","anonymousId":"dev-1","messageId":"2"}`)
	bob := []byte(`{"type":"track","userId":"bob","event":"E","messageId":"3"}`)
	if err := sealed.Append(ctx, []kenner.LogBatch{{WorkspaceID: "ws", Events: [][]byte{amy, anon, bob}}}); err != nil {
		t.Fatal(err)
	}
	for i, e := range mem.recs[0].Events {
		if bytes.Contains(e, []byte("amy")) || bytes.Contains(e, []byte("dev-1")) || bytes.Contains(e, []byte("bob")) || e[0] == '{' {
			t.Errorf("event %d is in plain text in the log: %q", i, e)
		}
	}
	if got := read(t, sealed); !bytes.Equal(got[0], amy) || !bytes.Equal(got[1], anon) || !bytes.Equal(got[2], bob) {
		t.Fatalf("read back %q", got)
	}

	// Erase amy: her key goes, she is suppressed. Her event reads empty, in its place.
	subject := keys.Subject("ws", "user_id", "amy")
	if _, err := store.Erase(ctx, "ws", kenner.ErasePlan{ProfileIDs: []string{"prf_x"}, SubjectKeys: []string{subject},
		Suppress: []kenner.Suppression{{Kind: "email", Hash: keys.SuppressionHash("ws", "email", "amy@example.com")},
			{Kind: "user_id", Hash: keys.SuppressionHash("ws", "user_id", "amy")}}}); err != nil {
		t.Fatal(err)
	}
	keys.Forget("ws", []string{subject})
	if err := supp.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	got := read(t, sealed)
	if len(got) != 3 || len(got[0]) != 0 || !bytes.Equal(got[2], bob) {
		t.Errorf("after erasure read %q: want amy's event empty, the others intact", got)
	}
	// A fresh reader (another node, no cache) cannot read it either.
	other := privacy.NewSealedLog(mem, privacy.NewKeys(store, []byte("0123456789abcdef0123456789abcdef")), nil, nil)
	if got := read(t, other); len(got[0]) != 0 || !bytes.Equal(got[1], anon) {
		t.Errorf("fresh reader: %q", got)
	}

	// New events with her email (any case, new device) go on without it: the device may be
	// someone else's. An event with only her user id is dropped: it can only be hers.
	if err := sealed.Append(ctx, []kenner.LogBatch{{WorkspaceID: "ws", Events: [][]byte{
		[]byte(`{"type":"identify","anonymousId":"dev-9","traits":{"email":" AMY@example.com","plan":"pro"},"messageId":"4"}`),
		[]byte(`{"type":"track","anonymousId":"dev-9","context":{"traits":{"email":"amy@example.com"}},"event":"E","messageId":"5"}`),
		[]byte(`{"type":"track","userId":"amy","event":"E","messageId":"6"}`),
	}}}); err != nil {
		t.Fatal(err)
	}
	if len(mem.recs) != 2 || len(mem.recs[1].Events) != 2 {
		t.Fatalf("want one new record of the two events that keep an identifier, got %d records", len(mem.recs))
	}
	got = read(t, sealed)
	if len(got) != 5 || bytes.Contains(bytes.ToLower(got[3]), []byte("amy")) || bytes.Contains(got[4], []byte("amy")) ||
		!bytes.Contains(got[3], []byte(`"plan":"pro"`)) || !bytes.Contains(got[4], []byte(`"anonymousId":"dev-9"`)) {
		t.Errorf("events after her erasure: %q; want them without her email, the rest intact", got[3:])
	}
	if !supp.Suppressed("ws", "email", "amy@example.com") || supp.Suppressed("other", "email", "amy@example.com") {
		t.Error("suppression must hold in its workspace only")
	}

	// A tampered (or foreign) event is neither garbage nor a stop: it reads as empty, like an
	// erased one, so the partition moves on; the others are intact.
	mem.recs[0].Events[2][len(mem.recs[0].Events[2])-1] ^= 1
	if got := read(t, sealed); len(got) != 5 || len(got[2]) != 0 || !bytes.Equal(got[1], anon) {
		t.Errorf("after tampering read %q: want bob's event empty, the others intact", got)
	}
	// A node with another instance secret would find no keys and read everything as erased:
	// Check refuses it instead.
	if err := keys.Check(ctx); err != nil {
		t.Fatalf("check with the right secret: %v", err)
	}
	if err := privacy.NewKeys(store, []byte("another secret, 32 bytes or more!")).Check(ctx); err == nil {
		t.Error("check with another secret passed")
	}
}

// TestConcurrentKeyCreation: two nodes creating one subject's key at once end up with one key.
func TestConcurrentKeyCreation(t *testing.T) {
	store, _, _, mem, a := setup(t)
	b := privacy.NewSealedLog(mem, privacy.NewKeys(store, []byte("0123456789abcdef0123456789abcdef")), nil, nil)
	ev := []byte(`{"type":"track","userId":"carl","event":"E","messageId":"1"}`)
	done := make(chan error, 2)
	for _, l := range []*privacy.SealedLog{a, b} {
		go func() { done <- l.Append(t.Context(), []kenner.LogBatch{{WorkspaceID: "ws", Events: [][]byte{ev}}}) }()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []*privacy.SealedLog{a, b} {
		for i, e := range read(t, l) {
			if !bytes.Equal(e, ev) {
				t.Errorf("event %d read %q", i, e)
			}
		}
	}
}

// A node reserving keys that another node created finds them (and their events stay
// readable), and switches from creating keys to looking them up until new people come.
func TestReserveModes(t *testing.T) {
	store, _, _, mem, a := setup(t)
	b := privacy.NewSealedLog(mem, privacy.NewKeys(store, []byte("0123456789abcdef0123456789abcdef")), nil, nil)
	people := func(prefix string) []kenner.Identifier {
		var ids []kenner.Identifier
		for i := range 10 {
			ids = append(ids, kenner.Identifier{Kind: "user_id", Value: fmt.Sprintf("%s%d", prefix, i)})
		}
		return ids
	}
	steps := []struct {
		log         *privacy.SealedLog
		subjects    []kenner.Identifier
		wantCreates bool
	}{
		{a, people("new"), true},   // all new: keep creating
		{b, people("new"), false},  // all stored by a: look them up next time
		{b, people("next"), true},  // all missing again: create
		{a, people("next"), false}, // b's keys
	}
	for i, s := range steps {
		if err := s.log.Reserve(t.Context(), "ws", s.subjects); err != nil {
			t.Fatal(err)
		}
		if got := s.log.CreatesKeys(); got != s.wantCreates {
			t.Errorf("step %d: CreatesKeys = %v, want %v", i, got, s.wantCreates)
		}
	}
	ev := []byte(`{"type":"track","userId":"next3","event":"E","messageId":"n3"}`)
	if err := a.Append(t.Context(), []kenner.LogBatch{{WorkspaceID: "ws", Events: [][]byte{ev}}}); err != nil {
		t.Fatal(err)
	}
	got := read(t, b)
	if len(got) != 1 || !bytes.Equal(got[0], ev) {
		t.Errorf("b reads %q, want a's event", got)
	}
}

// Concurrent appends through one node, of people new and shared between them, create each
// person's key once (the creations of waiting appends are committed together) and every
// event reads back.
func TestConcurrentAppendsShareKeyCreation(t *testing.T) {
	_, _, _, _, a := setup(t)
	const appends = 32
	done := make(chan error, appends)
	var want [][]byte
	for i := range appends {
		var evs [][]byte
		for j := range 5 {
			// the first two people are in every append; the others are new to this one
			user := fmt.Sprintf("u-%d-%d", i, j)
			if j < 2 {
				user = fmt.Sprintf("shared-%d", j)
			}
			evs = append(evs, []byte(fmt.Sprintf(`{"type":"track","userId":%q,"event":"E","messageId":"m-%d-%d"}`, user, i, j)))
		}
		want = append(want, evs...)
		go func() { done <- a.Append(t.Context(), []kenner.LogBatch{{WorkspaceID: "ws", Events: evs}}) }()
	}
	for range appends {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]bool{}
	for _, e := range read(t, a) {
		got[string(e)] = true
	}
	for _, e := range want {
		if !got[string(e)] {
			t.Errorf("event %s did not read back", e)
		}
	}
}

// A node that has been creating keys for new people (it skips looking them up) and then meets
// people another node created keeps the other node's keys: both read every event.
func TestCreateFirstKeepsOtherNodesKeys(t *testing.T) {
	store, _, _, mem, a := setup(t)
	b := privacy.NewSealedLog(mem, privacy.NewKeys(store, []byte("0123456789abcdef0123456789abcdef")), nil, nil)
	batch := func(prefix string) []kenner.LogBatch {
		var evs [][]byte
		for i := range 10 {
			evs = append(evs, []byte(fmt.Sprintf(`{"type":"track","userId":"%s%d","event":"E","messageId":"%s-m%d"}`, prefix, i, prefix, i)))
		}
		return []kenner.LogBatch{{WorkspaceID: "ws", Events: evs}}
	}
	// a meets new people twice (the second time it creates without looking); b creates others.
	for _, step := range []struct {
		l      *privacy.SealedLog
		prefix string
	}{{a, "new"}, {a, "newer"}, {b, "theirs"}, {a, "theirs"}} {
		if err := step.l.Append(t.Context(), batch(step.prefix)); err != nil {
			t.Fatal(err)
		}
	}
	for name, l := range map[string]*privacy.SealedLog{"a": a, "b": b} {
		evs := read(t, l)
		if len(evs) != 40 {
			t.Fatalf("%s read %d events, want 40", name, len(evs))
		}
		for i, e := range evs {
			if !bytes.HasPrefix(e, []byte(`{"type":"track"`)) {
				t.Errorf("%s: event %d read %q", name, i, e)
			}
		}
	}
}
