package syncrun

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/dbsync"
	"github.com/kenner-cdp/kenner/importer"
)

// importFile imports one file (or a database's rows) into the sync's source with its mapping,
// as an import of its own that the imports list shows, and adds its counts to the run.
func (r *Runner) importFile(ctx context.Context, sy *kenner.Sync, p *progress, file string, body io.Reader, m *importer.Mapping) error {
	src, err := r.cfg.Store.SourceByID(ctx, sy.SourceID)
	if err != nil {
		return kenner.Errorf(kenner.EInvalid, "the sync's source %s: %v", sy.SourceID, kenner.ErrorMessage(err))
	}
	now := r.cfg.Now().UTC()
	rep := &kenner.Import{ID: kenner.NewID("imp"), WorkspaceID: sy.WorkspaceID, SourceID: src.ID, File: file, Type: sy.Type,
		Status: kenner.ImportRunning, Rejects: []kenner.ImportIssue{}, StartedAt: now, UpdatedAt: now}
	if err := r.cfg.Store.SaveImport(ctx, rep); err != nil {
		return err
	}
	p.update(func(run *kenner.SyncRun) { run.ImportIDs = append(run.ImportIDs, rep.ID) })
	var last kenner.Import
	add := func(im *kenner.Import) {
		p.update(func(run *kenner.SyncRun) {
			run.Rows += im.Rows - last.Rows
			run.Imported += im.Imported - last.Imported
			run.Duplicates += im.Duplicates - last.Duplicates
			run.Rejected += im.Rejected - last.Rejected
		})
		last.Rows, last.Imported, last.Duplicates, last.Rejected = im.Rows, im.Imported, im.Duplicates, im.Rejected
	}
	saved := now
	opts := importer.Options{Type: sy.Type, Mapping: m, Progress: func(im *kenner.Import) {
		add(im)
		if time.Since(saved) >= time.Second {
			saved = time.Now()
			_ = r.cfg.Store.SaveImport(ctx, im)
		}
	}}
	runErr := importer.New(r.cfg.Ingest, r.cfg.Store).Run(ctx, src, body, opts, rep)
	add(rep)
	if err := r.cfg.Store.SaveImport(context.WithoutCancel(ctx), rep); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// runDatabase imports the rows changed since the sync's cursor, then, when the sync acts on
// deleted rows, compares the ids the source holds with those seen before.
func (r *Runner) runDatabase(ctx context.Context, sy *kenner.Sync, p *progress) error {
	var c dbConfig
	if err := decodeConfig(sy.Config, &c); err != nil {
		return err
	}
	m, err := importer.ParseMapping(sy.Mapping)
	if err != nil {
		return kenner.Errorf(kenner.EInvalid, "%v", err)
	}
	m.Format = importer.FormatNDJSON
	src, err := dbsync.Open(ctx, c.spec())
	if err != nil {
		return err
	}
	defer src.Close()
	var cur dbsync.Cursor
	if len(sy.State) > 0 {
		if err := json.Unmarshal(sy.State, &cur); err != nil {
			return kenner.Errorf(kenner.EInvalid, "the sync's saved cursor: %v", err)
		}
	}

	// The ids of the rows read, with the identifier each was imported under, are recorded
	// once the import succeeded: they are what a later run finds deleted.
	ref := rowRef(m)
	var items []kenner.SyncItem
	each := func(id string, row map[string]any) {
		if id == "" {
			return
		}
		it := kenner.SyncItem{Key: id}
		if ref != nil {
			if v, ok := ref(row); ok {
				it.Ref = r.normalize(v)
			}
		}
		items = append(items, it)
	}
	readCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	type result struct {
		cur dbsync.Cursor
		err error
	}
	done := make(chan result, 1)
	go func() {
		next, _, err := src.ReadEach(readCtx, cur, pw, each)
		pw.CloseWithError(err)
		done <- result{next, err}
	}()
	importErr := r.importFile(ctx, sy, p, "sync:"+sy.Name, pr, m)
	pr.CloseWithError(errors.New("import stopped"))
	cancel()
	res := <-done
	if res.err != nil && !errors.Is(res.err, context.Canceled) {
		return res.err
	}
	if importErr != nil {
		return importErr
	}
	if len(items) > 0 {
		if err := r.cfg.Store.PutSyncItems(ctx, sy.WorkspaceID, sy.ID, items); err != nil {
			return err
		}
	}
	state, _ := json.Marshal(res.cur)
	if err := r.cfg.Store.SaveSyncState(ctx, sy.WorkspaceID, sy.ID, state); err != nil {
		return err
	}
	if sy.OnDelete == kenner.DeleteIgnore {
		return nil
	}
	return r.detectDeletes(ctx, sy, src, p)
}

func (r *Runner) normalize(id kenner.Identifier) kenner.Identifier {
	if r.cfg.Normalize == nil {
		return id
	}
	if v, err := r.cfg.Normalize(id.Kind, id.Value); err == nil {
		id.Value = v
	}
	return id
}
