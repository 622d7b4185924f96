package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/dbsync"
	"github.com/spf13/cobra"
)

func newSyncCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Pull new and changed rows from a PostgreSQL or MySQL table or query into a source",
		Long: `Reads the rows of --table (or --query) whose --cursor column is past where the last run
stopped, in cursor order, and imports them as messages of type --as through the column
mapping of --map (the mapping of kenner import; columns are the result's column names).
Every row goes through the same validation, standardization and tracking plan as any event,
and a row read twice (unchanged) is not imported twice.

The cursor is an updated-at column (rows changed since the last run) or an increasing id
(rows added). With --id, rows that share a cursor value are ordered by that unique column,
so that none is skipped or read twice when a run stops between them. The cursor is saved in
--state once the rows are imported; a run that fails saves nothing and the next run reads
the same rows again (they are not imported twice).

  kenner sync --from postgres://crm@db/crm --table customers --cursor updated_at --id id \
    --as identify --map customers.yaml --every 5m

MySQL: --from mysql://user:password@host:3306/database.

To have kenner serve run a sync on a schedule instead (with its runs' history, deleted rows
acted on, and files from a bucket), create it there: kenner syncs create, or the console's
Sources → syncs.`,
		Args: cobra.NoArgs,
		RunE: runSync,
	}
	f := cmd.Flags()
	f.String("from", "", "the database: postgres://... or mysql://user:password@host:port/database")
	f.String("table", "", "table to read (schema.table allowed)")
	f.String("query", "", "SELECT to read instead of a table (needs --name)")
	f.String("cursor", "", "column that orders rows and marks progress (an updated-at or an increasing id)")
	f.String("id", "", "unique column that orders rows with the same cursor value")
	f.String("name", "", "name of this sync, for its state and its import records (default: the table)")
	f.String("state", "", "file that keeps the cursor between runs (default: DATA/sync/NAME.json, or ./kenner-sync-NAME.json with --url)")
	f.Duration("every", 0, "run again at this interval until interrupted (default: run once)")
	addRowFlags(f, "read and check the rows, import nothing and keep the cursor where it is")
	addLogFlags(cmd, batchMemoryLimit)
	addEventFlags(cmd)
	return cmd
}

// syncState is what --state holds.
type syncState struct {
	Name    string        `json:"name"`
	Cursor  dbsync.Cursor `json:"cursor"`
	LastRun time.Time     `json:"last_run"`
	Rows    int           `json:"rows_last_run"`
}

var syncName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)

func runSync(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	str := func(name string) string { v, _ := f.GetString(name); return v }
	spec := dbsync.Spec{DSN: str("from"), Table: str("table"), Query: str("query"), CursorColumn: str("cursor"), IDColumn: str("id")}
	if spec.DSN == "" {
		return usageError{errors.New("--from is required (postgres://... or mysql://...)")}
	}
	name := str("name")
	if name == "" {
		if spec.Table == "" {
			return usageError{errors.New("--name is required with --query")}
		}
		name = spec.Table
	}
	if !syncName.MatchString(name) {
		return usageError{fmt.Errorf("--name %q: use letters, digits, _ . and -", name)}
	}
	every, _ := f.GetDuration("every")
	if every < 0 {
		return usageError{errors.New("--every must be positive")}
	}
	o, err := readImportFlags(cmd, []string{"sync:" + name})
	if err != nil {
		return err
	}
	o.mapping.Format = "ndjson"
	if o.mappingText, err = json.Marshal(o.mapping); err != nil {
		return err
	}
	c, cfg, err := remoteClient(cmd)
	if err != nil {
		return err
	}
	if c != nil {
		if err := refuseEventFlagsRemote(cmd); err != nil {
			return err
		}
	} else if o.match {
		return usageError{fmt.Errorf("--match runs on the server: give --url and --token")}
	}
	statePath := str("state")
	if statePath == "" {
		statePath = filepath.Join(cfg.Data, "sync", name+".json")
		if c != nil {
			statePath = "kenner-sync-" + name + ".json"
		}
	}
	src, err := dbsync.Open(cmd.Context(), spec)
	if err != nil {
		if kenner.ErrorCode(err) == kenner.EInvalid {
			return usageError{errors.New(kenner.ErrorMessage(err))}
		}
		return err
	}
	defer src.Close()

	for {
		err := syncOnce(cmd, c, cfg, o, src, name, statePath)
		if every == 0 || kenner.ErrorCode(err) == kenner.EInvalid || errors.As(err, new(usageError)) {
			return err
		}
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "sync %s: %v (next try in %s)\n", name, err, every)
		}
		select {
		case <-cmd.Context().Done():
			return nil
		case <-time.After(every):
		}
	}
}

// syncOnce reads the rows past the saved cursor and imports them; the cursor moves only when
// both succeeded.
func syncOnce(cmd *cobra.Command, c *apiClient, cfg config, o importFlags, src *dbsync.Source, name, statePath string) error {
	ctx := cmd.Context()
	st := syncState{Name: name}
	if b, err := os.ReadFile(statePath); err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			return usageError{fmt.Errorf("--state %s: %v", statePath, err)}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	readCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	type result struct {
		cur  dbsync.Cursor
		rows int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		cur, n, err := src.Read(readCtx, st.Cursor, pw)
		pw.CloseWithError(err)
		done <- result{cur, n, err}
	}()
	start := time.Now()
	bar := &progressBar{w: cmd.ErrOrStderr(), start: start}
	var rep *kenner.Import
	var err error
	if c != nil {
		rep, err = importRemote(ctx, c, o, pr, 0, bar)
	} else {
		rep, _, err = importLocal(cmd, cfg, o, pr, 0, bar)
	}
	pr.CloseWithError(errors.New("import stopped"))
	cancel()
	res := <-done
	if res.err != nil && !errors.Is(res.err, context.Canceled) {
		return res.err
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "sync %s: %d rows read after %s\n", name, res.rows, describeCursor(st.Cursor))
	printImport(cmd.OutOrStdout(), rep, time.Since(start))
	if o.dryRun {
		return nil
	}
	if o.match && c != nil && res.rows > 0 {
		if err := matchAfter(cmd, c, o, start); err != nil {
			return err
		}
	}
	st.Cursor, st.LastRun, st.Rows = res.cur, time.Now().UTC(), res.rows
	return writeState(statePath, st)
}

func describeCursor(c dbsync.Cursor) string {
	if c.Value == "" {
		return "the start"
	}
	if c.ID != "" {
		return fmt.Sprintf("%s (id %s)", c.Value, c.ID)
	}
	return c.Value
}

// writeState replaces the state file atomically, so that a crash leaves the old cursor or the
// new one, never half of one.
func writeState(path string, st syncState) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
