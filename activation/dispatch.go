package activation

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/privacy"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/profile"
	"github.com/kenner-cdp/kenner/segment"
)

// Consumer names of activation's positions in the store.
const (
	ChangesConsumer = "activation.changes"
	EventsConsumer  = "activation.events"
)

// route is a destination as the dispatcher sees it: what it subscribes to, compiled.
type route struct {
	dest     kenner.Destination
	filter   *segment.EventFilter // nil: every event (when subscribed)
	segments map[string]bool      // "*": all
}

func (r *route) wantsChange(c kenner.Change) bool {
	switch c.Type {
	case kenner.ChangeProfileUpdated, kenner.ChangeProfileDeleted:
		return r.dest.Subscribe.Profiles
	case kenner.ChangeSegmentEntered, kenner.ChangeSegmentExited:
		if r.dest.SyncExisting && c.At.Before(r.dest.CreatedAt) {
			// Memberships from before the destination existed reach it through its sync of
			// the current members (syncExisting), which takes exactly those: one boundary,
			// so no one is announced twice.
			return false
		}
		// A lead stage is kept as a membership; "all segments" means the marketer's segments.
		return r.segments["*"] && !kenner.IsLeadStageSegment(c.SegmentID) || r.segments[c.SegmentID]
	case kenner.ChangeLeadStageChanged:
		return r.dest.Subscribe.Leads
	}
	return false
}

func compileRoute(d kenner.Destination) (*route, error) {
	r := &route{dest: d, segments: map[string]bool{}}
	for _, s := range d.Subscribe.Segments {
		r.segments[s] = true
	}
	if d.Subscribe.Events.Enabled && d.Subscribe.Events.Filter != "" {
		f, err := segment.CompileEventFilter(d.Subscribe.Events.Filter, 0)
		if err != nil {
			return nil, fmt.Errorf("subscribe.events.filter: %w", err)
		}
		r.filter = f
	}
	return r, nil
}

// changeDeliveries reads the changes after pos and returns what they queue for the
// destinations that subscribe to them, and the last change read (pos when none were waiting).
func (s *Service) changeDeliveries(ctx context.Context, pos int64) ([]kenner.Delivery, int64, error) {
	changes, err := s.store.Changes(ctx, pos, 500)
	if err != nil || len(changes) == 0 {
		return nil, pos, err
	}
	routes := s.routes.Load()
	var ds []kenner.Delivery
	profiles := map[string]*kenner.Profile{}
	segments := map[string]*kenner.Segment{}
	scored := map[string]map[string]any{}
	now := s.now()
	for _, c := range changes {
		for _, r := range routesOf(routes, c.WorkspaceID) {
			if !r.wantsChange(c) {
				continue
			}
			p, err := s.cachedProfile(ctx, profiles, c.WorkspaceID, c.ProfileID)
			if err != nil {
				return nil, pos, err
			}
			// A deletion goes to every subscriber: it is what consent withdrawn asks for.
			if len(r.dest.Purposes) > 0 && c.Type != kenner.ChangeProfileDeleted &&
				(p == nil || !s.cfg.Consent.Allows(r.dest.Purposes, nil, p.Consent)) {
				continue
			}
			var seg *kenner.Segment
			if c.SegmentID != "" {
				if seg, err = s.cachedSegment(ctx, segments, c.WorkspaceID, c.SegmentID); err != nil {
					return nil, pos, err
				}
			}
			var scores map[string]any
			if p != nil && s.cfg.Scores != nil {
				// Once per person per round, however many destinations and changes show them.
				key := c.WorkspaceID + "\x00" + p.ID
				var ok bool
				if scores, ok = scored[key]; !ok {
					scores = s.cfg.Scores(ctx, c.WorkspaceID, p)
					scored[key] = scores
				}
			}
			payload, err := changePayload(c, seg, p, scores)
			if err != nil {
				return nil, pos, err
			}
			ds = append(ds, kenner.Delivery{WorkspaceID: c.WorkspaceID, DestinationID: r.dest.ID, Key: changeKey(c),
				OrderKey: c.ProfileID, Type: c.Type, Payload: payload, NextAt: now, CreatedAt: now})
		}
	}
	return ds, changes[len(changes)-1].Seq, nil
}

