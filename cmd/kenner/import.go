package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/importer"
	"github.com/kenner-cdp/kenner/ingest"
	"github.com/kenner-cdp/kenner/trackingplan"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newImportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import a CSV or NDJSON file into a source",
		Long: `Reads FILE (- for standard input), turns every row into a message of the type given
by --as through the column mapping of --map, and appends the messages to the log as the
tracking API would: validated, enriched and standardized. The format (CSV or NDJSON), a
byte order mark and the CSV delimiter are detected; give --encoding latin1 for Latin-1 /
Windows-1252 files.

MAP.yaml:
  columns:                     # column (CSV header, or NDJSON path) → target
    Customer ID: userId
    E-Mail: traits.email
    Signed up: {target: traits.created_at, type: date, format: DD.MM.YYYY}
    Amount: {target: properties.revenue, type: number}
  event: Order Completed       # for --as track, when no column holds the event name
  timestamp_format: DD/MM/YYYY HH:mm
  constants: {properties.currency: EUR}
Targets: userId, anonymousId, event, timestamp, messageId, groupId, name, traits.<path>,
properties.<path>, context.<path>. Types: string (default), number, integer, boolean,
date, json. An NDJSON file imported without a mapping holds Segment messages.

Every row is accounted for in the summary: imported, duplicate (imported before: importing
the same file again imports nothing twice), or rejected with its line and reason
(--rejects writes those rows to a file to fix and import again). The exit status is 0 when
the file was read, whatever was rejected; 1 with --strict when a row was rejected.

With --as spend the rows are ad spend (an ad platform's daily report), not messages: the
mapping's columns go to date, source, medium, campaign, amount and currency (constants for
what the file does not say, e.g. constants: {source: google, medium: cpc, currency: USD}),
and each row replaces the one of the same day and campaign (see Analytics).

With --url the server imports the file as it is uploaded, preparing the rows with its own
settings (--default-region, --standardize, --consent-* and --max-future are then refused:
set them on kenner serve); otherwise the import works on --data directly.`,
		Args: cobra.ExactArgs(1),
		RunE: runImport,
	}
	f := cmd.Flags()
	addRowFlags(f, "check the file and report what would happen; import nothing")
	f.String("rejects", "", "write the rejected rows, with their line and reason, to this file")
	f.Bool("strict", false, "exit with status 1 when a row is rejected")
	f.String("format", "", "csv or ndjson (default: detected)")
	f.String("encoding", "", "utf-8 (default) or latin1 (read as Windows-1252)")
	f.String("delimiter", "", "CSV delimiter (default: sniffed from the header)")
	f.Bool("no-progress", false, "do not draw the progress bar (it is drawn only on a terminal)")
	addLogFlags(cmd, batchMemoryLimit)
	addEventFlags(cmd)
	return cmd
}

// addRowFlags adds the flags of commands that turn rows into messages (import, sync).
func addRowFlags(f *pflag.FlagSet, dryRun string) {
	f.String("source", "default", "name of the source the rows come from")
	f.String("as", "", "message type of every row: identify, track, group, page or screen, or spend for ad spend rows (default: the mapping's type)")
	f.String("map", "", "mapping file (YAML or JSON)")
	f.Bool("dry-run", false, dryRun)
	f.Bool("match", false, "then match the new records against every profile and each other (probabilistic matching on the server; needs --url)")
	f.String("match-params", "", "JSON file with the match run's parameters (fields, blocking, thresholds; default: the server's)")
}

type importFlags struct {
	path, source, typ, rejects string
	dryRun, strict, progress   bool
	match                      bool
	matchParams                map[string]any
	mapping                    *importer.Mapping
	mappingText                []byte
}

