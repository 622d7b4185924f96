package journey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kenner-cdp/kenner"
)

// fire moves a person whose timer is due: the wait is over, the wait for an event timed
// out, or the quiet hours a send waited for have ended.
func (rd *round) fire(ctx context.Context, e kenner.Enrollment) error {
	c, m, err := rd.load(ctx, e)
	if err != nil || m == nil {
		return err
	}
	e = m.e // as this round left the person
	if e.Step == "" {
		return rd.finish(m, e, rd.enterScheduled(ctx, m))
	}
	if exited, err := m.checkExit(ctx); err != nil || exited {
		return rd.finish(m, e, err)
	}
	st := c.steps[e.Step]
	var next string
	switch st.Type {
	case kenner.StepWaitEvent:
		m.stat(st.ID, "timeout", 1)
		m.leave("timeout")
		next = st.TimeoutNext
	case kenner.StepEmail:
		// The quiet hours are over: send now.
		m.stat(st.ID, "waiting", -1)
		m.e.DueAt = time.Time{}
		var hold bool
		if next, hold, err = m.email(ctx, st, true); err != nil {
			return rd.finish(m, e, err)
		}
		if hold {
			m.stat(st.ID, "waiting", 1)
			return rd.finish(m, e, nil)
		}
	default: // wait, wait_until
		m.leave("waited")
		next = st.Next
	}
	return rd.finish(m, e, m.arrive(ctx, next))
}

// load compiles the person's journey version and makes their mover; a version that no
// longer compiles (a segment it reads was deleted) takes them out with the reason.
func (rd *round) load(ctx context.Context, e kenner.Enrollment) (*compiled, *mover, error) {
	c, err := rd.r.version(ctx, e.WorkspaceID, e.JourneyID, e.Version)
	// The round's state of the person wins over the stored one it started from (a timer
	// row was just read: the round holds the person only if it moved them already).
	for _, cur := range rd.enrollments[e.WorkspaceID+"/"+e.ProfileID] {
		if cur.JourneyID == e.JourneyID && cur.Run == e.Run {
			if cur.Rev != e.Rev {
				return nil, nil, nil // moved since it was read: not due any more
			}
			e = cur
		}
	}
	if err != nil {
		if kenner.ErrorCode(err) != kenner.EInvalid && kenner.ErrorCode(err) != kenner.ENotFound {
			return nil, nil, err
		}
		m := rd.mover(&compiled{id: e.JourneyID}, e, e.Rev)
		m.exit("stopped: " + kenner.ErrorMessage(err))
		m.done()
		return nil, nil, nil
	}
	if c.steps[e.Step] == nil && !(e.Step == "" && c.def.Entry.Date != nil) {
		m := rd.mover(c, e, e.Rev)
		m.exit(fmt.Sprintf("stopped: version %d has no step %q", e.Version, e.Step))
		m.done()
		return nil, nil, nil
	}
	return c, rd.mover(c, e, e.Rev), nil
}

// finish records a move. A person who turned out to be gone (erased) leaves the journey
// from where they were (orig), and the rest of the move is dropped with them.
func (rd *round) finish(m *mover, orig kenner.Enrollment, err error) error {
	if errors.Is(err, errGone) {
		m = rd.mover(m.c, orig, orig.Rev)
		m.exit("gone")
		err = nil
	}
	if err != nil {
		return err
	}
	m.done()
	return nil
}

// checkExit takes the person out when the journey's exit condition holds for them.
func (m *mover) checkExit(ctx context.Context) (bool, error) {
	if m.c.exit == nil || m.e.State != kenner.EnrollmentActive {
		return false, nil
	}
	p, err := m.profile(ctx)
	if err != nil {
		return false, err
	}
	if m.c.holds(m.c.exit, p, m.rd.now) {
		m.exit("exit condition")
		return true, nil
	}
	return false, nil
}

// zone is a person's time zone without reading their events: their timezone trait, else
// the journey's, else the server's default.
func (c *compiled) zone(p *kenner.Profile) *time.Location {
	if loc := c.traitZone(p); loc != nil {
		return loc
	}
	return c.loc
}

// traitZone is the time zone a person's timezone trait names (nil: none, or not a zone).
func (c *compiled) traitZone(p *kenner.Profile) *time.Location {
	if p == nil {
		return nil
	}
	if t, ok := p.Traits["timezone"]; ok {
		var name string
		if jsonString(t.Value, &name) && name != "" {
			if loc, err := c.location(name); err == nil {
				return loc
			}
		}
	}
	return nil
}

// zone is a person's time zone for a send or a wait until a time of day: their timezone
// trait, else the zone their latest events carry (context.timezone, which analytics.js and
// the mobile SDKs send), else the journey's, else the server's default.
func (m *mover) zone(ctx context.Context, p *kenner.Profile) (*time.Location, error) {
	if loc := m.c.traitZone(p); loc != nil {
		return loc, nil
	}
	key := m.e.WorkspaceID + "/" + p.ID
	if loc, ok := m.rd.zones[key]; ok {
		return loc, nil
	}
	evs, _, err := m.rd.r.store.Events(ctx, kenner.EventFilter{WorkspaceID: m.e.WorkspaceID, ProfileID: p.ID, Limit: 20})
	if err != nil {
		return nil, err
	}
	loc := m.c.loc
	for _, ev := range evs {
		var b struct {
			Context struct {
				Timezone string `json:"timezone"`
			} `json:"context"`
		}
		if json.Unmarshal(ev.Body, &b) == nil && b.Context.Timezone != "" {
			if l, err := m.c.location(b.Context.Timezone); err == nil {
				loc = l
				break
			}
		}
	}
	m.rd.zones[key] = loc
	return loc, nil
}

// nextTimeOfDay is the first time after now that is minutes after midnight in zone.
func nextTimeOfDay(now time.Time, zone *time.Location, minutes int) time.Time {
	local := now.In(zone)
	t := time.Date(local.Year(), local.Month(), local.Day(), minutes/60, minutes%60, 0, 0, zone)
	if !t.After(now) {
		t = time.Date(local.Year(), local.Month(), local.Day()+1, minutes/60, minutes%60, 0, 0, zone)
	}
	return t.UTC()
}

// calendar names a local time's day and ISO week, the periods of frequency caps.
func calendar(local time.Time) (day, week string) {
	y, w := local.ISOWeek()
	return local.Format("2006-01-02"), fmt.Sprintf("%d-W%02d", y, w)
}
