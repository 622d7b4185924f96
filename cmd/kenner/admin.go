package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/spf13/cobra"
)

// withAdmin runs fn against the server named by --url, or, without --url, directly against the
// store of --data (or --store).
func withAdmin(cmd *cobra.Command, remote func(c *apiClient) error, direct func(l *local) error) error {
	c, cfg, err := remoteClient(cmd)
	if err != nil {
		return err
	}
	if c != nil {
		return remote(c)
	}
	l, err := openLocal(cmd.Context(), cfg, newLogger(cfg, cmd.ErrOrStderr()))
	if err != nil {
		return err
	}
	defer l.store.Close()
	return direct(l)
}

func newSourceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "source", Short: "Manage sources (each has a write key for the tracking API)"}
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a source and print its write key (shown only once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, func(c *apiClient) error {
				var out struct {
					WriteKey string `json:"write_key"`
				}
				if err := c.do(cmd.Context(), "POST", "/v1/sources", map[string]string{"name": args[0]}, &out); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), out.WriteKey)
				return nil
			}, func(l *local) error {
				src, key, err := l.creds.CreateSource(cmd.Context(), l.cfg.Workspace, args[0])
				target := args[0]
				if src != nil {
					target = src.ID
				}
				auditCLI(cmd.Context(), l.store, l.logger, l.cfg.Workspace, "cli source create", target, err)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), key)
				return nil
			})
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List sources",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var sources []kenner.Source
			err := withAdmin(cmd, func(c *apiClient) error {
				var out struct{ Sources []kenner.Source }
				err := c.do(cmd.Context(), "GET", "/v1/sources", nil, &out)
				sources = out.Sources
				return err
			}, func(l *local) (err error) {
				sources, err = l.store.Sources(cmd.Context(), l.cfg.Workspace)
				return err
			})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCREATED")
			for _, s := range sources {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", s.ID, s.Name, s.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(create, list)
	cmd.AddCommand(sourceSettingsCmds()...)
	return cmd
}

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage admin API tokens"}
	create := &cobra.Command{
		Use:   "create --role ROLE [--name NAME] [--expires DURATION]",
		Short: "Create an API token and print only the token (shown only once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			role, _ := cmd.Flags().GetString("role")
			name, _ := cmd.Flags().GetString("name")
			expires, _ := cmd.Flags().GetDuration("expires")
			if role == "" {
				return usageError{fmt.Errorf("--role is required (owner, admin, marketer, analyst or viewer)")}
			}
			if !kenner.Role(role).Valid() {
				return usageError{fmt.Errorf("--role must be one of owner, admin, marketer, analyst, viewer")}
			}
			var exp *time.Time
			if expires < 0 {
				return usageError{fmt.Errorf("--expires must be positive")}
			}
			if expires > 0 {
				t := time.Now().Add(expires).UTC()
				exp = &t
			}
			return withAdmin(cmd, func(c *apiClient) error {
				var out struct{ Token string }
				in := map[string]any{"name": name, "role": role, "expires_at": exp}
				if err := c.do(cmd.Context(), "POST", "/v1/tokens", in, &out); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), out.Token)
				return nil
			}, func(l *local) error {
				tok, secret, err := l.creds.CreateToken(cmd.Context(), l.cfg.Workspace, name, kenner.Role(role), exp)
				target := role
				if tok != nil {
					target = tok.ID + " (" + role + ")"
				}
				auditCLI(cmd.Context(), l.store, l.logger, l.cfg.Workspace, "cli token create", target, err)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), secret)
				return nil
			})
		},
	}
	create.Flags().String("role", "", "owner, admin, marketer, analyst or viewer (required)")
	create.Flags().String("name", "", "a name to recognize the token by")
	create.Flags().Duration("expires", 0, "lifetime, e.g. 720h (default: does not expire)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List API tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var tokens []kenner.Token
			err := withAdmin(cmd, func(c *apiClient) error {
				var out struct{ Tokens []kenner.Token }
				err := c.do(cmd.Context(), "GET", "/v1/tokens", nil, &out)
				tokens = out.Tokens
				return err
			}, func(l *local) (err error) {
				tokens, err = l.store.Tokens(cmd.Context(), l.cfg.Workspace)
				return err
			})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tSTATE")
			now := time.Now()
			for _, t := range tokens {
				state := "active"
				if !t.Active(now) {
					state = "expired or revoked"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, state)
			}
			return tw.Flush()
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, func(c *apiClient) error {
				return c.do(cmd.Context(), "DELETE", "/v1/tokens/"+args[0], nil, nil)
			}, func(l *local) error {
				err := l.creds.RevokeToken(context.WithoutCancel(cmd.Context()), l.cfg.Workspace, args[0])
				auditCLI(cmd.Context(), l.store, l.logger, l.cfg.Workspace, "cli token revoke", args[0], err)
				return err
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