func readImportFlags(cmd *cobra.Command, args []string) (importFlags, error) {
	f := cmd.Flags()
	var o importFlags
	o.path = args[0]
	o.source, _ = f.GetString("source")
	o.typ, _ = f.GetString("as")
	o.rejects, _ = f.GetString("rejects")
	o.dryRun, _ = f.GetBool("dry-run")
	o.strict, _ = f.GetBool("strict")
	o.match, _ = f.GetBool("match")
	if file, _ := f.GetString("match-params"); file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return o, usageError{err}
		}
		if err := json.Unmarshal(b, &o.matchParams); err != nil {
			return o, usageError{fmt.Errorf("--match-params %s: %w", file, err)}
		}
		o.match = true
	}
	noProgress, _ := f.GetBool("no-progress")
	o.progress = !noProgress && isTerminal(cmd.ErrOrStderr())
	mapPath, _ := f.GetString("map")
	if mapPath != "" {
		b, err := os.ReadFile(mapPath)
		if err != nil {
			return o, usageError{fmt.Errorf("--map: %w", err)}
		}
		o.mappingText = b
	}
	m, err := importer.ParseMapping(o.mappingText)
	if err != nil {
		return o, usageError{fmt.Errorf("--map %s: %w", mapPath, err)}
	}
	for _, s := range []struct {
		flag string
		dst  *string
	}{{"format", &m.Format}, {"encoding", &m.Encoding}, {"delimiter", &m.Delimiter}} {
		if v, _ := f.GetString(s.flag); v != "" {
			*s.dst = v
		}
	}
	if o.typ == "" && m.Type == "" {
		return o, usageError{fmt.Errorf("--as is required (identify, track, group, page, screen, or spend for ad spend) unless the mapping has a type")}
	}
	o.mapping = m
	// The mapping goes to a server as JSON, with the flags applied.
	if o.mappingText, err = json.Marshal(m); err != nil {
		return o, err
	}
	return o, nil
}

func runImport(cmd *cobra.Command, args []string) error {
	o, err := readImportFlags(cmd, args)
	if err != nil {
		return err
	}
	file, size, err := openImportFile(cmd, o.path)
	if err != nil {
		return err
	}
	defer file.Close()
	if o.typ == "spend" || o.typ == "" && o.mapping.Type == "spend" {
		return importSpend(cmd, o, file)
	}
	bar := &progressBar{w: cmd.ErrOrStderr(), on: o.progress, total: size, start: time.Now()}

	c, cfg, err := remoteClient(cmd)
	if err != nil {
		return err
	}
	if o.match && c == nil {
		return usageError{fmt.Errorf("--match runs on the server: give --url and --token")}
	}
	var rep *kenner.Import
	var allRejects []kenner.ImportIssue
	if c != nil {
		if err := refuseEventFlagsRemote(cmd); err != nil {
			return err
		}
		if rep, err = importRemote(cmd.Context(), c, o, file, size, bar); err != nil {
			return err
		}
		allRejects = rep.Rejects
	} else {
		if rep, allRejects, err = importLocal(cmd, cfg, o, file, size, bar); err != nil {
			return err
		}
	}
	bar.finish()
	printImport(cmd.OutOrStdout(), rep, time.Since(bar.start))
	if o.match && c != nil && !o.dryRun {
		if err := matchAfter(cmd, c, o, bar.start); err != nil {
			return err
		}
	}
	if o.rejects != "" {
		if err := writeRejectsFile(o, allRejects, rep.RejectsTruncated && c != nil); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "rejected rows written to %s\n", o.rejects)
	}
	if o.strict && rep.Rejected > 0 {
		return exitError{code: 1, msg: fmt.Sprintf("%d rows rejected (--strict)", rep.Rejected)}
	}
	return nil
}

func openImportFile(cmd *cobra.Command, path string) (io.ReadCloser, int64, error) {
	if path == "-" {
		return io.NopCloser(cmd.InOrStdin()), 0, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, usageError{err}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if st.IsDir() {
		f.Close()
		return nil, 0, usageError{fmt.Errorf("%s is a directory", path)}
	}
	return f, st.Size(), nil
}

// importLocal imports into the data directory, which no server may hold.
func importLocal(cmd *cobra.Command, cfg config, o importFlags, file io.Reader, size int64, bar *progressBar) (*kenner.Import, []kenner.ImportIssue, error) {
	ctx := cmd.Context()
	logger := newLogger(cfg, cmd.ErrOrStderr())
	app, log, closeAll, err := openExclusive(ctx, cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	defer closeAll()
	src, err := app.store.SourceByName(ctx, app.cfg.Workspace, o.source)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("--source: %s", kenner.ErrorMessage(err))}
	}
	plans := trackingplan.NewEnforcer(app.store, logger)
	tracking := ingest.New(app.sealed(log, nil), app.creds, ingest.NewMetrics(prometheus.NewRegistry()), logger, ingest.Config{
		Consent: cfg.Consent, PII: cfg.PII, Standardize: cfg.Standardize, Plans: plans, MaxFuture: cfg.MaxFuture,
	})
	defer func() {
		if err := plans.Flush(context.WithoutCancel(ctx)); err != nil {
			logger.Warn("saving tracking plan violations", "err", err)
		}
	}()
	now := time.Now().UTC()
	rep := &kenner.Import{ID: kenner.NewID("imp"), File: filepath.Base(o.path), TotalBytes: size, StartedAt: now, UpdatedAt: now,
		WorkspaceID: src.WorkspaceID, SourceID: src.ID, Status: kenner.ImportRunning, Rejects: []kenner.ImportIssue{}}
	var all []kenner.ImportIssue
	opts := importer.Options{Type: o.typ, Mapping: o.mapping, DryRun: o.dryRun,
		Progress: func(im *kenner.Import) { bar.update(im.Bytes, im.Rows) },
		OnReject: func(issue kenner.ImportIssue, _ []byte) { all = append(all, issue) },
	}
	runErr := importer.New(tracking, app.store).Run(ctx, src, file, opts, rep)
	if err := app.store.SaveImport(context.WithoutCancel(ctx), rep); err != nil {
		logger.Warn("saving the import record", "err", err)
	}
	if runErr != nil {
		bar.finish()
		if kenner.ErrorCode(runErr) == kenner.EInvalid {
			return nil, nil, usageError{fmt.Errorf("%s", kenner.ErrorMessage(runErr))}
		}
		return nil, nil, runErr
	}
	return rep, all, nil
}

