// Package matchrun runs probabilistic matching over a workspace's profiles: it reads the
// compared traits of every profile, links them with package match, merges the pairs above the
// upper threshold through the identity graph (identify calls of the match source that present
// an identifier of both profiles, so that a replay makes the same merges and a split undoes
// them), and queues the pairs between the thresholds for review.
package matchrun

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/identity"
)

// Accepter appends messages made by Kenner itself for a source (the ingest handler).
type Accepter interface {
	Accept(ctx context.Context, src *kenner.Source, raws [][]byte) error
}

// Config is what the runner needs besides the store.
type Config struct {
	Store  kenner.Store
	Ingest Accepter
	// Rules are the identity rules: a merge that would break a limit (two user ids where one
	// is allowed) is not made.
	Rules identity.Rules
	// ExternalIDs are the workspace's external id kinds: identifiers a merge call can present
	// in context.externalIds.
	ExternalIDs []string
	// Caught waits until processing has applied everything accepted so far (the processor's
	// Caught; nil: no wait): a run reads every profile accepted before it started, and ends
	// when its merges are applied.
	Caught func(ctx context.Context) error
	Log    *slog.Logger
	Now    func() time.Time
}

// Runner starts runs, one at a time per workspace, in the background.
type Runner struct {
	cfg     Config
	mu      sync.Mutex
	running map[string]string // workspace → run id
	wg      sync.WaitGroup
}

// New returns a runner.
func New(cfg Config) *Runner {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, running: map[string]string{}}
}

// Recover marks the runs a stopped process left running as failed: a run is not resumed, it
// is started again.
func (r *Runner) Recover(ctx context.Context, ws string) error {
	runs, err := r.cfg.Store.MatchRuns(ctx, ws, 100)
	if err != nil {
		return err
	}
	for i := range runs {
		if runs[i].Status == kenner.MatchRunning {
			runs[i].WorkspaceID = ws
			r.finish(ctx, &runs[i], nil, fmt.Errorf("interrupted: the server stopped during the run; start it again"))
		}
	}
	return nil
}

// Start checks the parameters, records the run and runs it in the background (EConflict while
// another run of the workspace is going).
func (r *Runner) Start(ctx context.Context, ws string, p Params, by string) (*kenner.MatchRun, error) {
	if err := p.normalize(); err != nil {
		return nil, err
	}
	if !p.DryRun && r.cfg.Ingest == nil {
		return nil, kenner.Errorf(kenner.EUnavailable, "this server cannot merge profiles: it has no ingest")
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	run := &kenner.MatchRun{ID: kenner.NewID("mr"), WorkspaceID: ws, Status: kenner.MatchRunning, Params: raw, CreatedBy: by,
		CreatedAt: r.cfg.Now().UTC().Truncate(time.Millisecond)}
	run.Progress, _ = json.Marshal(Progress{Phase: "starting"})
	r.mu.Lock()
	if other, ok := r.running[ws]; ok {
		r.mu.Unlock()
		return nil, kenner.Errorf(kenner.EConflict, "match run %s is still running in this workspace", other)
	}
	r.running[ws] = run.ID
	r.mu.Unlock()
	if err := r.cfg.Store.PutMatchRun(ctx, run); err != nil {
		r.release(ws)
		return nil, err
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer r.release(ws)
		// The run outlives the request that started it.
		ctx := context.WithoutCancel(ctx)
		res, err := r.run(ctx, run, p)
		r.finish(ctx, run, res, err)
	}()
	return run, nil
}

// Wait waits for the runs started to end.
func (r *Runner) Wait() { r.wg.Wait() }

func (r *Runner) release(ws string) {
	r.mu.Lock()
	delete(r.running, ws)
	r.mu.Unlock()
}

func (r *Runner) finish(ctx context.Context, run *kenner.MatchRun, res *Result, err error) {
	now := r.cfg.Now().UTC()
	run.FinishedAt = &now
	run.Progress = nil
	if err != nil {
		run.Status, run.Message = kenner.MatchFailed, err.Error()
		r.cfg.Log.Warn("match run failed", "run", run.ID, "workspace", run.WorkspaceID, "err", err)
	} else {
		run.Status = kenner.MatchDone
		run.Message = res.summary()
		run.Result, _ = json.Marshal(res)
		r.cfg.Log.Info("match run done", "run", run.ID, "workspace", run.WorkspaceID, "summary", run.Message)
	}
	if err := r.cfg.Store.PutMatchRun(ctx, run); err != nil {
		r.cfg.Log.Error("match run: recording its end", "run", run.ID, "err", err)
	}
}

// Progress is a running run's phase and counts.
type Progress struct {
	Phase   string `json:"phase"`
	Records int    `json:"records,omitempty"`
	Pairs   int    `json:"pairs,omitempty"`
	Merges  int    `json:"merges,omitempty"`
}

func (r *Runner) progress(ctx context.Context, run *kenner.MatchRun, p Progress) {
	run.Progress, _ = json.Marshal(p)
	if err := r.cfg.Store.PutMatchRun(ctx, run); err != nil {
		r.cfg.Log.Warn("match run: recording progress", "run", run.ID, "err", err)
	}
}
