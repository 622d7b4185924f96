package journey

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
)

// enter puts a person into a journey, when they are not in it and its re-entry rule lets
// them in again, and runs its first steps.
func (rd *round) enter(ctx context.Context, c *compiled, pid string) error {
	active, last, err := rd.runs(ctx, c, pid)
	if err != nil || active != nil {
		return err
	}
	run := 1
	if last != nil {
		if c.reentry < 0 || c.reentry > 0 && rd.now.Before(last.UpdatedAt.Add(c.reentry)) {
			return nil
		}
		run = last.Run + 1
	}
	p, err := rd.profile(ctx, c.ws, pid)
	if err != nil || p == nil {
		return err
	}
	if c.exit != nil {
		// Someone the exit condition would take out does not come in.
		if c.holds(c.exit, p, rd.now) {
			return nil
		}
	}
	e := kenner.Enrollment{WorkspaceID: c.ws, JourneyID: c.id, ProfileID: pid, Run: run, Version: c.version,
		State: kenner.EnrollmentActive, EnteredAt: rd.now, Control: c.def.Holdout > 0 && hash01("holdout", c.id, pid) < c.def.Holdout}
	m := rd.mover(c, e, 0)
	m.stat("", "entered", 1)
	m.stat("", "active", 1)
	if e.Control {
		m.stat("", "control", 1)
	}
	if err := m.arrive(ctx, c.first); err != nil {
		if errors.Is(err, errGone) {
			return nil
		}
		return err
	}
	m.done()
	return nil
}

// runs finds a person's runs of a journey: the active one (in it, or scheduled to enter)
// and the last that ended.
func (rd *round) runs(ctx context.Context, c *compiled, pid string) (active, last *kenner.Enrollment, err error) {
	es, err := rd.personEnrollments(ctx, c.ws, pid)
	if err != nil {
		return nil, nil, err
	}
	for i := range es {
		e := &es[i]
		switch {
		case e.JourneyID != c.id:
		case e.State == kenner.EnrollmentActive:
			active = e
		case last == nil || e.Run > last.Run:
			last = e
		}
	}
	return active, last, nil
}

// onEvent handles an event of a person: a wait for it ends, a goal it names is reached,
// and journeys entered by it take the person in.
func (rd *round) onEvent(ctx context.Context, w *wsLive, ws, pid, name string, received time.Time, doc map[string]any) error {
	es, err := rd.personEnrollments(ctx, ws, pid)
	if err != nil {
		return err
	}
	for _, e := range append([]kenner.Enrollment(nil), es...) {
		if e.State != kenner.EnrollmentActive || e.Step == "" || w.journeys[e.JourneyID] == nil || w.journeys[e.JourneyID].Status != kenner.JourneyLive {
			continue
		}
		c, m, err := rd.load(ctx, e)
		if err != nil {
			return err
		}
		if m == nil {
			continue
		}
		e = m.e
		st := c.steps[e.Step]
		if goal, ok := c.goals[name]; ok && !e.Converted {
			m.e.Converted = true
			m.stat("", "converted", 1)
			m.stat(goal, "converted", 1)
			if step, arm, ok := strings.Cut(e.Branch, "."); ok {
				m.stat(step, "converted_"+arm, 1)
			}
			m.leave("converted")
			if err := rd.finish(m, e, m.arrive(ctx, goal)); err != nil {
				return err
			}
			continue
		}
		if st.Type == kenner.StepWaitEvent && st.Event == name && m.waiting() {
			m.stat(st.ID, "event", 1)
			m.leave("event")
			if err := rd.finish(m, e, m.arrive(ctx, st.Then)); err != nil {
				return err
			}
		}
	}
	for _, c := range w.byEvent[name] {
		if c.filter != nil && !c.filter.Match(doc) {
			continue
		}
		if received.Before(c.published) {
			continue // from before the journey was published (read late, after a pause or a restart)
		}
		if err := rd.enter(ctx, c, pid); err != nil {
			return err
		}
	}
	return nil
}

