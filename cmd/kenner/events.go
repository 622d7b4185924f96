package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/spf13/cobra"
)

func newEventsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "events", Short: "Inspect accepted events"}
	tail := &cobra.Command{
		Use:   "tail",
		Short: "Print accepted events as they arrive, one JSON object per line (the live debugger)",
		Args:  cobra.NoArgs,
		RunE:  runTail,
	}
	f := tail.Flags()
	f.IntP("lines", "n", 10, "how many recent events to print first")
	f.Bool("follow", true, "keep printing new events until interrupted")
	f.String("user-id", "", "only events with this userId")
	f.String("anonymous-id", "", "only events with this anonymousId")
	f.Duration("interval", 500*time.Millisecond, "how often to poll for new events")
	cmd.AddCommand(tail)
	return cmd
}

// tailEvent is one listed event: its place in the log and its JSON.
type tailEvent struct {
	seq       uint64
	messageID string
	raw       json.RawMessage
}

func runTail(cmd *cobra.Command, _ []string) error {
	lines, _ := cmd.Flags().GetInt("lines")
	follow, _ := cmd.Flags().GetBool("follow")
	interval, _ := cmd.Flags().GetDuration("interval")
	userID, _ := cmd.Flags().GetString("user-id")
	anonID, _ := cmd.Flags().GetString("anonymous-id")
	if lines < 0 || lines > kenner.MaxPageLimit {
		return usageError{fmt.Errorf("--lines must be from 0 to %d", kenner.MaxPageLimit)}
	}
	var list func(ctx context.Context, limit int) ([]tailEvent, error)
	return withAdmin(cmd, func(c *apiClient) error {
		list = func(ctx context.Context, limit int) ([]tailEvent, error) {
			q := url.Values{"limit": {strconv.Itoa(max(limit, 1))}}
			if userID != "" {
				q.Set("user_id", userID)
			}
			if anonID != "" {
				q.Set("anonymous_id", anonID)
			}
			var out struct{ Events []json.RawMessage }
			if err := c.do(ctx, "GET", "/v1/events?"+q.Encode(), nil, &out); err != nil {
				return nil, err
			}
			events := make([]tailEvent, 0, len(out.Events))
			for _, raw := range out.Events {
				var head struct {
					Seq       uint64 `json:"seq"`
					MessageID string `json:"messageId"`
				}
				json.Unmarshal(raw, &head)
				events = append(events, tailEvent{seq: head.Seq, messageID: head.MessageID, raw: raw})
			}
			return events, nil
		}
		return tailLoop(cmd, list, lines, follow, interval)
	}, func(l *local) error {
		list = func(ctx context.Context, limit int) ([]tailEvent, error) {
			evs, _, err := l.store.Events(ctx, kenner.EventFilter{WorkspaceID: l.cfg.Workspace, UserID: userID, AnonymousID: anonID, Limit: max(limit, 1)})
			if err != nil {
				return nil, err
			}
			events := make([]tailEvent, 0, len(evs))
			for _, e := range evs {
				var buf bytes.Buffer
				fmt.Fprintf(&buf, `{"seq":%d,`, e.Seq)
				buf.Write(bytes.TrimSpace(e.Body)[1:])
				events = append(events, tailEvent{seq: e.Seq, messageID: e.MessageID, raw: buf.Bytes()})
			}
			return events, nil
		}
		return tailLoop(cmd, list, lines, follow, interval)
	})
}

// tailLoop prints the newest events oldest first, then polls for newer ones. Events of one log
// record share a seq, so the ids already printed at the newest seq are remembered.
func tailLoop(cmd *cobra.Command, list func(context.Context, int) ([]tailEvent, error), lines int, follow bool, interval time.Duration) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	var lastSeq uint64
	seenAtLast := map[string]bool{}
	printNew := func(events []tailEvent, limit int) {
		slices.Reverse(events) // the API lists newest first
		if limit >= 0 && len(events) > limit {
			events = events[len(events)-limit:]
		}
		for _, e := range events {
			if e.seq < lastSeq || (e.seq == lastSeq && seenAtLast[e.messageID]) {
				continue
			}
			if e.seq > lastSeq {
				lastSeq = e.seq
				clear(seenAtLast)
			}
			seenAtLast[e.messageID] = true
			fmt.Fprintln(out, string(e.raw))
		}
	}
	events, err := list(ctx, lines)
	if err != nil {
		return err
	}
	if lines == 0 && len(events) > 0 {
		lastSeq = events[0].seq
		for _, e := range events {
			if e.seq == lastSeq {
				seenAtLast[e.messageID] = true
			}
		}
		events = nil
	}
	printNew(events, lines)
	for follow {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
		events, err := list(ctx, kenner.MaxPageLimit)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		printNew(events, -1)
	}
	return nil
}
