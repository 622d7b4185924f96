package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// matchServerCmds are kenner match's commands that run matching over a running server's
// profiles and work through its review queue.
func matchServerCmds() []*cobra.Command {
	run := apiCommand("run", "Match the workspace's profiles on a running server (merge the sure pairs, queue the likely ones for review)", cobra.NoArgs,
		func(cmd *cobra.Command, c *apiClient, _ []string) (any, func(io.Writer) error, error) {
			f := cmd.Flags()
			params := map[string]any{}
			if file, _ := f.GetString("file"); file != "" {
				b, err := os.ReadFile(file)
				if err != nil {
					return nil, nil, usageError{err}
				}
				if err := json.Unmarshal(b, &params); err != nil {
					return nil, nil, usageError{fmt.Errorf("--file %s: %w", file, err)}
				}
			}
			if v, _ := f.GetBool("dry-run"); v {
				params["dry_run"] = true
			}
			for flag, key := range map[string]string{"merge-probability": "merge_probability", "review-probability": "review_probability"} {
				if f.Changed(flag) {
					params[key], _ = f.GetFloat64(flag)
				}
			}
			if since, _ := f.GetString("since"); since != "" {
				t, err := time.Parse(time.RFC3339, since)
				if err != nil {
					return nil, nil, usageError{fmt.Errorf("--since: want an RFC 3339 time (2026-12-01T00:00:00Z): %w", err)}
				}
				params["since"] = t
			}
			var m map[string]any
			if err := c.do(cmd.Context(), "POST", "/v1/match/runs", params, &m); err != nil {
				return nil, nil, err
			}
			if wait, _ := f.GetBool("wait"); wait {
				if err := awaitRun(cmd, c, m); err != nil {
					return nil, nil, err
				}
			}
			return m, func(w io.Writer) error { return renderRun(w, m) }, nil
		})
	rf := run.Flags()
	rf.String("file", "", "JSON file with the run's parameters (fields, blocking, thresholds): see the API's MatchParams")
	rf.Bool("dry-run", false, "report what would merge and go to review, change nothing")
	rf.Float64("merge-probability", 0, "merge pairs at or above this probability of matching (default 0.99)")
	rf.Float64("review-probability", 0, "queue pairs from this probability up to the merge threshold for review (default 0.5)")
	rf.String("since", "", "only pairs with a profile changed at or after this time (RFC 3339)")
	rf.Bool("wait", false, "wait until the run ends; exit 1 when it failed")

	runs := apiCommand("runs", "List the match runs and the review queue's counts", cobra.NoArgs,
		func(cmd *cobra.Command, c *apiClient, _ []string) (any, func(io.Writer) error, error) {
			var out map[string]any
			if err := c.do(cmd.Context(), "GET", "/v1/match/runs", nil, &out); err != nil {
				return nil, nil, err
			}
			return out, func(w io.Writer) error {
				var rows [][]string
				for _, r := range list(out["runs"]) {
					r := obj(r)
					rows = append(rows, []string{str(r["id"]), str(r["status"]), str(r["created_at"]), str(r["message"])})
				}
				if err := table(w, "ID\tSTATUS\tSTARTED\tSUMMARY", rows); err != nil {
					return err
				}
				_, err := fmt.Fprintf(w, "reviews: %v\n", out["reviews"])
				return err
			}, nil
		})

	show := apiCommand("show RUN", "Show a match run: its summary, the estimated parameters and the threshold curve", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			var m map[string]any
			if err := c.do(cmd.Context(), "GET", "/v1/match/runs/"+url.PathEscape(args[0]), nil, &m); err != nil {
				return nil, nil, err
			}
			return m, func(w io.Writer) error { return renderRun(w, m) }, nil
		})

	reviews := apiCommand("reviews", "List the pairs waiting for review, side by side", cobra.NoArgs,
		func(cmd *cobra.Command, c *apiClient, _ []string) (any, func(io.Writer) error, error) {
			status, _ := cmd.Flags().GetString("status")
			var out map[string]any
			if err := c.do(cmd.Context(), "GET", "/v1/match/reviews?status="+url.QueryEscape(status), nil, &out); err != nil {
				return nil, nil, err
			}
			return out, func(w io.Writer) error {
				var rows [][]string
				for _, r := range list(out["reviews"]) {
					r := obj(r)
					rows = append(rows, []string{str(r["id"]), str(r["status"]), fmt.Sprintf("%.2f", num(r["weight"])),
						fmt.Sprintf("%.3f", num(r["probability"])), sideText(obj(r["a"])), sideText(obj(r["b"]))})
				}
				return table(w, "ID\tSTATUS\tWEIGHT\tP\tA\tB", rows)
			}, nil
		})
	reviews.Flags().String("status", "pending", "pending, accepted, rejected or any")

	decide := func(verb, short string) *cobra.Command {
		return apiCommand(verb+" REVIEW", short, cobra.ExactArgs(1),
			func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
				var m map[string]any
				if err := c.do(cmd.Context(), "POST", "/v1/match/reviews/"+url.PathEscape(args[0])+"/"+verb, nil, &m); err != nil {
					return nil, nil, err
				}
				return m, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "review %s %s: %s and %s\n", str(m["id"]), str(m["status"]), str(obj(m["a"])["profile_id"]), str(obj(m["b"])["profile_id"]))
					return err
				}, nil
			})
	}
	return []*cobra.Command{run, runs, show, reviews,
		decide("accept", "Accept a review: the two profiles are merged (a split undoes it)"),
		decide("reject", "Reject a review: the pair never comes back to review nor merges")}
}

