package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// The profiles, segments and destinations commands are the admin API on the command line:
// each needs --url and --token (a running server), prints a readable table, or with --json
// the API's answer as it is, for scripts.

// apiCommand is a command that calls the API and prints its answer: render writes the table.
func apiCommand(use, short string, args cobra.PositionalArgs, call func(cmd *cobra.Command, c *apiClient, args []string) (any, func(w io.Writer) error, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use: use, Short: short, Args: args,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := remoteClient(cmd)
			if err != nil {
				return err
			}
			if c == nil {
				return usageError{fmt.Errorf("this command calls a running server: give --url and --token (or KENNER_URL and KENNER_TOKEN)")}
			}
			out, render, err := call(cmd, c, args)
			if err != nil {
				return err
			}
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON || render == nil {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			return render(cmd.OutOrStdout())
		},
	}
	cmd.Flags().Bool("json", false, "print the API's JSON answer instead of a table")
	return cmd
}

// table writes rows under a header, aligned.
func table(w io.Writer, header string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// str renders a JSON value for a table cell.
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprint(int64(x))
		}
		return fmt.Sprint(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func list(v any) []any { l, _ := v.([]any); return l }

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func newProfilesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "profiles", Short: "Look at people's profiles (through a running server)"}
	get := apiCommand("get KIND:VALUE", "Show a profile: identities, traits, computed traits, segments, consent", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			var p map[string]any
			if err := c.do(cmd.Context(), "GET", "/v1/profiles/"+url.PathEscape(args[0]), nil, &p); err != nil {
				return nil, nil, err
			}
			return p, func(w io.Writer) error {
				var rows [][]string
				rows = append(rows, []string{"id", str(p["id"])}, []string{"first seen", str(p["first_seen"])}, []string{"last seen", str(p["last_seen"])})
				for _, id := range list(p["identities"]) {
					rows = append(rows, []string{"identity", str(obj(id)["kind"]) + ":" + str(obj(id)["value"])})
				}
				for _, k := range sortedKeys(obj(p["traits"])) {
					rows = append(rows, []string{"trait " + k, str(obj(p["traits"])[k])})
				}
				for _, k := range sortedKeys(obj(p["computed"])) {
					rows = append(rows, []string{"computed " + k, str(obj(p["computed"])[k])})
				}
				for _, s := range list(p["segments"]) {
					rows = append(rows, []string{"segment", str(s)})
				}
				for _, k := range sortedKeys(obj(p["consent"])) {
					rows = append(rows, []string{"consent " + k, str(obj(obj(p["consent"])[k])["granted"])})
				}
				return table(w, "FIELD\tVALUE", rows)
			}, nil
		})
	events := apiCommand("events KIND:VALUE [--limit N]", "Show a profile's timeline across its devices, newest first", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			limit, _ := cmd.Flags().GetInt("limit")
			var out map[string]any
			if err := c.do(cmd.Context(), "GET", fmt.Sprintf("/v1/profiles/%s/events?limit=%d", url.PathEscape(args[0]), limit), nil, &out); err != nil {
				return nil, nil, err
			}
			return out, func(w io.Writer) error {
				var rows [][]string
				for _, e := range list(out["events"]) {
					m := obj(e)
					name := str(m["event"])
					if name == "" {
						name = str(m["name"])
					}
					rows = append(rows, []string{str(m["timestamp"]), str(m["type"]), name, str(m["messageId"])})
				}
				return table(w, "TIME\tTYPE\tEVENT\tMESSAGE ID", rows)
			}, nil
		})
	events.Flags().Int("limit", 50, "how many events (at most 1000)")
	merges := apiCommand("merges KIND:VALUE", "Show a profile's identity decisions (merges, protections, splits) with why", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			var out map[string]any
			if err := c.do(cmd.Context(), "GET", "/v1/profiles/"+url.PathEscape(args[0])+"/merges", nil, &out); err != nil {
				return nil, nil, err
			}
			return out, func(w io.Writer) error {
				var rows [][]string
				for _, d := range list(out["merges"]) {
					m := obj(d)
					id := obj(m["identifier"])
					rows = append(rows, []string{str(m["at"]), str(m["action"]), str(id["kind"]) + ":" + str(id["value"]), str(m["from"]), str(m["reason"])})
				}
				return table(w, "AT\tACTION\tIDENTIFIER\tFROM\tWHY", rows)
			}, nil
		})
	cmd.AddCommand(get, events, merges)
	return cmd
}

func newSegmentsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "segments", Short: "List, create and preview segments (through a running server)"}
	ls := apiCommand("list", "List segments with their member counts (counted now) and state", cobra.NoArgs,
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			var out map[string]any
			if err := c.do(cmd.Context(), "GET", "/v1/segments?live=true", nil, &out); err != nil {
				return nil, nil, err
			}
			return out, func(w io.Writer) error {
				var rows [][]string
				for _, s := range list(out["segments"]) {
					m := obj(s)
					rows = append(rows, []string{str(m["id"]), str(m["name"]), str(m["members"]), str(m["state"]), str(m["condition"])})
				}
				return table(w, "ID\tNAME\tMEMBERS\tSTATE\tCONDITION", rows)
			}, nil
		})
	create := apiCommand("create NAME CONDITION", "Create a segment and wait for its members to be built (with a progress bar on a terminal)", cobra.ExactArgs(2),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			var seg map[string]any
			if err := c.do(cmd.Context(), "POST", "/v1/segments", map[string]string{"name": args[0], "condition": args[1]}, &seg); err != nil {
				return nil, nil, err
			}
			noWait, _ := cmd.Flags().GetBool("no-wait")
			if !noWait {
				bar := &progressBar{w: cmd.ErrOrStderr(), on: isTerminal(cmd.ErrOrStderr()), start: time.Now()}
				for str(seg["state"]) == "building" {
					if total := int64(num(seg["total"])); total > 0 {
						bar.total = total
					}
					done := int64(num(seg["processed"]))
					bar.draw(done, fmt.Sprintf("%d profiles evaluated", done), fmt.Sprintf("%.0f profiles/s", float64(done)/max(time.Since(bar.start).Seconds(), 1e-3)))
					select {
					case <-cmd.Context().Done():
						bar.finish()
						return nil, nil, cmd.Context().Err()
					case <-time.After(250 * time.Millisecond):
					}
					if err := c.do(cmd.Context(), "GET", "/v1/segments/"+str(seg["id"]), nil, &seg); err != nil {
						bar.finish()
						return nil, nil, err
					}
				}
				bar.finish()
			}
			return seg, func(w io.Writer) error {
				return table(w, "ID\tNAME\tMEMBERS\tSTATE", [][]string{{str(seg["id"]), str(seg["name"]), str(seg["members"]), str(seg["state"])}})
			}, nil
		})
	create.Flags().Bool("no-wait", false, "return at once instead of waiting for the build")
	preview := apiCommand("preview CONDITION", "How many profiles a condition selects, with a sample, without saving it", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			var out map[string]any
			if err := c.do(cmd.Context(), "POST", "/v1/segments/preview", map[string]any{"condition": args[0]}, &out); err != nil {
				return nil, nil, err
			}
			return out, func(w io.Writer) error {
				fmt.Fprintf(w, "%s of %s profiles match (%s failed to evaluate) in %s ms\n", str(out["count"]), str(out["evaluated"]), str(out["errors"]), str(out["took_ms"]))
				for _, m := range list(out["error_messages"]) {
					fmt.Fprintf(w, "  why: %s\n", str(m))
				}
				var rows [][]string
				for _, p := range list(out["sample"]) {
					var ids []string
					for _, id := range list(obj(p)["identities"]) {
						ids = append(ids, str(obj(id)["kind"])+":"+str(obj(id)["value"]))
					}
					rows = append(rows, []string{str(obj(p)["id"]), strings.Join(ids, " ")})
				}
				if len(rows) == 0 {
					return nil
				}
				return table(w, "SAMPLE\tIDENTITIES", rows)
			}, nil
		})
	members := apiCommand("members ID [--csv]", "List a segment's members (--csv: every member with identifiers, as the API's CSV)", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			if asCSV, _ := cmd.Flags().GetBool("csv"); asCSV {
				return nil, func(w io.Writer) error {
					return c.download(cmd.Context(), "/v1/segments/"+url.PathEscape(args[0])+"/members?format=csv", w)
				}, nil
			}
			limit, _ := cmd.Flags().GetInt("limit")
			var out map[string]any
			if err := c.do(cmd.Context(), "GET", fmt.Sprintf("/v1/segments/%s/members?limit=%d", url.PathEscape(args[0]), limit), nil, &out); err != nil {
				return nil, nil, err
			}
			return out, func(w io.Writer) error {
				var rows [][]string
				for _, m := range list(out["members"]) {
					rows = append(rows, []string{str(obj(m)["profile_id"]), str(obj(m)["since"])})
				}
				return table(w, "PROFILE\tSINCE", rows)
			}, nil
		})
	members.Flags().Int("limit", 100, "how many members (at most 1000)")
	members.Flags().Bool("csv", false, "every member with their identifiers, as CSV")
	cmd.AddCommand(ls, create, preview, members)
	return cmd
}

func num(v any) float64 { f, _ := v.(float64); return f }

func newDestinationsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "destinations", Short: "List, create and test destinations (through a running server)"}
	ls := apiCommand("list", "List destinations with their queue depth", cobra.NoArgs,
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			var out map[string]any
			if err := c.do(cmd.Context(), "GET", "/v1/destinations", nil, &out); err != nil {
				return nil, nil, err
			}
			return out, func(w io.Writer) error {
				var rows [][]string
				for _, d := range list(out["destinations"]) {
					m := obj(d)
					state := "active"
					if m["paused"] == true {
						state = "paused"
					}
					rows = append(rows, []string{str(m["id"]), str(m["name"]), str(m["type"]), str(m["pending"]), state})
				}
				return table(w, "ID\tNAME\tTYPE\tPENDING\tSTATE", rows)
			}, nil
		})
	create := apiCommand("create FILE", "Create a destination from its JSON definition (FILE, or - for standard input)", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			def, err := readJSONArg(cmd, args[0])
			if err != nil {
				return nil, nil, err
			}
			var d map[string]any
			if err := c.do(cmd.Context(), "POST", "/v1/destinations", def, &d); err != nil {
				return nil, nil, err
			}
			return d, func(w io.Writer) error {
				return table(w, "ID\tNAME\tTYPE", [][]string{{str(d["id"]), str(d["name"]), str(d["type"])}})
			}, nil
		})
	test := apiCommand("test ID", "Send one test message to a destination now and show what the receiver answered", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			var out map[string]any
			if err := c.do(cmd.Context(), "POST", "/v1/destinations/"+url.PathEscape(args[0])+"/test", nil, &out); err != nil {
				return nil, nil, err
			}
			if out["delivered"] != true {
				return out, func(w io.Writer) error {
					fmt.Fprintf(w, "not delivered: %s %s %s (%s ms)\n", str(out["status"]), str(out["error"]), str(out["response"]), str(out["latency_ms"]))
					return exitError{code: 1, msg: "the test message was not delivered"}
				}, nil
			}
			return out, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "delivered: %s %s (%s ms)\n", str(out["status"]), str(out["response"]), str(out["latency_ms"]))
				return err
			}, nil
		})
	cmd.AddCommand(ls, create, test)
	return cmd
}
