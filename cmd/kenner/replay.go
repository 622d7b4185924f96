package main

import (
	"fmt"
	"os"
	"time"

	"github.com/kenner-cdp/kenner/process"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
)

func newReplayCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Rebuild all derived state from the event log",
		Long: `Deletes everything the store derived from the log (events, and the processor's position)
and applies the whole log again, then exits. Run it after changing rules that decide derived
state. Configuration (workspaces, sources, tokens) is kept; the log is only read.

Stop the servers first: with the embedded store and log, replay refuses to run while a server
holds the data directory; with --store postgres:// and --nats, stop every node yourself.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			setMemoryLimit(cfg)
			ctx := cmd.Context()
			logger := newLogger(cfg, cmd.ErrOrStderr())
			if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
				return fmt.Errorf("data directory: %w", err)
			}
			release, err := lockData(cfg.Data)
			if err != nil {
				return err
			}
			defer release()
			app, err := openLocal(ctx, cfg, logger)
			if err != nil {
				return err
			}
			defer app.store.Close()
			log, err := openLog(ctx, cfg, logger)
			if err != nil {
				return err
			}
			defer log.Close()

			start := time.Now()
			if err := app.store.ResetDerived(ctx); err != nil {
				return err
			}
			proc := process.New(log, app.store, prometheus.NewRegistry(), logger)
			if err := proc.CatchUp(ctx); err != nil {
				return fmt.Errorf("replay: %w", err)
			}
			d := time.Since(start)
			fmt.Fprintf(cmd.OutOrStdout(), "replayed the log: %d events applied in %s (%.0f events/s)\n",
				proc.Applied(), d.Round(time.Millisecond), float64(proc.Applied())/d.Seconds())
			return nil
		},
	}
	addLogFlags(cmd)
	return cmd
}
