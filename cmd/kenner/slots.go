package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// readJSONArg reads a JSON object from FILE, or standard input for -.
func readJSONArg(cmd *cobra.Command, name string) (map[string]any, error) {
	var raw []byte
	var err error
	if name == "-" {
		raw, err = io.ReadAll(cmd.InOrStdin())
	} else {
		raw, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, usageError{err}
	}
	var def map[string]any
	if err := json.Unmarshal(raw, &def); err != nil {
		return nil, usageError{fmt.Errorf("%s is not a JSON object: %v", name, err)}
	}
	return def, nil
}

func newSlotsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "slots", Short: "List, create, replace and delete personalization slots (through a running server)"}
	ls := apiCommand("list", "List slots with their variants", cobra.NoArgs,
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			var out map[string]any
			if err := c.do(cmd.Context(), "GET", "/v1/slots", nil, &out); err != nil {
				return nil, nil, err
			}
			return out, func(w io.Writer) error {
				var rows [][]string
				for _, s := range list(out["slots"]) {
					m := obj(s)
					var names []string
					for _, v := range list(m["variants"]) {
						names = append(names, str(obj(v)["name"]))
					}
					rows = append(rows, []string{str(m["id"]), str(m["name"]), strings.Join(names, ","), str(m["holdout"])})
				}
				return table(w, "ID\tNAME\tVARIANTS\tHOLDOUT", rows)
			}, nil
		})
	save := func(use, short, method string) *cobra.Command {
		return apiCommand(use, short, cobra.RangeArgs(1, 2),
			func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
				path, file := "/v1/slots", args[0]
				if method == "PUT" {
					if len(args) != 2 {
						return nil, nil, usageError{fmt.Errorf("replace takes ID FILE")}
					}
					path, file = "/v1/slots/"+url.PathEscape(args[0]), args[1]
				} else if len(args) != 1 {
					return nil, nil, usageError{fmt.Errorf("create takes FILE")}
				}
				def, err := readJSONArg(cmd, file)
				if err != nil {
					return nil, nil, err
				}
				var s map[string]any
				if err := c.do(cmd.Context(), method, path, def, &s); err != nil {
					return nil, nil, err
				}
				return s, func(w io.Writer) error {
					return table(w, "ID\tNAME", [][]string{{str(s["id"]), str(s["name"])}})
				}, nil
			})
	}
	create := save("create FILE", `Create a slot from its JSON definition (FILE, or - for standard input): {"name", "default", "holdout", "personal", "variants": [{"name", "condition", "content", "priority"}]}`, "POST")
	replace := save("replace ID FILE", "Replace a slot's definition", "PUT")
	del := apiCommand("delete ID", "Delete a slot", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *apiClient, args []string) (any, func(io.Writer) error, error) {
			if err := c.do(cmd.Context(), "DELETE", "/v1/slots/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return nil, nil, err
			}
			return map[string]any{"deleted": args[0]}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "deleted %s\n", args[0])
				return err
			}, nil
		})
	cmd.AddCommand(ls, create, replace, del)
	return cmd
}
