package main

import (
	"fmt"
	"io"
	"net/url"

	"github.com/spf13/cobra"
)

// newSyncsCmd manages the syncs kenner serve runs on a schedule (kenner sync runs one from
// the command line).
func newSyncsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "syncs", Short: "List, create, run and inspect the syncs a server runs on a schedule (through a running server)"}
	ls := apiCommand("list", "List syncs with their schedule, last run and next run", cobra.NoArgs,
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			var out map[string]any
			if err := c.do(cmd.Context(), "GET", "/v1/syncs", nil, &out); err != nil {
				return nil, nil, err
			}
			return out, func(w io.Writer) error {
				var rows [][]string
				for _, s := range list(out["syncs"]) {
					m := obj(s)
					last := "-"
					if r := obj(m["last_run"]); r != nil {
						last = str(r["status"]) + " " + str(r["started_at"])
					}
					next := str(m["next_run_at"])
					if m["paused"] == true {
						next = "paused"
					}
					rows = append(rows, []string{str(m["id"]), str(m["name"]), str(m["kind"]), str(m["schedule"]), last, next})
				}
				return table(w, "ID\tNAME\tKIND\tSCHEDULE\tLAST RUN\tNEXT RUN", rows)
			}, nil
		})
	create := apiCommand("create FILE", "Create a sync from its JSON definition (FILE, or - for standard input; see the README's Scheduled syncs)", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			def, err := readJSONArg(cmd, args[0])
			if err != nil {
				return nil, nil, err
			}
			var s map[string]any
			if err := c.do(cmd.Context(), "POST", "/v1/syncs", def, &s); err != nil {
				return nil, nil, err
			}
			return s, func(w io.Writer) error {
				return table(w, "ID\tNAME\tKIND\tNEXT RUN", [][]string{{str(s["id"]), str(s["name"]), str(s["kind"]), str(s["next_run_at"])}})
			}, nil
		})
	run := apiCommand("run ID", "Start a run of a sync now, outside its schedule", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			var r map[string]any
			if err := c.do(cmd.Context(), "POST", "/v1/syncs/"+url.PathEscape(args[0])+"/run", nil, &r); err != nil {
				return nil, nil, err
			}
			return r, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "run %s started; kenner syncs runs %s shows how it went\n", str(r["id"]), args[0])
				return err
			}, nil
		})
	runs := apiCommand("runs ID", "List a sync's runs, newest first, with what each did", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			var out map[string]any
			if err := c.do(cmd.Context(), "GET", "/v1/syncs/"+url.PathEscape(args[0])+"/runs", nil, &out); err != nil {
				return nil, nil, err
			}
			return out, func(w io.Writer) error {
				var rows [][]string
				for _, r := range list(out["runs"]) {
					m := obj(r)
					rows = append(rows, []string{str(m["id"]), str(m["started_at"]), str(m["trigger"]), str(m["status"]), str(m["rows"]),
						str(m["imported"]), str(m["deleted"]), fmt.Sprint(len(list(m["files"]))), str(m["error"])})
				}
				return table(w, "RUN\tSTARTED\tBY\tSTATUS\tROWS\tIMPORTED\tDELETED\tFILES\tERROR", rows)
			}, nil
		})
	del := apiCommand("delete ID", "Delete a sync with its runs (what it imported stays)", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			if err := c.do(cmd.Context(), "DELETE", "/v1/syncs/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return nil, nil, err
			}
			return map[string]any{"deleted": args[0]}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "sync %s deleted\n", args[0])
				return err
			}, nil
		})
	cmd.AddCommand(ls, create, run, runs, del)
	return cmd
}
