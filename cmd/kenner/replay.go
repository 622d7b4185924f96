package main

import (
	"context"
	"fmt"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/process"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
)

func newReplayCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Rebuild all derived state from the event log",
		Long: `Deletes everything the store derived from the log (events, profiles, the identity graph and
the processor's position)
and applies the whole log again, then exits. Run it after changing rules that decide derived
state. Configuration (workspaces, sources, tokens, the
separations made by profile splits) is kept; the log is only read.

Stop the servers first: with the embedded store and log, replay refuses to run while a server
holds the data directory; with --store postgres:// and --nats, stop every node yourself.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			logger := newLogger(cfg, cmd.ErrOrStderr())
			app, log, closeAll, err := openExclusive(ctx, cfg, logger)
			if err != nil {
				return err
			}
			defer closeAll()

			start := time.Now()
			if err := app.store.ResetDerived(ctx); err != nil {
				return err
			}
			pcfg := processConfig(cfg, app.store)
			pcfg.Suppressed = app.suppress.Suppressed
			proc := process.New(app.sealed(log, nil), app.store, pcfg, prometheus.NewRegistry(), logger)
			noProgress, _ := cmd.Flags().GetBool("no-progress")
			stopBar := replayProgress(ctx, cmd, !noProgress && isTerminal(cmd.ErrOrStderr()), log, app.store, proc)
			err = proc.CatchUp(ctx)
			stopBar()
			if err != nil {
				return fmt.Errorf("replay: %w", err)
			}
			d := time.Since(start)
			fmt.Fprintf(cmd.OutOrStdout(), "replayed the log: %d events applied in %s (%.0f events/s)\n",
				proc.Applied(), d.Round(time.Millisecond), float64(proc.Applied())/d.Seconds())
			return nil
		},
	}
	addLogFlags(cmd, serveMemoryLimit)
	addIdentityFlags(cmd)
	cmd.Flags().Bool("no-progress", false, "do not draw the progress bar (it is drawn only on a terminal)")
	return cmd
}

// replayProgress draws, until stopped, how far the processor is through the log: the share
// of the log's records behind its positions, events applied, their rate and the time left.
func replayProgress(ctx context.Context, cmd *cobra.Command, on bool, log kenner.Log, store kenner.Store, proc *process.Processor) (stop func()) {
	if !on {
		return func() {}
	}
	heads, err := log.Heads(ctx)
	if err != nil {
		return func() {}
	}
	var total int64
	for _, h := range heads {
		total += int64(h)
	}
	bar := &progressBar{w: cmd.ErrOrStderr(), on: true, total: total, start: time.Now()}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			var at int64
			for p := range heads {
				pos, err := store.Position(ctx, process.ConsumerName, p)
				if err != nil {
					return
				}
				at += int64(pos)
			}
			applied := proc.Applied()
			bar.draw(at, fmt.Sprintf("%d events applied", applied),
				fmt.Sprintf("%.0f events/s", float64(applied)/max(time.Since(bar.start).Seconds(), 1e-3)))
		}
	}()
	return func() { cancel(); <-done; bar.finish() }
}
