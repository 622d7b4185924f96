package main

import (
	"fmt"
	"time"

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
			if err := proc.CatchUp(ctx); err != nil {
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
	return cmd
}
