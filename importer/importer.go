// Package importer loads files (CSV and NDJSON) into a source: each row becomes a Segment
// message through a column mapping, goes through the same validation, enrichment and
// standardization as the tracking API, and is appended to the log. Every row is accounted
// for: imported, a duplicate of a row imported before (found by its idempotency key), or
// rejected with its line and the reason.
package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/ingest"
)

// Sink validates and appends messages; ingest.Handler is one.
type Sink interface {
	Prepare(src *kenner.Source, raws [][]byte) *ingest.Prepared
	Reserve(ctx context.Context, ps ...*ingest.Prepared) error
	// ReservesInBulk says whether queued batches should be reserved together.
	ReservesInBulk() bool
	AppendPrepared(ctx context.Context, p *ingest.Prepared) error
}

// Ledger remembers the keys of imported rows.
type Ledger interface {
	ImportKeysSeen(ctx context.Context, workspaceID string, keys [][]byte) ([]bool, error)
	AddImportKeys(ctx context.Context, workspaceID string, keys [][]byte) error
}

// Options of one import.
type Options struct {
	// Type is the message type every row makes (identify, track, group, page or screen); the
	// mapping's type is used when it is empty.
	Type    string
	Mapping *Mapping
	DryRun  bool
	// Progress is called with the report as it stands after each chunk of rows.
	Progress func(*kenner.Import)
	// OnReject, when set, is called with each rejected row and its text as read.
	OnReject func(issue kenner.ImportIssue, raw []byte)
}

// Importer runs imports.
type Importer struct {
	sink   Sink
	ledger Ledger
	now    func() time.Time
}

// New returns an Importer appending through sink and remembering rows in ledger.
func New(sink Sink, ledger Ledger) *Importer {
	return &Importer{sink: sink, ledger: ledger, now: time.Now}
}

// chunkRows is how many rows go to the log together; ledgerBatch how many row keys are
// recorded together.
const (
	chunkRows   = 25000
	ledgerBatch = 250000
	// keyGroup is how many queued chunks at most have their keys created together (a
	// million new people: 55-60k rows/s with 4, 45-48k with 1).
	keyGroup = 4
)

// maxIssues and sampleSize bound what a report lists.
const (
	maxWarnings = 100
	sampleSize  = 5
)

type chunk struct {
	recs []*Record
	msgs [][]byte
	keys [][]byte
	errs []error

	// Filled by the second stage: which rows are duplicates, and the prepared messages of
	// the rest (rows idx).
	dup      []bool
	idx      []int
	prepared *ingest.Prepared
	err      error
}

