package activation

import (
	"context"
	"fmt"
	"sync"

	"github.com/kenner-cdp/kenner"
)

// syncs are the destinations whose current members are being queued (SyncExisting).
type syncs struct {
	mu      sync.Mutex
	running map[string]bool
	wg      sync.WaitGroup
}

// startSyncs starts queuing the current members of each destination that asks for it and
// has not had them yet. It runs on every reload, so a sync a stop interrupted starts again:
// the deliveries' keys name the segment and the member, so nothing is queued twice.
func (s *Service) startSyncs(ctx context.Context, dests []kenner.Destination) {
	s.syncs.mu.Lock()
	defer s.syncs.mu.Unlock()
	if s.syncs.running == nil {
		s.syncs.running = map[string]bool{}
	}
	for _, d := range dests {
		if !d.SyncExisting || d.SyncedAt != nil || len(d.Subscribe.Segments) == 0 || s.syncs.running[d.ID] {
			continue
		}
		s.syncs.running[d.ID] = true
		s.syncs.wg.Go(func() {
			defer func() {
				s.syncs.mu.Lock()
				delete(s.syncs.running, d.ID)
				s.syncs.mu.Unlock()
			}()
			n, err := s.syncExisting(ctx, d)
			if err != nil {
				if ctx.Err() == nil {
					s.logger.Error("queue the current members of a new destination; retried at the next reload", "destination", d.ID, "err", err)
				}
				return
			}
			s.logger.Info("queued the current members of a new destination", "destination", d.ID, "members", n)
		})
	}
}

// syncExisting queues segment.entered for every member of the destination's segments who
// entered before the destination was created (later entries come through the changes
// stream: see route.wantsChange), a page at a time, then records that it is done.
func (s *Service) syncExisting(ctx context.Context, d kenner.Destination) (int, error) {
	segs, err := s.subscribedSegments(ctx, d)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, seg := range segs {
		after := ""
		for {
			page, next, err := s.store.SegmentMembers(ctx, d.WorkspaceID, seg.ID, after, 500)
			if err != nil {
				return n, err
			}
			now := s.now()
			var ds []kenner.Delivery
			for _, m := range page {
				if !m.Since.Before(d.CreatedAt) {
					continue // entered since the destination exists: the changes stream sends it
				}
				p, err := s.store.Profile(ctx, d.WorkspaceID, kenner.Identifier{Kind: kenner.KindProfileID, Value: m.ProfileID})
				if kenner.ErrorCode(err) == kenner.ENotFound {
					continue // merged or erased since the page was read
				}
				if err != nil {
					return n, err
				}
				c := kenner.Change{WorkspaceID: d.WorkspaceID, Type: kenner.ChangeSegmentEntered, ProfileID: p.ID, SegmentID: seg.ID, At: m.Since}
				var scores map[string]any
				if s.cfg.Scores != nil {
					scores = s.cfg.Scores(ctx, d.WorkspaceID, p)
				}
				payload, err := changePayload(c, &seg, p, scores)
				if err != nil {
					return n, err
				}
				ds = append(ds, kenner.Delivery{WorkspaceID: d.WorkspaceID, DestinationID: d.ID, Key: fmt.Sprintf("sync_%s_%s", seg.ID, p.ID),
					OrderKey: p.ID, Type: kenner.ChangeSegmentEntered, Payload: payload, NextAt: now, CreatedAt: now})
			}
			if len(ds) > 0 {
				if err := s.store.Apply(ctx, kenner.Position{}, func(ctx context.Context, b kenner.Batch) error { return b.Enqueue(ctx, ds) }); err != nil {
					return n, err
				}
				n += len(ds)
				s.wakeWorker(d.ID)
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	cur, err := s.store.Destination(ctx, d.WorkspaceID, d.ID)
	if err != nil {
		return n, err
	}
	done := s.now().UTC()
	cur.SyncedAt = &done
	return n, s.store.UpdateDestination(ctx, cur)
}

// subscribedSegments are the segments a destination subscribes to ("*": all of them).
func (s *Service) subscribedSegments(ctx context.Context, d kenner.Destination) ([]kenner.Segment, error) {
	for _, id := range d.Subscribe.Segments {
		if id == "*" {
			return s.store.Segments(ctx, d.WorkspaceID)
		}
	}
	var out []kenner.Segment
	for _, id := range d.Subscribe.Segments {
		seg, err := s.store.Segment(ctx, d.WorkspaceID, id)
		if kenner.ErrorCode(err) == kenner.ENotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *seg)
	}
	return out, nil
}

// SyncsByDefault says whether a new destination receives the current members of its segments
// unless told otherwise: yes when it subscribes to segments, except for destinations with
// full exports of their own (file exports snapshot every member).
func (s *Service) SyncsByDefault(d kenner.Destination) bool {
	if len(d.Subscribe.Segments) == 0 {
		return false
	}
	f := s.cfg.Senders[d.Type]
	if f == nil {
		return true
	}
	snd, err := f(d)
	if err != nil {
		return true // Validate reports the config
	}
	defer snd.Close()
	_, snapshots := snd.(Snapshotter)
	return !snapshots
}
