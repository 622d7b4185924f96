package activation

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kenner-cdp/kenner"
)

// DeliverySnapshot is the delivery type of a full export: every current member of the
// destination's segments, rather than who entered or left.
const DeliverySnapshot = "audience.snapshot"

// Snapshotter is a Sender that can also send whole audiences. SnapshotEvery is how often a
// full export is queued on its own (0: only when asked for through Service.Snapshot).
type Snapshotter interface {
	Sender
	SnapshotEvery() time.Duration
}

// Snapshot is the payload of a full export delivery. The members are read when it is sent,
// so a retry exports who is a member then; At names the export (and its files) either way.
type Snapshot struct {
	Type     string       `json:"type"`
	At       time.Time    `json:"at"`
	Segments []SegmentRef `json:"segments"`
}

// SegmentRef names a segment in a payload.
type SegmentRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Audience reads segments' current members for full exports.
type Audience interface {
	// Members calls fn for every member of the segment, in profile id order, with its
	// identities and traits.
	Members(ctx context.Context, workspaceID, segmentID string, fn func(p *kenner.Profile) error) error
}

// StoreAudience reads members from the store: a page of memberships at a time, then each
// member's profile.
func StoreAudience(store kenner.Store) Audience { return storeAudience{store} }

type storeAudience struct{ store kenner.Store }

func (a storeAudience) Members(ctx context.Context, ws, segmentID string, fn func(p *kenner.Profile) error) error {
	after := ""
	for {
		page, next, err := a.store.SegmentMembers(ctx, ws, segmentID, after, 1000)
		if err != nil {
			return err
		}
		for _, m := range page {
			p, err := a.store.Profile(ctx, ws, kenner.Identifier{Kind: "id", Value: m.ProfileID})
			if kenner.ErrorCode(err) == kenner.ENotFound {
				continue // erased or merged away since the page was read
			}
			if err != nil {
				return err
			}
			if err := fn(p); err != nil {
				return err
			}
		}
		if next == "" || len(page) == 0 {
			return nil
		}
		after = next
	}
}

// Snapshot queues a full export of a destination's segments now and returns its
// idempotency key. The destination's type must support full exports.
func (s *Service) Snapshot(ctx context.Context, workspaceID, destinationID string) (string, error) {
	d, err := s.store.Destination(ctx, workspaceID, destinationID)
	if err != nil {
		return "", err
	}
	f := s.cfg.Senders[d.Type]
	if f == nil {
		return "", Invalid("unknown destination type %q", d.Type)
	}
	snd, err := f(*d)
	if err != nil {
		return "", err
	}
	snd.Close()
	if _, ok := snd.(Snapshotter); !ok {
		return "", Invalid("destination type %q has no full export", d.Type)
	}
	now := s.now()
	key := fmt.Sprintf("snap_%s_req_%d", d.ID, now.UnixNano())
	return key, s.queueSnapshot(ctx, *d, key, now)
}

// scheduleSnapshot queues the full export of the current period once: the key names the
// period, so other nodes and restarts in the same period queue nothing more.
func (w *worker) scheduleSnapshot(ctx context.Context, now time.Time) {
	sn, ok := w.sender.(Snapshotter)
	if !ok || sn.SnapshotEvery() <= 0 {
		return
	}
	period := now.Truncate(sn.SnapshotEvery())
	if period.Equal(w.lastSnapshot) {
		return
	}
	key := fmt.Sprintf("snap_%s_%d", w.dest.ID, period.Unix())
	if err := w.s.queueSnapshot(ctx, w.dest, key, period); err != nil {
		if ctx.Err() == nil {
			w.s.logger.Error("queue full export", "destination", w.dest.ID, "err", err)
		}
		return
	}
	w.lastSnapshot = period
}

func (s *Service) queueSnapshot(ctx context.Context, d kenner.Destination, key string, at time.Time) error {
	snap := Snapshot{Type: DeliverySnapshot, At: at.UTC(), Segments: []SegmentRef{}}
	all := false
	for _, id := range d.Subscribe.Segments {
		all = all || id == "*"
	}
	if all {
		segs, err := s.store.Segments(ctx, d.WorkspaceID)
		if err != nil {
			return err
		}
		for _, seg := range segs {
			snap.Segments = append(snap.Segments, SegmentRef{ID: seg.ID, Name: seg.Name})
		}
	} else {
		for _, id := range d.Subscribe.Segments {
			seg, err := s.store.Segment(ctx, d.WorkspaceID, id)
			if kenner.ErrorCode(err) == kenner.ENotFound {
				continue
			}
			if err != nil {
				return err
			}
			snap.Segments = append(snap.Segments, SegmentRef{ID: seg.ID, Name: seg.Name})
		}
	}
	payload, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	now := s.now()
	return s.enqueue(ctx, kenner.Position{}, []kenner.Delivery{{WorkspaceID: d.WorkspaceID, DestinationID: d.ID,
		Key: key, OrderKey: "snapshot", Type: DeliverySnapshot, Payload: payload, NextAt: now, CreatedAt: now}})
}

// DeliveryTest is the type of the message a test send carries.
const DeliveryTest = "test"

// TestResult is what a test send to a destination got: the receiver's status and answer (as
// the delivery log would keep it), the error, and how long it took.
type TestResult struct {
	Delivered bool    `json:"delivered"`
	Status    int     `json:"status,omitempty"`
	Response  string  `json:"response,omitempty"`
	Error     string  `json:"error,omitempty"`
	LatencyMS float64 `json:"latency_ms"`
}

// Test sends one test message ({"type": "test", "at", "destination": {"id", "name"}}) to a
// destination now, outside its queue, and says what happened: the "send a sample" of a
// destination's settings page. It counts in no delivery log and is never retried.
func (s *Service) Test(ctx context.Context, workspaceID, destinationID string) (TestResult, error) {
	d, err := s.store.Destination(ctx, workspaceID, destinationID)
	if err != nil {
		return TestResult{}, err
	}
	f := s.cfg.Senders[d.Type]
	if f == nil {
		return TestResult{}, Invalid("unknown destination type %q", d.Type)
	}
	snd, err := f(*d)
	if err != nil {
		return TestResult{}, err
	}
	defer snd.Close()
	now := s.now().UTC()
	payload, _ := json.Marshal(map[string]any{"type": DeliveryTest, "at": now.Format(time.RFC3339Nano),
		"destination": map[string]string{"id": d.ID, "name": d.Name}})
	msg := Message{ID: 0, Key: fmt.Sprintf("test_%s_%d", d.ID, now.UnixNano()), OrderKey: "test", Type: DeliveryTest, Payload: payload, Attempt: 1}
	start := time.Now()
	r := snd.Send(ctx, []Message{msg})[0]
	out := TestResult{Delivered: r.Err == nil, Status: r.Status, Response: r.Response, LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
	if r.Err != nil {
		out.Error = r.Err.Error()
	}
	return out, nil
}
