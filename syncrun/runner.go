// Package syncrun runs the syncs that kenner serve schedules: database tables and buckets of
// files imported into a source on an interval or a cron expression, one run at a time per
// sync across every server sharing the store, with each run's progress and outcome recorded.
// A database sync remembers the rows it has seen, and acts on the person of a row gone from
// the source (mark, suppress or erase); a file sync imports each version of a file once.
package syncrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/egress"
	"github.com/kenner-cdp/kenner/importer"
)

// Ingest appends rows and Kenner's own messages for a source (the ingest handler).
type Ingest interface {
	importer.Sink
	Accept(ctx context.Context, src *kenner.Source, raws [][]byte) error
}

// Eraser carries out erasure requests (privacy.Eraser).
type Eraser interface {
	Erase(ctx context.Context, ws string, ref kenner.Identifier, requestedBy string) (*kenner.Erasure, error)
}

// Config is what the runner needs.
type Config struct {
	Store  kenner.Store
	Ingest Ingest
	// Eraser erases the people of deleted rows (nil: on_delete "erase" is refused).
	Eraser Eraser
	// Normalize brings an identifier to the form the identity graph keeps (nil: as read).
	Normalize func(kind, value string) (string, error)
	// Egress limits where file syncs connect (as destinations are limited).
	Egress egress.Policy
	// Node names this server in the runs it records.
	Node string
	// Tick is how often due syncs are looked for (default 1s: an indexed query).
	Tick time.Duration
	// Heartbeat is how often a run saves its progress (default 5s; well under
	// kenner.SyncRunStaleAfter, so that a live run is never taken for a dead one).
	Heartbeat time.Duration
	Log       *slog.Logger
	Now       func() time.Time
}

// Runner schedules and runs syncs.
type Runner struct {
	cfg  Config
	mu   sync.Mutex
	base context.Context
	wg   sync.WaitGroup
}

// New returns a runner; Start begins the schedule.
func New(cfg Config) *Runner {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	return &Runner{cfg: cfg, base: context.Background()}
}

