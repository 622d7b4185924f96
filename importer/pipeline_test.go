package importer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/importer"
	"github.com/kenner-cdp/kenner/ingest"
)

// reserveSink wraps a sink to see the key stage from outside: which prepared chunks were
// reserved in which call, and whether any chunk was appended before its keys were.
type reserveSink struct {
	importer.Sink

	mu         sync.Mutex
	prepares   int
	preparedN  chan struct{} // closed when Prepare has been called holdUntil times
	holdUntil  int
	calls      [][]*ingest.Prepared
	reserved   map[*ingest.Prepared]bool
	appended   int
	unreserved int
	failCall   int // the call (1-based) that fails; 0: none
	bulk       bool
}

func (s *reserveSink) ReservesInBulk() bool { return s.bulk }

func (s *reserveSink) Prepare(src *kenner.Source, raws [][]byte) *ingest.Prepared {
	p := s.Sink.Prepare(src, raws)
	s.mu.Lock()
	s.prepares++
	if s.prepares == s.holdUntil {
		close(s.preparedN)
	}
	s.mu.Unlock()
	return p
}

func (s *reserveSink) Reserve(ctx context.Context, ps ...*ingest.Prepared) error {
	s.mu.Lock()
	s.calls = append(s.calls, ps)
	call := len(s.calls)
	for _, p := range ps {
		s.reserved[p] = true
	}
	s.mu.Unlock()
	if call == 1 {
		// The first call waits until the prepare stage has started the sixth chunk, which
		// it does only after handing on the fifth: chunks 2 to 5 are then queued.
		<-s.preparedN
	}
	if call == s.failCall {
		return errors.New("keys unavailable")
	}
	return s.Sink.Reserve(ctx, ps...)
}

func (s *reserveSink) AppendPrepared(ctx context.Context, p *ingest.Prepared) error {
	s.mu.Lock()
	s.appended++
	if !s.reserved[p] {
		s.unreserved++
	}
	s.mu.Unlock()
	return s.Sink.AppendPrepared(ctx, p)
}

func TestKeyStageGroupsQueuedChunks(t *testing.T) {
	const rows = 7 * 25000 // seven chunks
	var b strings.Builder
	for i := range rows {
		fmt.Fprintf(&b, `{"userId":"u%d","traits":{"email":"u%d@example.com"}}`+"\n", i, i)
	}
	tests := []struct {
		name      string
		bulk      bool
		failCall  int
		wantErr   bool
		wantCalls []int // chunks per Reserve call
	}{
		{name: "all reserved before append", bulk: true, wantCalls: []int{1, 4, 2}},
		{name: "one by one when bulk does not pay", wantCalls: []int{1, 1, 1, 1, 1, 1, 1}},
		{name: "a failed reservation stops the import", bulk: true, failCall: 2, wantErr: true, wantCalls: []int{1, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			sink := &reserveSink{Sink: h.sink, preparedN: make(chan struct{}), holdUntil: 6,
				reserved: map[*ingest.Prepared]bool{}, failCall: tt.failCall, bulk: tt.bulk}
			imp := importer.New(sink, h.ledger)
			rep := &kenner.Import{ID: "imp_test"}
			err := imp.Run(t.Context(), src, strings.NewReader(b.String()), importer.Options{Type: "identify"}, rep)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Run: %v, want error %v", err, tt.wantErr)
			}
			sink.mu.Lock()
			defer sink.mu.Unlock()
			var got []int
			for _, c := range sink.calls {
				got = append(got, len(c))
			}
			// The last chunks may come one by one or together, depending on timing.
			if len(got) < len(tt.wantCalls) || fmt.Sprint(got[:2]) != fmt.Sprint(tt.wantCalls[:2]) {
				t.Errorf("chunks per Reserve call = %v, want %v", got, tt.wantCalls)
			}
			if sink.unreserved > 0 {
				t.Errorf("%d chunks appended before their keys were reserved", sink.unreserved)
			}
			if tt.wantErr {
				// Only the first chunk, reserved by the call that succeeded, may be appended.
				if sink.appended > 1 || rep.Imported > 25000 {
					t.Errorf("appended %d chunks, imported %d rows after the key stage failed", sink.appended, rep.Imported)
				}
				return
			}
			if total := sum(got); total != 7 || rep.Imported != rows {
				t.Errorf("reserved %d chunks, imported %d rows; want 7 and %d", total, rep.Imported, rows)
			}
		})
	}
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
