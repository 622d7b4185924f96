package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/importer"
)

// spendTargets are what a spend import's columns (and constants) fill.
var spendTargets = []string{"date", "source", "medium", "campaign", "amount", "currency"}

// importSpend reads a CSV of ad spend (an ad platform's daily report) through the mapping's
// columns (date, source, medium, campaign, amount, currency; constants for what the file
// does not say) and records it on the server (POST /v1/spend) or in --data.
func importSpend(cmd *cobra.Command, o importFlags, file io.Reader) error {
	m := o.mapping
	cols := map[string]importer.Column{}
	for col, c := range m.Columns {
		if !slices.Contains(spendTargets, c.Target) {
			return usageError{fmt.Errorf("--map: column %q goes to %q; a spend import fills %s", col, c.Target, strings.Join(spendTargets, ", "))}
		}
		cols[col] = c
	}
	consts := map[string]string{}
	for k, v := range m.Constants {
		if !slices.Contains(spendTargets, k) {
			return usageError{fmt.Errorf("--map: constant %q: a spend import fills %s", k, strings.Join(spendTargets, ", "))}
		}
		consts[k] = fmt.Sprint(v)
	}
	r := csv.NewReader(file)
	r.FieldsPerRecord = -1
	if m.Delimiter != "" {
		r.Comma = []rune(m.Delimiter)[0]
	}
	header, err := r.Read()
	if err != nil {
		return usageError{fmt.Errorf("%s: no header line: %w", o.path, err)}
	}
	var rows []kenner.Spend
	var rejected []string
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			rejected = append(rejected, fmt.Sprintf("line %d: %v", line, err))
			continue
		}
		vals := map[string]string{}
		for k, v := range consts {
			vals[k] = v
		}
		var layout string
		for i, h := range header {
			c, ok := cols[strings.TrimSpace(h)]
			if !ok || i >= len(rec) {
				continue
			}
			vals[c.Target] = strings.TrimSpace(rec[i])
			if c.Target == "date" && c.Format != "" {
				layout = importer.Layout(c.Format)
			}
		}
		s := kenner.Spend{Source: vals["source"], Medium: vals["medium"], Campaign: vals["campaign"], Currency: vals["currency"], Day: vals["date"]}
		if layout != "" {
			d, err := time.Parse(layout, vals["date"])
			if err != nil {
				rejected = append(rejected, fmt.Sprintf("line %d: date %q is not %s", line, vals["date"], layout))
				continue
			}
			s.Day = d.Format(time.DateOnly)
		}
		amount := strings.ReplaceAll(vals["amount"], ",", "")
		if s.Amount, err = strconv.ParseFloat(amount, 64); err != nil {
			rejected = append(rejected, fmt.Sprintf("line %d: amount %q is not a number", line, vals["amount"]))
			continue
		}
		if err := s.Check(); err != nil {
			rejected = append(rejected, fmt.Sprintf("line %d: %v", line, err))
			continue
		}
		rows = append(rows, s)
	}
	if !o.dryRun && len(rows) > 0 {
		c, cfg, err := remoteClient(cmd)
		if err != nil {
			return err
		}
		for start := 0; start < len(rows); start += 10000 {
			chunk := rows[start:min(len(rows), start+10000)]
			if c != nil {
				err = c.do(cmd.Context(), "POST", "/v1/spend", map[string]any{"spend": chunk}, nil)
			} else {
				err = withLocalStore(cmd, cfg, func(s kenner.Store) error { return s.PutSpend(cmd.Context(), cfg.Workspace, chunk) })
			}
			if err != nil {
				return err
			}
		}
	}
	verb := "recorded"
	if o.dryRun {
		verb = "would record"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "spend: %s %d rows, rejected %d\n", verb, len(rows), len(rejected))
	for _, r := range rejected[:min(len(rejected), 20)] {
		fmt.Fprintf(cmd.OutOrStdout(), "  %s\n", r)
	}
	if o.strict && len(rejected) > 0 {
		return exitError{code: 1, msg: fmt.Sprintf("%d rows rejected (--strict)", len(rejected))}
	}
	return nil
}

// withLocalStore runs fn on the store in --data, which no server may hold.
func withLocalStore(cmd *cobra.Command, cfg config, fn func(kenner.Store) error) error {
	app, _, closeAll, err := openExclusive(cmd.Context(), cfg, newLogger(cfg, cmd.ErrOrStderr()))
	if err != nil {
		return err
	}
	defer closeAll()
	return fn(app.store)
}