// Run imports the file read from r into src, filling rep (whose ID, file and times the
// caller sets). It returns an error only when the import could not go on (an unreadable
// file, a mapping that does not fit it, the log failing); rejected rows are counted in rep.
func (im *Importer) Run(ctx context.Context, src *kenner.Source, r io.Reader, opts Options, rep *kenner.Import) (err error) {
	m := opts.Mapping
	if m == nil {
		m = &Mapping{}
	}
	typ := strings.ToLower(strings.TrimSpace(opts.Type))
	if typ == "" {
		typ = strings.ToLower(strings.TrimSpace(m.Type))
	}
	rep.WorkspaceID, rep.SourceID, rep.Type, rep.DryRun = src.WorkspaceID, src.ID, typ, opts.DryRun
	rep.Status = kenner.ImportRunning
	if rep.Rejects == nil {
		rep.Rejects = []kenner.ImportIssue{}
	}
	defer func() {
		now := im.now().UTC()
		rep.UpdatedAt, rep.FinishedAt = now, &now
		rep.Status = kenner.ImportDone
		if err != nil {
			rep.Status, rep.Error = kenner.ImportFailed, kenner.ErrorMessage(err)
		}
	}()
	if !slices.Contains(Types, typ) {
		return kenner.Errorf(kenner.EInvalid, "import type %q: want one of %s", typ, strings.Join(Types, ", "))
	}
	counted := &CountingReader{R: r}
	rows, format, err := m.open(counted)
	if err != nil {
		return kenner.Errorf(kenner.EInvalid, "%v", err)
	}
	rep.Format = format
	var header []string
	if c, ok := rows.(*csvReader); ok {
		header = c.Header()
	}
	conv, err := newConverter(m, typ, src.ID, header, format == FormatNDJSON)
	if err != nil {
		return kenner.Errorf(kenner.EInvalid, "%v", err)
	}

	// Reading and mapping rows runs beside validating and appending them: the two halves
	// cost about the same, and there are two cores.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Each stage holds one chunk and hands it on unbuffered (but for the key stage's queue):
	// more in flight costs memory (and garbage collection) and gains nothing.
	chunks := make(chan *chunk)
	go func() {
		defer close(chunks)
		for {
			ch := &chunk{}
			for len(ch.recs) < chunkRows {
				rec := rows.Next()
				if rec == nil {
					break
				}
				var msg, key []byte
				cerr := rec.Err
				if cerr == nil {
					msg, key, cerr = conv.convert(rec)
					rec.Fields, rec.Object = nil, nil // converted: only the line and its text are kept
				}
				ch.recs, ch.msgs, ch.keys, ch.errs = append(ch.recs, rec), append(ch.msgs, msg), append(ch.keys, key), append(ch.errs, cerr)
			}
			if len(ch.recs) == 0 {
				return
			}
			select {
			case chunks <- ch:
			case <-ctx.Done():
				return
			}
		}
	}()

	// Checking against the ledger and preparing (parsing, standardizing: CPU) one chunk,
	// creating the encryption keys of the next, and appending the one before run side by
	// side.
	// While it creates keys, the key stage is the slowest: chunks that queue up for it are
	// then reserved together.
	checked := make(chan *chunk, keyGroup)
	go func() {
		defer close(checked)
		seen := map[[16]byte]struct{}{}
		for ch := range chunks {
			// err is read here, not from ch: once sent, ch belongs to the next stage.
			err := im.prepare(ctx, src, ch, seen)
			ch.err = err
			select {
			case checked <- ch:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	prepared := make(chan *chunk)
	go func() {
		defer close(prepared)
		for ch := range checked {
			group := []*chunk{ch}
			limit := 1
			if im.sink.ReservesInBulk() {
				limit = keyGroup
			}
		queued:
			for len(group) < limit && group[len(group)-1].err == nil {
				select {
				case next, ok := <-checked:
					if !ok {
						break queued
					}
					group = append(group, next)
				default:
					break queued
				}
			}
			var ps []*ingest.Prepared
			for _, ch := range group {
				if ch.err == nil && ch.prepared != nil {
					ps = append(ps, ch.prepared)
				}
			}
			var err error
			if len(ps) > 0 && !opts.DryRun {
				err = im.sink.Reserve(ctx, ps...)
			}
			for _, ch := range group {
				if ch.err == nil {
					ch.err = err
				}
				// Read before sending: once sent, ch belongs to the next stage.
				failed := ch.err != nil
				select {
				case prepared <- ch:
				case <-ctx.Done():
					return
				}
				if failed {
					return
				}
			}
		}
	}()
	// The keys of appended rows are recorded after the append, in large batches (a B-tree of
	// random keys costs a page write per key and commit). A crash between the append and the
	// record imports those rows again on the next run, and the processor drops them by
	// message id: the ledger spares work and counts duplicates, the message id guarantees.
	var ledger [][]byte
	defer func() {
		if len(ledger) == 0 {
			return
		}
		if lerr := im.ledger.AddImportKeys(context.WithoutCancel(ctx), src.WorkspaceID, ledger); lerr != nil && err == nil {
			err = fmt.Errorf("import ledger: %w", lerr)
		}
	}()
	for ch := range prepared {
		if err := im.commit(ctx, src, ch, opts, rep, &ledger); err != nil {
			return err
		}
		if len(ledger) >= ledgerBatch {
			if err := im.ledger.AddImportKeys(ctx, src.WorkspaceID, ledger); err != nil {
				return fmt.Errorf("import ledger: %w", err)
			}
			ledger = ledger[:0]
		}
		rep.Bytes = counted.N()
		rep.UpdatedAt = im.now().UTC()
		if opts.Progress != nil {
			opts.Progress(rep)
		}
	}
	return ctx.Err()
}

// prepare marks the duplicates of a chunk (rows seen earlier in the file, or recorded in
// the ledger) and prepares the messages of the rest.
func (im *Importer) prepare(ctx context.Context, src *kenner.Source, ch *chunk, seen map[[16]byte]struct{}) error {
	ch.dup = make([]bool, len(ch.recs))
	var fresh []int
	var keys [][]byte
	for i, err := range ch.errs {
		if err != nil {
			continue
		}
		var k [16]byte
		copy(k[:], ch.keys[i])
		if _, dup := seen[k]; dup {
			ch.dup[i] = true
			continue
		}
		seen[k] = struct{}{}
		fresh = append(fresh, i)
		keys = append(keys, ch.keys[i])
	}
	if len(fresh) == 0 {
		return nil
	}
	known, err := im.ledger.ImportKeysSeen(ctx, src.WorkspaceID, keys)
	if err != nil {
		return fmt.Errorf("import ledger: %w", err)
	}
	var raws [][]byte
	for j, i := range fresh {
		if known[j] {
			ch.dup[i] = true
			continue
		}
		raws = append(raws, ch.msgs[i])
		ch.idx = append(ch.idx, i)
	}
	if len(raws) > 0 {
		ch.prepared = im.sink.Prepare(src, raws)
	}
	ch.msgs = nil // prepared: the messages live on in ch.prepared
	return nil
}

// commit appends a prepared chunk, records its keys in the ledger and counts its rows.
func (im *Importer) commit(ctx context.Context, src *kenner.Source, ch *chunk, opts Options, rep *kenner.Import, ledger *[][]byte) error {
	if ch.err != nil {
		return ch.err
	}
	rep.Rows += len(ch.recs)
	byRow := map[int]ingest.Result{}
	if ch.prepared != nil {
		if !opts.DryRun {
			if err := im.sink.AppendPrepared(ctx, ch.prepared); err != nil {
				return err
			}
		}
		for j, res := range ch.prepared.Results {
			byRow[ch.idx[j]] = res
		}
	}
	var done [][]byte
	for i, rec := range ch.recs {
		switch res, prepared := byRow[i]; {
		case ch.errs[i] != nil:
			im.reject(rep, opts, rec, ch.errs[i])
		case ch.dup[i]:
			rep.Duplicates++
		case !prepared:
		case res.Err != nil:
			im.reject(rep, opts, rec, res.Err)
		default:
			rep.Imported++
			done = append(done, ch.keys[i])
			for _, p := range res.Problems {
				rep.Warnings++
				if len(rep.Issues) < maxWarnings {
					rep.Issues = append(rep.Issues, kenner.ImportIssue{Line: rec.Line, Reason: p.String()})
				}
			}
			if opts.DryRun && len(rep.Sample) < sampleSize {
				rep.Sample = append(rep.Sample, json.RawMessage(res.Body))
			}
		}
	}
	if !opts.DryRun {
		*ledger = append(*ledger, done...)
	}
	return nil
}

func (im *Importer) reject(rep *kenner.Import, opts Options, rec *Record, err error) {
	reason := err.Error()
	var ke *kenner.Error
	if errors.As(err, &ke) {
		reason = ke.Message
	}
	issue := kenner.ImportIssue{Line: rec.Line, Reason: reason}
	rep.Rejected++
	if len(rep.Rejects) < kenner.MaxImportIssues {
		rep.Rejects = append(rep.Rejects, issue)
	} else {
		rep.RejectsTruncated = true
	}
	if opts.OnReject != nil {
		opts.OnReject(issue, rec.Raw)
	}
}

// CountingReader counts the bytes read through it, for progress that another goroutine
// reads (the importer's report, the CLI's bar while a file uploads).
type CountingReader struct {
	R io.Reader
	n atomic.Int64
}

func (c *CountingReader) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// N is how many bytes have been read so far.
func (c *CountingReader) N() int64 { return c.n.Load() }
