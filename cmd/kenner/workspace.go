package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/auth"
	"github.com/spf13/cobra"
)

func newWorkspaceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "workspace", Short: "Manage workspaces (tenants: an agency's clients, a group's brands)",
		Long: `Every source, token, console user, profile and event belongs to one workspace, and nothing
crosses from one to another. The workspace made on the first start belongs to the deployment: its
owners (with --url, an owner token of it) create and delete the others. Admin commands act on the
workspace of their token with --url, and on --workspace (default ws_default) without it.`}
	create := &cobra.Command{
		Use:   "create NAME [--owner-email EMAIL]",
		Short: "Create a workspace and print its write key, owner token and owner console login as JSON (shown only once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			email, _ := cmd.Flags().GetString("owner-email")
			var made auth.NewWorkspace
			err := withAdmin(cmd, func(c *apiClient) error {
				return c.do(cmd.Context(), "POST", "/v1/workspaces", map[string]string{"name": args[0], "owner_email": email}, &made)
			}, func(l *local) error {
				m, err := auth.CreateWorkspace(cmd.Context(), l.store, l.creds, l.users, &kenner.Workspace{Name: args[0]}, email)
				target := args[0]
				if m != nil {
					made, target = *m, m.Workspace.ID
				}
				auditCLI(cmd.Context(), l.store, l.logger, bootstrapWorkspace, "cli workspace create", target, err)
				return err
			})
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(made)
		},
	}
	create.Flags().String("owner-email", "", "console login of the workspace's owner (default owner@<id>.kenner.local)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List workspaces",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var wss []kenner.Workspace
			err := withAdmin(cmd, func(c *apiClient) error {
				var out struct{ Workspaces []kenner.Workspace }
				err := c.do(cmd.Context(), "GET", "/v1/workspaces", nil, &out)
				wss = out.Workspaces
				return err
			}, func(l *local) (err error) {
				wss, err = l.store.Workspaces(cmd.Context())
				return err
			})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCREATED")
			for _, w := range wss {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", w.ID, w.Name, w.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	del := &cobra.Command{
		Use:   "delete ID --yes",
		Short: "Delete a workspace with everything it holds (people, events, configuration, console users); cannot be undone",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if yes, _ := cmd.Flags().GetBool("yes"); !yes {
				return usageError{fmt.Errorf("deleting workspace %s removes all it holds and cannot be undone; run again with --yes", args[0])}
			}
			id := args[0]
			err := withAdmin(cmd, func(c *apiClient) error {
				return c.do(cmd.Context(), "DELETE", "/v1/workspaces/"+url.PathEscape(id)+"?confirm="+url.QueryEscape(id), nil, nil)
			}, func(l *local) error {
				var err error
				if id == bootstrapWorkspace {
					err = kenner.Errorf(kenner.EConflict, "the deployment's first workspace cannot be deleted: its owners manage the others")
				} else {
					err = l.store.DeleteWorkspace(cmd.Context(), id)
				}
				auditCLI(cmd.Context(), l.store, l.logger, bootstrapWorkspace, "cli workspace delete", id, err)
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted workspace %s\n", id)
			return nil
		},
	}
	del.Flags().Bool("yes", false, "confirm the deletion")
	cmd.AddCommand(create, list, del)
	return cmd
}