// importRemote uploads the file as a multipart form, streaming it.
func importRemote(ctx context.Context, c *apiClient, o importFlags, file io.Reader, size int64, bar *progressBar) (*kenner.Import, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	sent := &importer.CountingReader{R: file}
	go func() {
		fields := [][2]string{{"source", o.source}, {"type", o.typ}, {"mapping", string(o.mappingText)}, {"dry_run", fmt.Sprint(o.dryRun)}}
		for _, f := range fields {
			if err := mw.WriteField(f[0], f[1]); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		fw, err := mw.CreateFormFile("file", filepath.Base(o.path))
		if err == nil {
			_, err = io.Copy(fw, sent)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				bar.update(sent.N(), -1)
			}
		}
	}()
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+"/v1/imports", pr)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	// An import takes as long as the file takes to read: no overall timeout.
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("kenner server at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if err := apiError(resp, "POST", "/v1/imports"); err != nil {
		if kenner.ErrorCode(err) == kenner.EInvalid || kenner.ErrorCode(err) == kenner.ENotFound {
			return nil, usageError{fmt.Errorf("%s", kenner.ErrorMessage(err))}
		}
		return nil, err
	}
	rep := &kenner.Import{}
	return rep, json.NewDecoder(resp.Body).Decode(rep)
}

func writeRejectsFile(o importFlags, rejects []kenner.ImportIssue, truncated bool) error {
	if o.path == "-" {
		return usageError{fmt.Errorf("--rejects needs the file again, so it cannot be used with standard input")}
	}
	in, err := os.Open(o.path)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(o.rejects)
	if err != nil {
		return usageError{fmt.Errorf("--rejects: %w", err)}
	}
	if err := importer.WriteRejects(in, o.mapping, rejects, out); err != nil {
		out.Close()
		return err
	}
	if truncated {
		fmt.Fprintf(os.Stderr, "the server lists the first %d rejected rows only; %s holds those\n", kenner.MaxImportIssues, o.rejects)
	}
	return out.Close()
}

// printImport writes the summary of an import.
func printImport(w io.Writer, rep *kenner.Import, took time.Duration) {
	verb := "imported"
	if rep.DryRun {
		verb = "dry run: would import"
	}
	rate := float64(rep.Rows) / max(took.Seconds(), 1e-9)
	fmt.Fprintf(w, "%s %d, duplicates %d, rejected %d, warnings %d (%d rows in %s, %.0f rows/s; import %s)\n",
		verb, rep.Imported, rep.Duplicates, rep.Rejected, rep.Warnings, rep.Rows, took.Round(time.Millisecond), rate, rep.ID)
	const show = 20
	for i, r := range rep.Rejects {
		if i == show {
			fmt.Fprintf(w, "  ... and %d more rejected rows (--rejects FILE writes them all)\n", rep.Rejected-show)
			break
		}
		fmt.Fprintf(w, "  line %d: rejected: %s\n", r.Line, r.Reason)
	}
	for i, r := range rep.Issues {
		if i == 5 {
			fmt.Fprintf(w, "  ... and %d more warnings\n", rep.Warnings-5)
			break
		}
		fmt.Fprintf(w, "  line %d: warning: %s\n", r.Line, r.Reason)
	}
	for _, s := range rep.Sample {
		fmt.Fprintf(w, "  would append: %s\n", s)
	}
}

// progressBar draws an import's progress on a terminal, at most five times a second.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
