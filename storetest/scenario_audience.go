package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/segment"
)

// audience runs the scenario commands about computed traits and segments.
func (sc *scenario) audience(ctx context.Context, verb, rest string) (string, error) {
	builder := process.NewBuilder(sc.processor(), sc.store, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	switch verb {
	case "computed":
		var t kenner.ComputedTrait
		if err := json.Unmarshal([]byte(rest), &t); err != nil {
			return "", err
		}
		t.WorkspaceID = "ws"
		traits, segs, err := sc.definitions(ctx)
		if err != nil {
			return "", err
		}
		if _, err := segment.Compile(segment.WithTrait(traits, t), segs, segment.Options{}); err != nil {
			return "", err
		}
		return "", sc.store.PutComputedTrait(ctx, &t)
	case "segment":
		name, cond, _ := strings.Cut(rest, " ")
		traits, segs, err := sc.definitions(ctx)
		if err != nil {
			return "", err
		}
		seg := kenner.Segment{WorkspaceID: "ws", Name: name, Condition: cond}
		for _, s := range segs {
			if s.Name == name {
				seg.ID = s.ID
			}
		}
		if seg.ID == "" {
			seg.ID = "seg_" + strings.ToLower(name)
		}
		if _, err := segment.Compile(traits, segment.WithSegment(segs, seg), segment.Options{}); err != nil {
			return "", err
		}
		if _, err := sc.store.Segment(ctx, "ws", seg.ID); err == nil {
			return "", sc.store.UpdateSegment(ctx, &seg)
		}
		return "", sc.store.CreateSegment(ctx, &seg)
	case "clock":
		t, err := time.Parse(time.RFC3339, rest)
		sc.now = t
		return "", err
	case "build":
		return "", builder.Build(ctx, "ws")
	case "sweep":
		return "", builder.Sweep(ctx, "ws")
	case "members":
		ms, _, err := sc.store.SegmentMembers(ctx, "ws", "seg_"+strings.ToLower(rest), "", 100)
		if err != nil {
			return "", err
		}
		var names []string
		for _, m := range ms {
			names = append(names, sc.name(m.ProfileID))
		}
		return strings.Join(names, " ") + "\n", nil
	case "changes":
		cs, err := sc.store.Changes(ctx, sc.changes, 1000)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		for _, c := range cs {
			sc.changes = c.Seq
			fmt.Fprintf(&b, "%s %s", c.Type, sc.name(c.ProfileID))
			if c.SegmentID != "" {
				fmt.Fprintf(&b, " %s", sc.segmentName(c.SegmentID))
			}
			if len(c.Data) > 0 {
				fmt.Fprintf(&b, " %s", c.Data)
			}
			b.WriteString("\n")
		}
		return b.String(), nil
	}
	return "", fmt.Errorf("unknown command %q", verb)
}

func (sc *scenario) definitions(ctx context.Context) ([]kenner.ComputedTrait, []kenner.Segment, error) {
	traits, err := sc.store.ComputedTraits(ctx, "ws")
	if err != nil {
		return nil, nil, err
	}
	segs, err := sc.store.Segments(ctx, "ws")
	return traits, segs, err
}

// segmentName prints a segment id by its name (ids are seg_<lowercase name> in scenarios).
func (sc *scenario) segmentName(id string) string {
	if s, err := sc.store.Segment(context.Background(), "ws", id); err == nil {
		return s.Name
	}
	return id
}
