package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "kenner",
		Short: "Kenner: an open-source customer data platform",
		Long: `Kenner collects first-party customer data (Segment/RudderStack-compatible tracking API,
imports), keeps it in a durable log and turns it into unified customer profiles.

Settings come from flags, then KENNER_* environment variables (--nats-listen is
KENNER_NATS_LISTEN), then the YAML file named by --config.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
		// A root without a run function would print its help, and exit 0, for any unknown
		// command: running it lets Args refuse those (exit 2) and show help otherwise.
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	root.SetVersionTemplate("kenner {{.Version}}\n")
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{err}
	})
	addGlobalFlags(root)
	root.PersistentFlags().String("cpuprofile", "", "write a Go CPU profile of the command to FILE")
	root.PersistentFlags().MarkHidden("cpuprofile")
	var stopProfile func()
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		path, _ := cmd.Flags().GetString("cpuprofile")
		if path == "" {
			return nil
		}
		f, err := os.Create(path)
		if err != nil {
			return usageError{err}
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		return nil
	}
	root.PersistentPostRun = func(cmd *cobra.Command, args []string) {
		if stopProfile != nil {
			stopProfile()
		}
	}
	root.AddCommand(newServeCmd(), newReplayCmd(), newSourceCmd(), newTokenCmd(), newEventsCmd(), newImportCmd(), newSyncCmd(), newDeliveriesCmd(), newKeysCmd(), newBenchCmd(), newVersionCmd(),
		newProfilesCmd(), newSegmentsCmd(), newDestinationsCmd(), newSyncsCmd(), newSlotsCmd(), newPredictCmd(), newJourneyCmd(), newMatchCmd(), newUserCmd(), newWorkspaceCmd())
	wrapAll(root)
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Errorf("unknown command %q; see kenner --help", args[0])}
		}
		return nil
	}
	return root
}

// wrapAll makes argument-count errors of every command usage errors.
func wrapAll(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		c.Args = wrapArgs(c.Args)
		wrapAll(c)
	}
}

// wrapArgs makes argument-count errors usage errors (exit 2), like flag errors.
func wrapArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	if check == nil {
		check = cobra.ArbitraryArgs
	}
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