// Recover records the runs of a workspace left running by a stopped process as failed. Only a
// server that knows it is the only one (the embedded store) calls it at start; servers
// sharing a store leave a dead server's run to go stale (kenner.SyncRunStaleAfter).
func (r *Runner) Recover(ctx context.Context, ws string) error {
	syncs, err := r.cfg.Store.Syncs(ctx, ws)
	if err != nil {
		return err
	}
	for _, sy := range syncs {
		runs, err := r.cfg.Store.SyncRuns(ctx, ws, sy.ID, 5)
		if err != nil {
			return err
		}
		for i := range runs {
			if runs[i].Status != kenner.SyncRunning {
				continue
			}
			now := r.cfg.Now().UTC()
			runs[i].WorkspaceID = ws
			runs[i].Status, runs[i].UpdatedAt, runs[i].FinishedAt = kenner.SyncFailed, now, &now
			runs[i].Error = "interrupted: the server stopped during the run; the next run reads from where the last finished one stopped"
			if err := r.cfg.Store.SaveSyncRun(ctx, &runs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// Start runs due syncs until ctx ends; Wait waits for the runs going then.
func (r *Runner) Start(ctx context.Context) {
	r.mu.Lock()
	r.base = ctx
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(r.cfg.Tick)
		defer t.Stop()
		for {
			r.startDue(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Wait waits for the schedule and the runs to stop (after Start's context ended).
func (r *Runner) Wait() { r.wg.Wait() }

// startDue starts every sync whose time has come; one that is running already is skipped
// and its next run set from now, as cron does with a job still busy.
func (r *Runner) startDue(ctx context.Context) {
	due, err := r.cfg.Store.SyncsDue(ctx, r.cfg.Now())
	if err != nil {
		if ctx.Err() == nil {
			r.cfg.Log.Warn("looking for due syncs", "err", err)
		}
		return
	}
	for i := range due {
		sy := &due[i]
		_, err := r.start(ctx, sy, "schedule")
		switch {
		case err == nil:
		case kenner.ErrorCode(err) == kenner.EConflict:
			// Running (here or on another server): the next run is set from now.
			if next, nerr := NextRun(sy.Schedule, r.cfg.Now()); nerr == nil {
				sy.NextRunAt = next
				cur, gerr := r.cfg.Store.Sync(ctx, sy.WorkspaceID, sy.ID)
				if gerr == nil {
					cur.NextRunAt = next
					_ = r.cfg.Store.SaveSync(ctx, cur)
				}
			}
		default:
			r.cfg.Log.Warn("starting a sync", "sync", sy.Name, "err", err)
		}
	}
}

// RunNow starts a run of a sync outside its schedule (EConflict while one runs).
func (r *Runner) RunNow(ctx context.Context, ws, id string) (*kenner.SyncRun, error) {
	sy, err := r.cfg.Store.Sync(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	return r.start(ctx, sy, "manual")
}

// start records a run (the store refuses it while another runs) and runs it in the
// background.
func (r *Runner) start(ctx context.Context, sy *kenner.Sync, trigger string) (*kenner.SyncRun, error) {
	now := r.cfg.Now().UTC()
	next := sy.NextRunAt
	if trigger == "schedule" {
		var err error
		if next, err = NextRun(sy.Schedule, now); err != nil {
			return nil, err
		}
	}
	run := &kenner.SyncRun{ID: kenner.NewID("srun"), SyncID: sy.ID, WorkspaceID: sy.WorkspaceID, Trigger: trigger, Node: r.cfg.Node,
		Status: kenner.SyncRunning, StartedAt: now, UpdatedAt: now}
	if err := r.cfg.Store.StartSyncRun(ctx, run, next, now.Add(-kenner.SyncRunStaleAfter)); err != nil {
		return nil, err
	}
	r.mu.Lock()
	base := r.base
	r.mu.Unlock()
	out := *run
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.execute(base, sy, run)
	}()
	return &out, nil
}

// progress is a run as it goes, saved by a heartbeat.
type progress struct {
	mu  sync.Mutex
	run *kenner.SyncRun
}

func (p *progress) update(fn func(*kenner.SyncRun)) {
	p.mu.Lock()
	fn(p.run)
	p.mu.Unlock()
}

func (p *progress) snapshot() kenner.SyncRun {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := *p.run
	out.Files = append([]string(nil), p.run.Files...)
	out.ImportIDs = append([]string(nil), p.run.ImportIDs...)
	return out
}

// execute runs a sync and records the outcome.
func (r *Runner) execute(ctx context.Context, sy *kenner.Sync, run *kenner.SyncRun) {
	p := &progress{run: run}
	save := func() {
		snap := p.snapshot()
		snap.UpdatedAt = r.cfg.Now().UTC()
		if err := r.cfg.Store.SaveSyncRun(context.WithoutCancel(ctx), &snap); err != nil {
			r.cfg.Log.Warn("saving a sync run", "sync", sy.Name, "run", run.ID, "err", err)
		}
	}
	stop := make(chan struct{})
	beat := make(chan struct{})
	go func() {
		defer close(beat)
		t := time.NewTicker(r.cfg.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				save()
			}
		}
	}()
	// The sync as it is now: a run that ended after the due list was read has moved the cursor.
	if cur, err := r.cfg.Store.Sync(ctx, sy.WorkspaceID, sy.ID); err == nil {
		sy = cur
	}
	var err error
	func() {
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("the run stopped on an internal error: %v", v)
			}
		}()
		switch sy.Kind {
		case kenner.SyncDatabase:
			err = r.runDatabase(ctx, sy, p)
		case kenner.SyncS3:
			err = r.runFiles(ctx, sy, p)
		default:
			err = kenner.Errorf(kenner.EInvalid, "unknown kind %q", sy.Kind)
		}
	}()
	close(stop)
	<-beat
	now := r.cfg.Now().UTC()
	p.update(func(run *kenner.SyncRun) {
		run.Status, run.FinishedAt = kenner.SyncDone, &now
		if err != nil {
			run.Status, run.Error = kenner.SyncFailed, kenner.ErrorMessage(err)
			if errors.Is(err, context.Canceled) {
				run.Error = "stopped: the server shut down during the run; the next run goes on from where this one was saved"
			}
		}
	})
	save()
	snap := p.snapshot()
	log := r.cfg.Log.Info
	if err != nil {
		log = r.cfg.Log.Warn
	}
	log("sync run done", "sync", sy.Name, "run", run.ID, "status", snap.Status, "rows", snap.Rows, "imported", snap.Imported,
		"duplicates", snap.Duplicates, "rejected", snap.Rejected, "deleted", snap.Deleted, "files", len(snap.Files), "err", snap.Error)
}
