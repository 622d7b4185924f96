package server

import (
	"net/http"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/web"
)

// countView is a workspace count as last recorded, and the day (UTC) it was recorded.
type countView struct {
	Count int64  `json:"count"`
	Day   string `json:"day"`
}

type partitionView struct {
	Partition int    `json:"partition"`
	Head      uint64 `json:"head"`
	Position  uint64 `json:"position"`
	Behind    bool   `json:"behind"`
}

type statsView struct {
	Profiles   *countView `json:"profiles"`
	Identified *countView `json:"identified"`
	Processing struct {
		Behind bool `json:"behind"`
		// LagSeconds is how long ago the last event applied from the most delayed partition
		// was received, while some partition is behind (0 when none is).
		LagSeconds float64         `json:"lag_seconds"`
		Partitions []partitionView `json:"partitions"`
	} `json:"processing"`
	Segments struct {
		Count int `json:"count"`
		// Members is the sum of the segments' member counts as last recorded (every 10
		// minutes, and at once for a new segment): counting them live takes a tenth of a
		// second at a million profiles.
		Members int64 `json:"members"`
	} `json:"segments"`
	Destinations struct {
		Count   int   `json:"count"`
		Pending int64 `json:"pending"`
	} `json:"destinations"`
}

// getStats answers the workspace's figures for the console's overview. Profiles, identified
// profiles and segment members are the counts the builder records (profiles null until the
// first count): counting a million profiles takes seconds, too long for a page. Processing compares
// each partition's stored position with the log's head.
func (s *Server) getStats(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	ctx := r.Context()
	var out statsView
	from := time.Now().UTC().AddDate(0, 0, -7).Format(time.DateOnly)
	for id, dst := range map[string]**countView{kenner.CountOfProfiles: &out.Profiles, kenner.CountOfIdentified: &out.Identified} {
		counts, err := s.deps.Store.SegmentCounts(ctx, tok.WorkspaceID, id, from)
		if err != nil {
			return err
		}
		if len(counts) > 0 {
			last := counts[len(counts)-1]
			*dst = &countView{Count: last.Members, Day: last.Day}
		}
	}
	if eng, err := s.engine(ctx, tok.WorkspaceID); err != nil {
		return err
	} else if eng != nil {
		for _, seg := range eng.Segments() {
			if kenner.IsLeadStageSegment(seg.ID) {
				continue // a lead model's stage, not a segment of the marketer's
			}
			out.Segments.Count++
			counts, err := s.deps.Store.SegmentCounts(ctx, tok.WorkspaceID, seg.ID, from)
			if err != nil {
				return err
			}
			if len(counts) > 0 {
				out.Segments.Members += counts[len(counts)-1].Members
			}
		}
	}
	heads, err := s.deps.Log.Heads(ctx)
	if err != nil {
		return err
	}
	out.Processing.Partitions = make([]partitionView, 0, len(heads))
	now := time.Now()
	for p, head := range heads {
		pos, err := s.deps.Store.Position(ctx, s.deps.Consumer, p)
		if err != nil {
			return err
		}
		v := partitionView{Partition: p, Head: head, Position: pos, Behind: pos < head}
		out.Processing.Partitions = append(out.Processing.Partitions, v)
		if !v.Behind {
			continue
		}
		out.Processing.Behind = true
		if s.deps.Progress != nil {
			if t, ok := s.deps.Progress.AppliedUntil(p); ok {
				out.Processing.LagSeconds = max(out.Processing.LagSeconds, now.Sub(t).Seconds())
			}
		}
	}
	ds, err := s.deps.Store.Destinations(ctx, tok.WorkspaceID)
	if err != nil {
		return err
	}
	out.Destinations.Count = len(ds)
	for _, d := range ds {
		n, err := s.deps.Store.QueueDepth(ctx, d.ID)
		if err != nil {
			return err
		}
		out.Destinations.Pending += n
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}
