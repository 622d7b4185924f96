package process_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/sqlite"
)

// TestTrainingProgress: a training waiting for the build reports the build's progress, the
// pass over the profiles then counts them, and a training that ends reports none.
func TestTrainingProgress(t *testing.T) {
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	store.CreateWorkspace(ctx, &kenner.Workspace{ID: "ws", Name: "ws"})
	proc := process.New(nil, store, process.DefaultConfig(), prometheus.NewRegistry(), discard)
	m := &kenner.Model{WorkspaceID: "ws", Name: "clv", Kind: kenner.ModelCLV}
	m.SetDefaults()
	if err := store.CreateModel(ctx, m); err != nil {
		t.Fatal(err)
	}
	// No builder runs: the training waits for the build the model's definition started.
	if err := store.SetBuild(ctx, "ws", kenner.Build{Built: 0, Processed: 3, Total: 7}); err != nil {
		t.Fatal(err)
	}
	builder := process.NewBuilder(proc, store, time.Hour, discard)
	trainer := process.NewTrainer(proc, store, nil, discard)
	tctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := trainer.Train(tctx, "ws", m.ID)
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, ok := trainer.Progress("ws", m.ID)
		if ok && p.Phase == "building" && p.Done == 3 && p.Total == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("progress %+v %v, want building 3 of 7", p, ok)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, ok := trainer.Progress("ws", "mdl_other"); ok {
		t.Error("progress of a model not training")
	}
	// The build runs; the training goes on to fail (no orders) and reports no progress then.
	if err := builder.Build(ctx, "ws"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if kenner.ErrorCode(err) != kenner.EInvalid {
			t.Errorf("training without orders: %v, want invalid", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the training did not end after the build")
	}
	cancel()
	if p, ok := trainer.Progress("ws", m.ID); ok {
		t.Errorf("progress after the training: %+v", p)
	}
}