// onChange handles a change of the changes stream: a segment entry takes people into the
// journeys it starts, and any change of a person checks the exit conditions of the journeys
// they are in.
func (rd *round) onChange(ctx context.Context, w *wsLive, c kenner.Change) error {
	if c.Type == kenner.ChangeSegmentEntered {
		for _, j := range w.bySegment[c.SegmentID] {
			if err := rd.enter(ctx, j, c.ProfileID); err != nil {
				return err
			}
		}
	}
	if c.Type == kenner.ChangeProfileUpdated {
		for _, j := range w.byDate {
			if dateTrait(c, j.def.Entry.Date.Trait) {
				if err := rd.schedule(ctx, j, c.ProfileID); err != nil {
					return err
				}
			}
		}
	}
	if !w.exits || c.Type == kenner.ChangeProfileDeleted {
		return nil
	}
	es, err := rd.personEnrollments(ctx, c.WorkspaceID, c.ProfileID)
	if err != nil {
		return err
	}
	for _, e := range append([]kenner.Enrollment(nil), es...) {
		if e.State != kenner.EnrollmentActive || e.Step == "" || w.journeys[e.JourneyID] == nil || w.journeys[e.JourneyID].Status != kenner.JourneyLive {
			continue
		}
		_, m, err := rd.load(ctx, e)
		if err != nil {
			return err
		}
		if m == nil || m.c.exit == nil {
			continue
		}
		e = m.e
		exited, err := m.checkExit(ctx)
		if exited || err != nil {
			if err := rd.finish(m, e, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// runChanges follows the changes stream from its stored position; the position is written
// with the moves the changes made. Changes that move nobody move the stored position at most
// once a second, and when it has caught up: a write per round would queue in front of the
// processor on the embedded store's single writer.
func (r *Runner) runChanges(ctx context.Context) error {
	stored, err := r.store.Position(ctx, ChangesConsumer, 0)
	if err != nil {
		return err
	}
	pos, savedPos := int64(stored), int64(stored)
	var saved time.Time
	for {
		changes, err := r.store.Changes(ctx, pos, 500)
		if err != nil {
			return err
		}
		if len(changes) == 0 {
			if pos != savedPos {
				if err := r.newRound(r.cfg.Now().UTC()).write(ctx, kenner.Position{Consumer: ChangesConsumer, Seq: uint64(pos)}); err != nil {
					return err
				}
				saved, savedPos = time.Now(), pos
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(r.cfg.Poll):
			}
			continue
		}
		l, err := r.liveJourneys(ctx)
		if err != nil {
			return err
		}
		rd := r.newRound(r.cfg.Now().UTC())
		for _, c := range changes {
			if w := l.byWS[c.WorkspaceID]; w != nil {
				if err := rd.onChange(ctx, w, c); err != nil {
					return err
				}
			}
		}
		last := changes[len(changes)-1].Seq
		if len(rd.moves) > 0 || len(rd.appends) > 0 || time.Since(saved) >= time.Second {
			if err := rd.write(ctx, kenner.Position{Consumer: ChangesConsumer, Seq: uint64(last)}); err != nil {
				return err
			}
			saved, savedPos = time.Now(), last
		}
		pos = last
	}
}

// eventHead is what the events consumer reads of every event before it knows whether a
// journey cares.
type eventHead struct {
	Type        string    `json:"type"`
	Event       string    `json:"event"`
	UserID      string    `json:"userId"`
	AnonymousID string    `json:"anonymousId"`
	ReceivedAt  time.Time `json:"receivedAt"`
}

// eventName is the name journeys know an event by: a track call's event name, "$page",
// "$screen", "$identify" or "$group" for the others.
func eventName(h eventHead) string {
	if h.Type == kenner.TypeTrack {
		return h.Event
	}
	return "$" + h.Type
}

// sealedReader is a log that can hand over batches without decrypting them.
type sealedReader interface {
	ReadSealed(ctx context.Context, partition int, after uint64, need func([]kenner.LogRecord) bool,
		fn func(ctx context.Context, recs []kenner.LogRecord, opened bool) error) error
}

var (
	errLiveChanged = errors.New("a journey now reacts to these events")
	errNoInterest  = errors.New("no journey reacts to events any more")
)

// eventsWanted reports whether some journey of some workspace reacts to events (enters on
// one, waits for one, or has a goal).
func (r *Runner) eventsWanted(ctx context.Context) bool {
	l, err := r.liveJourneys(ctx)
	if err != nil {
		return true
	}
	for _, w := range l.byWS {
		if len(w.events) > 0 {
			return true
		}
	}
	return false
}

// followEvents reads a partition of the log while some journey reacts to events. While
// none does, it reads nothing and only moves the stored position to the log's head every few
// seconds: the first journey published reads seconds of backlog, not months, and no event
// received after its publication is missed.
func (r *Runner) followEvents(ctx context.Context, part int) error {
	for ctx.Err() == nil {
		r.mu.Lock()
		changed := r.changed
		r.mu.Unlock()
		// The heads are read before the look for journeys: every event up to them was in the
		// log before any journey published after the look, so skipping them loses nothing
		// (read after, an event of a journey published in between could be skipped).
		heads, err := r.log.Heads(ctx)
		if err != nil {
			return err
		}
		if r.eventsWanted(ctx) {
			if err := r.runEvents(ctx, part); err != nil {
				return err
			}
			continue
		}
		pos, err := r.store.Position(ctx, EventsConsumer, part)
		if err != nil {
			return err
		}
		if part < len(heads) && heads[part] > pos {
			if err := r.store.Apply(ctx, kenner.Position{Consumer: EventsConsumer, Partition: part, Seq: heads[part]},
				func(context.Context, kenner.Batch) error { return nil }); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-time.After(idleEvents):
		}
	}
	return nil
}

// idleEvents is how often the events position follows the log while no journey reads it.
const idleEvents = 3 * time.Second

// runEvents follows one partition of the event log. An event is handled once the processor
// has applied it, so that the person it is about exists with it.
func (r *Runner) runEvents(ctx context.Context, part int) error {
	pos, err := r.store.Position(ctx, EventsConsumer, part)
	if err != nil {
		return err
	}
	var saved time.Time
	interested := func(recs []kenner.LogRecord) bool {
		l, err := r.liveJourneys(ctx)
		if err != nil {
			return true // find out when opened
		}
		for _, rec := range recs {
			if w := l.byWS[rec.WorkspaceID]; w != nil && len(w.events) > 0 {
				return true
			}
		}
		return false
	}
	read := func(ctx context.Context, recs []kenner.LogRecord, opened bool) error {
		last := recs[len(recs)-1].Seq
		if !r.eventsWanted(ctx) {
			return errNoInterest
		}
		if !opened {
			if interested(recs) {
				return errLiveChanged
			}
			if time.Since(saved) < time.Second {
				return nil
			}
			saved = time.Now()
			return r.store.Apply(ctx, kenner.Position{Consumer: EventsConsumer, Partition: part, Seq: last}, func(context.Context, kenner.Batch) error { return nil })
		}
		if err := r.caught(ctx, part, last); err != nil {
			return err
		}
		l, err := r.liveJourneys(ctx)
		if err != nil {
			return err
		}
		rd := r.newRound(r.cfg.Now().UTC())
		for _, rec := range recs {
			w := l.byWS[rec.WorkspaceID]
			if w == nil || len(w.events) == 0 {
				continue
			}
			for _, raw := range rec.Events {
				var h eventHead
				if json.Unmarshal(raw, &h) != nil {
					continue
				}
				name := eventName(h)
				if !w.events[name] {
					continue
				}
				pid, err := r.personOf(ctx, rec.WorkspaceID, h)
				if err != nil || pid == "" {
					if err != nil {
						return err
					}
					continue
				}
				var doc map[string]any
				if len(w.byEvent[name]) > 0 {
					json.Unmarshal(raw, &doc)
				}
				if err := rd.onEvent(ctx, w, rec.WorkspaceID, pid, name, h.ReceivedAt, doc); err != nil {
					return err
				}
			}
		}
		if len(rd.moves) == 0 && time.Since(saved) < time.Second {
			return nil
		}
		saved = time.Now()
		return rd.write(ctx, kenner.Position{Consumer: EventsConsumer, Partition: part, Seq: last})
	}
	if sl, ok := r.log.(sealedReader); ok {
		err = sl.ReadSealed(ctx, part, pos, interested, read)
	} else {
		err = r.log.Read(ctx, part, pos, func(ctx context.Context, recs []kenner.LogRecord) error { return read(ctx, recs, true) })
	}
	if errors.Is(err, errLiveChanged) {
		return r.runEvents(ctx, part)
	}
	if errors.Is(err, errNoInterest) {
		return nil
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// personOf finds the profile an event is about.
func (r *Runner) personOf(ctx context.Context, ws string, h eventHead) (string, error) {
	for _, id := range []kenner.Identifier{{Kind: kenner.KindUserID, Value: h.UserID}, {Kind: kenner.KindAnonymousID, Value: h.AnonymousID}} {
		if id.Value == "" {
			continue
		}
		p, err := r.store.ProfileState(ctx, ws, id)
		if kenner.ErrorCode(err) == kenner.ENotFound {
			continue
		}
		if err != nil {
			return "", err
		}
		return p.ID, nil
	}
	return "", nil
}

// caught waits until the processor has applied the partition up to seq.
func (r *Runner) caught(ctx context.Context, part int, seq uint64) error {
	if r.cfg.Processor == "" {
		return nil
	}
	for {
		pos, err := r.store.Position(ctx, r.cfg.Processor, part)
		if err != nil || pos >= seq {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// location is time.LoadLocation, cached per compiled journey: it reads the zone database
// each time.
func (c *compiled) location(name string) (*time.Location, error) {
	if l, ok := c.zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	c.zones.Store(name, l)
	return l, nil
}

func jsonString(raw json.RawMessage, out *string) bool { return json.Unmarshal(raw, out) == nil }
