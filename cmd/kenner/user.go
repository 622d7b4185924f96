package main

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kenner-cdp/kenner"
)

// newUserCmd manages console users, through a server (--url) or on --data directly.
func newUserCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage console users (email and password sign-in to /console/)"}
	create := &cobra.Command{
		Use:   "create EMAIL --role ROLE [--name NAME]",
		Short: "Create a console user and print their generated password (shown only once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			role, _ := cmd.Flags().GetString("role")
			name, _ := cmd.Flags().GetString("name")
			if !kenner.Role(role).Valid() {
				return usageError{fmt.Errorf("--role must be one of owner, admin, marketer, analyst, viewer")}
			}
			return withAdmin(cmd, func(c *apiClient) error {
				var out struct{ Password string }
				if err := c.do(cmd.Context(), "POST", "/v1/users", map[string]string{"email": args[0], "name": name, "role": role}, &out); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), out.Password)
				return nil
			}, func(l *local) error {
				u, password, err := l.users.Create(cmd.Context(), l.cfg.Workspace, args[0], name, kenner.Role(role), "")
				target := args[0]
				if u != nil {
					target = u.ID
				}
				auditCLI(cmd.Context(), l.store, l.logger, l.cfg.Workspace, "cli user create", target, err)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), password)
				return nil
			})
		},
	}
	create.Flags().String("role", "", "owner, admin, marketer, analyst or viewer (required)")
	create.Flags().String("name", "", "the person's name")
	list := &cobra.Command{
		Use:   "list",
		Short: "List console users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var users []kenner.User
			err := withAdmin(cmd, func(c *apiClient) error {
				var out struct{ Users []kenner.User }
				err := c.do(cmd.Context(), "GET", "/v1/users", nil, &out)
				users = out.Users
				return err
			}, func(l *local) (err error) {
				users, err = l.store.Users(cmd.Context(), l.cfg.Workspace)
				return err
			})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tROLE")
			for _, u := range users {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.ID, u.Email, u.Name, u.Role)
			}
			return tw.Flush()
		},
	}
	// byRef finds a user by id or email.
	byRef := func(users []kenner.User, ref string) (*kenner.User, error) {
		for _, u := range users {
			if u.ID == ref || strings.EqualFold(u.Email, ref) {
				return &u, nil
			}
		}
		return nil, kenner.Errorf(kenner.ENotFound, "no user %q", ref)
	}
	remoteUser := func(cmd *cobra.Command, c *apiClient, ref string) (*kenner.User, error) {
		var out struct{ Users []kenner.User }
		if err := c.do(cmd.Context(), "GET", "/v1/users", nil, &out); err != nil {
			return nil, err
		}
		return byRef(out.Users, ref)
	}
	localUser := func(cmd *cobra.Command, l *local, ref string) (*kenner.User, error) {
		users, err := l.store.Users(cmd.Context(), l.cfg.Workspace)
		if err != nil {
			return nil, err
		}
		return byRef(users, ref)
	}
	del := &cobra.Command{
		Use:   "delete ID|EMAIL",
		Short: "Delete a console user and end their sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, func(c *apiClient) error {
				u, err := remoteUser(cmd, c, args[0])
				if err != nil {
					return err
				}
				return c.do(cmd.Context(), "DELETE", "/v1/users/"+url.PathEscape(u.ID), nil, nil)
			}, func(l *local) error {
				u, err := localUser(cmd, l, args[0])
				if err == nil {
					err = l.store.DeleteUser(cmd.Context(), l.cfg.Workspace, u.ID)
				}
				auditCLI(cmd.Context(), l.store, l.logger, l.cfg.Workspace, "cli user delete", args[0], err)
				return err
			})
		},
	}
	reset := &cobra.Command{
		Use:   "reset-password ID|EMAIL",
		Short: "Give a console user a new generated password (printed once) and end their sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, func(c *apiClient) error {
				u, err := remoteUser(cmd, c, args[0])
				if err != nil {
					return err
				}
				var out struct{ Password string }
				if err := c.do(cmd.Context(), "POST", "/v1/users/"+url.PathEscape(u.ID)+"/password", nil, &out); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), out.Password)
				return nil
			}, func(l *local) error {
				u, err := localUser(cmd, l, args[0])
				var password string
				if err == nil {
					password, err = l.users.SetPassword(cmd.Context(), l.cfg.Workspace, u.ID, "")
				}
				auditCLI(cmd.Context(), l.store, l.logger, l.cfg.Workspace, "cli user reset-password", args[0], err)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), password)
				return nil
			})
		},
	}
	cmd.AddCommand(create, list, del, reset)
	return cmd
}