// cachedProfile reads a profile once per dispatch round; a profile gone since (merged away,
// erased) is shown by id only.
func (s *Service) cachedProfile(ctx context.Context, cache map[string]*kenner.Profile, ws, id string) (*kenner.Profile, error) {
	key := ws + "\x00" + id
	if p, ok := cache[key]; ok {
		return p, nil
	}
	p, err := s.store.Profile(ctx, ws, kenner.Identifier{Kind: "id", Value: id})
	if kenner.ErrorCode(err) == kenner.ENotFound {
		p, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	cache[key] = p
	return p, nil
}

func (s *Service) cachedSegment(ctx context.Context, cache map[string]*kenner.Segment, ws, id string) (*kenner.Segment, error) {
	key := ws + "\x00" + id
	if seg, ok := cache[key]; ok {
		return seg, nil
	}
	seg, err := s.store.Segment(ctx, ws, id)
	if kenner.ErrorCode(err) == kenner.ENotFound {
		seg, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	cache[key] = seg
	return seg, nil
}

// eventDeliveries is what log records queue for the destinations subscribed to raw events.
func (s *Service) eventDeliveries(ctx context.Context, recs []kenner.LogRecord) ([]kenner.Delivery, error) {
	routes := s.routes.Load()
	var ds []kenner.Delivery
	now := s.now()
	profiles := map[string]*kenner.Profile{}
	for _, rec := range recs {
		var subscribed []*route
		for _, r := range routesOf(routes, rec.WorkspaceID) {
			if r.dest.Subscribe.Events.Enabled {
				subscribed = append(subscribed, r)
			}
		}
		if len(subscribed) == 0 {
			continue
		}
		for i, body := range rec.Events {
			if len(body) == 0 {
				continue // erased
			}
			// The processor's decoder reads the ids; the whole document is decoded only for
			// destinations that filter.
			e, err := process.DecodeEvent(body)
			if err != nil {
				s.logger.Error("undecodable event in log; not delivered", "seq", rec.Seq, "index", i, "err", err)
				continue
			}
			stated, current, verdict, err := s.eventConsent(ctx, profiles, rec.WorkspaceID, subscribed, e, body)
			if err != nil {
				return nil, err
			}
			switch verdict {
			case privacy.Drop:
				continue
			case privacy.Strip:
				body = s.cfg.PII.StripEvent(body)
			}
			var doc map[string]any
			var payload json.RawMessage
			for _, r := range subscribed {
				if len(r.dest.Purposes) > 0 && !s.cfg.Consent.Allows(r.dest.Purposes, stated, current) {
					continue
				}
				if r.filter != nil {
					if doc == nil && json.Unmarshal(body, &doc) != nil {
						continue
					}
					if !r.filter.Match(doc) {
						continue
					}
				}
				if payload == nil {
					if payload, err = eventPayload(e.MessageID, body); err != nil {
						return nil, err
					}
				}
				ds = append(ds, kenner.Delivery{WorkspaceID: rec.WorkspaceID, DestinationID: r.dest.ID, Key: e.MessageID,
					OrderKey: kenner.EventOrderKey(e.UserID, e.AnonymousID), Type: kenner.DeliveryEvent, Payload: payload, NextAt: now, CreatedAt: now})
			}
		}
	}
	return ds, nil
}

// eventConsent is what consent says about delivering an event: its own statement, its
// person's current answers (read only when the policy or a destination needs them), and the
// policy's verdict. The person is looked up by the event's user id, else anonymous id; a
// person the processor has not seen yet has no answers.
func (s *Service) eventConsent(ctx context.Context, cache map[string]*kenner.Profile, ws string, routes []*route, e kenner.Event, body []byte) (map[string]bool, map[string]kenner.Consent, privacy.Verdict, error) {
	needed := s.cfg.Consent.Active()
	for _, r := range routes {
		needed = needed || len(r.dest.Purposes) > 0
	}
	if !needed {
		return nil, nil, privacy.Keep, nil
	}
	stated := profile.StatedConsent(body)
	var current map[string]kenner.Consent
	for _, id := range []kenner.Identifier{{Kind: kenner.KindUserID, Value: e.UserID}, {Kind: kenner.KindAnonymousID, Value: e.AnonymousID}} {
		if id.Value == "" {
			continue
		}
		key := ws + "\x00" + id.Kind + ":" + id.Value
		p, ok := cache[key]
		if !ok {
			var err error
			p, err = s.store.Profile(ctx, ws, id)
			if kenner.ErrorCode(err) == kenner.ENotFound {
				p, err = nil, nil
			}
			if err != nil {
				return nil, nil, privacy.Keep, err
			}
			cache[key] = p
		}
		if p != nil {
			current = p.Consent
			break
		}
	}
	return stated, current, s.cfg.Consent.Verdict(stated, current), nil
}

// enqueue writes deliveries with the position they were read up to, then wakes the workers.
func (s *Service) enqueue(ctx context.Context, pos kenner.Position, ds []kenner.Delivery) error {
	err := s.store.Apply(ctx, pos, func(ctx context.Context, b kenner.Batch) error { return b.Enqueue(ctx, ds) })
	if err != nil {
		return fmt.Errorf("queue deliveries up to %s %d: %w", pos.Consumer, pos.Seq, err)
	}
	var woken []string
	for _, d := range ds {
		if !slices.Contains(woken, d.DestinationID) {
			woken = append(woken, d.DestinationID)
			s.wakeWorker(d.DestinationID)
		}
	}
	s.metrics.queued.Add(float64(len(ds)))
	return nil
}

func routesOf(routes *routeTable, ws string) []*route {
	if routes == nil {
		return nil
	}
	return routes.byWorkspace[ws]
}

// routeTable is the destinations of every workspace, swapped whole when they change.
type routeTable struct {
	byWorkspace map[string][]*route
	loaded      time.Time
}
