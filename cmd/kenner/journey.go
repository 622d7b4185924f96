package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

func newJourneyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "journey", Short: "Define, publish and follow journeys (through a running server)",
		Long: `A journey takes people who enter a segment, do an event, reach a date or are in a one-off
audience through waits, branches, emails, destination sends and trait updates (see the README's
"Journeys and email" for the definition's fields).

Examples:
  kenner journey create --file winback.json
  kenner journey publish win-back
  kenner journey report win-back
  kenner journey pause win-back
  kenner journey list`}

	ls := apiCommand("list", "List journeys with their status and counts", cobra.NoArgs,
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			var out map[string]any
			if err := c.do(cmd.Context(), "GET", "/v1/journeys", nil, &out); err != nil {
				return nil, nil, err
			}
			return out, func(w io.Writer) error {
				var rows [][]string
				for _, j := range list(out["journeys"]) {
					j := obj(j)
					var rep map[string]any
					c.do(cmd.Context(), "GET", "/v1/journeys/"+url.PathEscape(str(j["id"]))+"/report", nil, &rep)
					rows = append(rows, []string{str(j["id"]), str(j["name"]), str(j["status"]), str(j["version"]),
						str(rep["entered"]), str(rep["active"]), str(rep["converted"])})
				}
				return table(w, "ID\tNAME\tSTATUS\tVERSION\tENTERED\tIN IT NOW\tCONVERTED", rows)
			}, nil
		})

	create := apiCommand("create --file FILE", "Create a draft journey from a JSON definition (FILE, or - for standard input)", cobra.NoArgs,
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			file, _ := cmd.Flags().GetString("file")
			if file == "" {
				return nil, nil, usageError{fmt.Errorf("--file is required: the journey's JSON definition")}
			}
			def, err := readJSONArg(cmd, file)
			if err != nil {
				return nil, nil, err
			}
			var j map[string]any
			if err := c.do(cmd.Context(), "POST", "/v1/journeys", def, &j); err != nil {
				return nil, nil, err
			}
			return j, journeyRow(j), nil
		})
	create.Flags().String("file", "", "the journey's JSON definition (FILE, or - for standard input)")

	update := apiCommand("update JOURNEY --file FILE", "Replace a journey's draft (people in it stay on their version until it is published)", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			id, err := journeyID(cmd.Context(), c, args[0])
			if err != nil {
				return nil, nil, err
			}
			file, _ := cmd.Flags().GetString("file")
			if file == "" {
				return nil, nil, usageError{fmt.Errorf("--file is required: the journey's JSON definition")}
			}
			def, err := readJSONArg(cmd, file)
			if err != nil {
				return nil, nil, err
			}
			var j map[string]any
			if err := c.do(cmd.Context(), "PUT", "/v1/journeys/"+url.PathEscape(id), def, &j); err != nil {
				return nil, nil, err
			}
			return j, journeyRow(j), nil
		})
	update.Flags().String("file", "", "the journey's JSON definition (FILE, or - for standard input)")

	action := func(name, short string) *cobra.Command {
		return apiCommand(name+" JOURNEY", short, cobra.ExactArgs(1),
			func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
				id, err := journeyID(cmd.Context(), c, args[0])
				if err != nil {
					return nil, nil, err
				}
				var body any
				if name == "publish" {
					migrate, _ := cmd.Flags().GetBool("migrate")
					body = map[string]bool{"migrate": migrate}
				}
				var out map[string]any
				if err := c.do(cmd.Context(), "POST", "/v1/journeys/"+url.PathEscape(id)+"/"+name, body, &out); err != nil {
					return nil, nil, err
				}
				if j := obj(out["journey"]); j != nil {
					out = j // archive answers {"journey", "exited"}
				}
				return out, journeyRow(out), nil
			})
	}
	publish := action("publish", "Publish the draft as the next version (refused with the step and reason when it cannot run)")
	publish.Flags().Bool("migrate", false, "move the people in flight to the new version where the step they are at still exists")
	pause := action("pause", "Pause a live journey: nobody enters or moves until it is resumed")
	resume := action("resume", "Resume a paused journey")
	archive := action("archive", "Archive a journey: everyone still in it exits")

	report := apiCommand("report JOURNEY", "Show a journey's counts, per step", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			id, err := journeyID(cmd.Context(), c, args[0])
			if err != nil {
				return nil, nil, err
			}
			var rep map[string]any
			if err := c.do(cmd.Context(), "GET", "/v1/journeys/"+url.PathEscape(id)+"/report", nil, &rep); err != nil {
				return nil, nil, err
			}
			return rep, func(w io.Writer) error {
				rows := [][]string{}
				for _, k := range []string{"entered", "active", "waiting", "completed", "exited", "converted", "control", "sends", "opens", "clicks", "unsubscribes"} {
					rows = append(rows, []string{"(journey)", k, str(rep[k])})
				}
				for step, m := range obj(rep["steps"]) {
					for k, v := range obj(m) {
						rows = append(rows, []string{step, k, str(v)})
					}
				}
				return table(w, "STEP\tCOUNT\tN", rows)
			}, nil
		})

	cmd.AddCommand(ls, create, update, publish, pause, resume, archive, report)
	return cmd
}

func journeyRow(j map[string]any) func(io.Writer) error {
	return func(w io.Writer) error {
		return table(w, "ID\tNAME\tSTATUS\tVERSION", [][]string{{str(j["id"]), str(j["name"]), str(j["status"]), str(j["version"])}})
	}
}

// journeyID finds a journey by id or name.
func journeyID(ctx context.Context, c *apiClient, ref string) (string, error) {
	if strings.HasPrefix(ref, "jrn_") {
		return ref, nil
	}
	var out map[string]any
	if err := c.do(ctx, "GET", "/v1/journeys", nil, &out); err != nil {
		return "", err
	}
	for _, j := range list(out["journeys"]) {
		if str(obj(j)["name"]) == ref {
			return str(obj(j)["id"]), nil
		}
	}
	return "", usageError{fmt.Errorf("no journey named %q (kenner journey list shows them)", ref)}
}
