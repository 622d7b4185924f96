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
	Import(ctx context.Context, src *kenner.Source, raws [][]byte, dryRun bool) ([]ingest.Result, error)
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

// chunkRows is how many rows go to the log together.
const chunkRows = 2000

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
	var delim rune
	if m.Delimiter != "" {
		d := []rune(strings.ReplaceAll(m.Delimiter, `\t`, "\t"))
		if len(d) != 1 {
			return kenner.Errorf(kenner.EInvalid, "delimiter must be one character, not %q", m.Delimiter)
		}
		delim = d[0]
	}
	counted := &countingReader{r: r}
	rows, format, err := openFile(counted, strings.ToLower(m.Format), m.Encoding, delim)
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
	chunks := make(chan *chunk, 2)
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

	seen := map[[16]byte]struct{}{}
	for ch := range chunks {
		if err := im.load(ctx, src, ch, seen, opts, rep); err != nil {
			return err
		}
		rep.Bytes = counted.n.Load()
		rep.UpdatedAt = im.now().UTC()
		if opts.Progress != nil {
			opts.Progress(rep)
		}
	}
	return ctx.Err()
}

// load imports one chunk: drops duplicates, appends the rest, records their keys.
func (im *Importer) load(ctx context.Context, src *kenner.Source, ch *chunk, seen map[[16]byte]struct{}, opts Options, rep *kenner.Import) error {
	rep.Rows += len(ch.recs)
	var fresh []int // indexes of rows to check against the ledger
	var keys [][]byte
	for i, err := range ch.errs {
		if err != nil {
			im.reject(rep, opts, ch.recs[i], err)
			continue
		}
		var k [16]byte
		copy(k[:], ch.keys[i])
		if _, dup := seen[k]; dup {
			rep.Duplicates++
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
	var idx []int
	for j, i := range fresh {
		if known[j] {
			rep.Duplicates++
			continue
		}
		raws = append(raws, ch.msgs[i])
		idx = append(idx, i)
	}
	if len(raws) == 0 {
		return nil
	}
	results, err := im.sink.Import(ctx, src, raws, opts.DryRun)
	if err != nil {
		return err
	}
	var done [][]byte
	for j, res := range results {
		rec := ch.recs[idx[j]]
		if res.Err != nil {
			im.reject(rep, opts, rec, res.Err)
			continue
		}
		rep.Imported++
		done = append(done, ch.keys[idx[j]])
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
	if opts.DryRun || len(done) == 0 {
		return nil
	}
	// The keys are recorded after the append: a crash in between imports the rows again on
	// the next run, and the processor drops them by message id; the other order would lose
	// them.
	if err := im.ledger.AddImportKeys(ctx, src.WorkspaceID, done); err != nil {
		return fmt.Errorf("import ledger: %w", err)
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

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
