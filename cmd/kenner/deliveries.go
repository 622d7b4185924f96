package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kenner-cdp/kenner"
)

func newDeliveriesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "deliveries", Short: "Inspect destinations' delivery logs and dead letters, and replay them"}
	list := &cobra.Command{
		Use:   "list DESTINATION [--status pending|delivered|dead] [--limit N]",
		Short: "List a destination's deliveries, newest first (DESTINATION: its id or name)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			status, _ := cmd.Flags().GetString("status")
			limit, _ := cmd.Flags().GetInt("limit")
			switch status {
			case "", kenner.DeliveryPending, kenner.DeliveryDelivered, kenner.DeliveryDead:
			default:
				return usageError{fmt.Errorf("--status must be pending, delivered or dead, not %q", status)}
			}
			if limit < 1 || limit > 1000 {
				return usageError{fmt.Errorf("--limit must be between 1 and 1000")}
			}
			var ds []kenner.Delivery
			err := withAdmin(cmd, func(c *apiClient) error {
				d, err := remoteDestination(cmd.Context(), c, args[0])
				if err != nil {
					return err
				}
				q := url.Values{"limit": {strconv.Itoa(limit)}}
				if status != "" {
					q.Set("status", status)
				}
				var out struct{ Deliveries []kenner.Delivery }
				err = c.do(cmd.Context(), "GET", "/v1/destinations/"+d.ID+"/deliveries?"+q.Encode(), nil, &out)
				ds = out.Deliveries
				return err
			}, func(l *local) error {
				d, err := localDestination(cmd.Context(), l, args[0])
				if err != nil {
					return err
				}
				ds, err = l.store.Deliveries(cmd.Context(), kenner.DeliveryFilter{WorkspaceID: l.cfg.Workspace, DestinationID: d.ID, Status: status, Limit: limit})
				return err
			})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTYPE\tSTATUS\tATTEMPTS\tCREATED\tKEY\tLAST ERROR")
			for _, d := range ds {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.Type, d.Status, d.Attempts, d.CreatedAt.Format(time.RFC3339), d.Key, d.LastError)
			}
			return tw.Flush()
		},
	}
	list.Flags().String("status", "", "only deliveries in this state (dead: the dead letters)")
	list.Flags().Int("limit", 50, "how many")

	show := &cobra.Command{
		Use:   "show DESTINATION DELIVERY_ID",
		Short: "Print one delivery with its payload and every attempt, as JSON",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("DELIVERY_ID must be a number, not %q", args[1])}
			}
			var out any
			err = withAdmin(cmd, func(c *apiClient) error {
				d, err := remoteDestination(cmd.Context(), c, args[0])
				if err != nil {
					return err
				}
				return c.do(cmd.Context(), "GET", fmt.Sprintf("/v1/destinations/%s/deliveries/%d", d.ID, id), nil, &out)
			}, func(l *local) error {
				dest, err := localDestination(cmd.Context(), l, args[0])
				if err != nil {
					return err
				}
				d, err := l.store.Delivery(cmd.Context(), l.cfg.Workspace, id)
				if err != nil {
					return err
				}
				if d.DestinationID != dest.ID {
					return kenner.Errorf(kenner.ENotFound, "no delivery %d for destination %s", id, dest.ID)
				}
				attempts, err := l.store.Attempts(cmd.Context(), id)
				out = map[string]any{"delivery": d, "attempts": attempts}
				return err
			})
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}

	replay := &cobra.Command{
		Use:   "replay DESTINATION [DELIVERY_ID...]",
		Short: "Queue dead letters again: the ones named, or all of the destination's",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ids []int64
			for _, a := range args[1:] {
				id, err := strconv.ParseInt(a, 10, 64)
				if err != nil {
					return usageError{fmt.Errorf("DELIVERY_ID must be a number, not %q", a)}
				}
				ids = append(ids, id)
			}
			var n int
			err := withAdmin(cmd, func(c *apiClient) error {
				d, err := remoteDestination(cmd.Context(), c, args[0])
				if err != nil {
					return err
				}
				var out struct{ Requeued int }
				err = c.do(cmd.Context(), "POST", "/v1/destinations/"+d.ID+"/dead-letters/replay", map[string]any{"ids": ids}, &out)
				n = out.Requeued
				return err
			}, func(l *local) error {
				d, err := localDestination(cmd.Context(), l, args[0])
				if err != nil {
					return err
				}
				n, err = l.store.Requeue(cmd.Context(), l.cfg.Workspace, d.ID, ids)
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "requeued %d\n", n)
			return nil
		},
	}
	cmd.AddCommand(list, show, replay)
	return cmd
}

// findDestination picks a destination by id or name.
func findDestination(ds []kenner.Destination, ref string) (*kenner.Destination, error) {
	for _, d := range ds {
		if d.ID == ref || d.Name == ref {
			return &d, nil
		}
	}
	return nil, kenner.Errorf(kenner.ENotFound, "no destination %q", ref)
}

func remoteDestination(ctx context.Context, c *apiClient, ref string) (*kenner.Destination, error) {
	var out struct{ Destinations []kenner.Destination }
	if err := c.do(ctx, "GET", "/v1/destinations", nil, &out); err != nil {
		return nil, err
	}
	return findDestination(out.Destinations, ref)
}

func localDestination(ctx context.Context, l *local, ref string) (*kenner.Destination, error) {
	ds, err := l.store.Destinations(ctx, l.cfg.Workspace)
	if err != nil {
		return nil, err
	}
	return findDestination(ds, ref)
}