// awaitRun follows a run until it ends, showing its phase.
func awaitRun(cmd *cobra.Command, c *apiClient, m map[string]any) error {
	bar := &progressBar{w: cmd.ErrOrStderr(), on: isTerminal(cmd.ErrOrStderr()), start: time.Now()}
	for str(m["status"]) == "running" {
		select {
		case <-cmd.Context().Done():
			return cmd.Context().Err()
		case <-time.After(250 * time.Millisecond):
		}
		what := "matching: " + time.Since(bar.start).Round(time.Second).String()
		if p := obj(m["progress"]); p != nil {
			what = "matching: " + str(p["phase"])
		}
		bar.draw(0, what, "")
		id := str(m["id"])
		if err := c.do(cmd.Context(), "GET", "/v1/match/runs/"+url.PathEscape(id), nil, &m); err != nil {
			return err
		}
	}
	bar.finish()
	if str(m["status"]) == "failed" {
		return fmt.Errorf("match run %s failed: %s", str(m["id"]), str(m["message"]))
	}
	return nil
}

// renderRun prints a run's summary, its parameters per field and its threshold curve.
func renderRun(w io.Writer, m map[string]any) error {
	fmt.Fprintf(w, "%s  %s  %s\n", str(m["id"]), str(m["status"]), str(m["message"]))
	res := obj(m["result"])
	if res == nil {
		return nil
	}
	fmt.Fprintf(w, "candidate pairs per rule: %v\nthresholds: merge at weight %v, review from %v; skipped: %v\n",
		res["candidate_pairs_per_rule"], res["merge_weight"], res["review_weight"], res["skipped"])
	model := obj(res["model"])
	fmt.Fprintf(w, "λ = %.4f after %v EM iterations\n", num(model["lambda"]), model["iterations"])
	var rows [][]string
	for _, f := range list(model["fields"]) {
		f := obj(f)
		for _, l := range list(f["levels"]) {
			l := obj(l)
			rows = append(rows, []string{str(f["name"]), str(l["level"]), fmt.Sprintf("%.4f", num(l["m"])), fmt.Sprintf("%.4f", num(l["u"])), fmt.Sprintf("%+.2f", num(l["weight"]))})
		}
	}
	if err := table(w, "FIELD\tLEVEL\tM\tU\tWEIGHT", rows); err != nil {
		return err
	}
	rows = nil
	for _, p := range list(res["threshold_curve"]) {
		p := obj(p)
		rows = append(rows, []string{fmt.Sprintf("%.0f", num(p["weight"])), fmt.Sprintf("%.4f", num(p["probability"])), str(p["pairs"]),
			fmt.Sprintf("%.4f", num(p["expected_precision"])), fmt.Sprintf("%.4f", num(p["expected_recall"]))})
	}
	return table(w, "WEIGHT\tP(MATCH)\tPAIRS\tEXP. PRECISION\tEXP. RECALL", rows)
}

func sideText(s map[string]any) string {
	var parts []string
	for _, k := range sortedKeys(obj(s["values"])) {
		parts = append(parts, str(obj(s["values"])[k]))
	}
	return str(s["profile_id"]) + " " + strings.Join(parts, " ")
}

// matchAfter runs matching on the server for the records an import or a sync just brought:
// the profiles changed since it started (a minute earlier, for clocks that differ), against
// every profile and each other; it waits for the run and prints its summary.
func matchAfter(cmd *cobra.Command, c *apiClient, o importFlags, started time.Time) error {
	params := map[string]any{}
	for k, v := range o.matchParams {
		params[k] = v
	}
	params["since"] = started.Add(-time.Minute).UTC()
	var m map[string]any
	if err := c.do(cmd.Context(), "POST", "/v1/match/runs", params, &m); err != nil {
		return fmt.Errorf("match: %w", err)
	}
	if err := awaitRun(cmd, c, m); err != nil {
		return err
	}
	_, err := fmt.Fprintf(cmd.OutOrStdout(), "match run %s: %s\n", str(m["id"]), str(m["message"]))
	return err
}
