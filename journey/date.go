package journey

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/kenner-cdp/kenner"
)

// dateGrace is how late a date entry may still be taken: a person whose entry time passed
// less than this ago (a date set today for today, a journey published this morning) enters
// at once; older dates are not entered.
const dateGrace = 24 * time.Hour

// entryDate is when a person enters a date journey: the date in the trait, moved by before or
// after (zero: the person has no such date).
func (c *compiled) entryDate(p *kenner.Profile) time.Time {
	d := c.def.Entry.Date
	tr, ok := p.Traits[d.Trait]
	if !ok {
		return time.Time{}
	}
	var s string
	if json.Unmarshal(tr.Value, &s) != nil || s == "" {
		return time.Time{}
	}
	var at time.Time
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		at = t
	} else if t, err := time.Parse("2006-01-02", s); err == nil {
		zone := c.zone(p)
		at = time.Date(t.Year(), t.Month(), t.Day(), c.dateAt/60, c.dateAt%60, 0, 0, zone)
	} else {
		return time.Time{}
	}
	return at.Add(-time.Duration(d.Before)).Add(time.Duration(d.After)).UTC()
}

// schedule puts a person's entry into a date journey on the timers, or moves it when their
// date changed, or cancels it when they no longer have one. The entry is an active
// enrollment at no step yet, due at the entry time; it counts as "scheduled" until it fires.
func (rd *round) schedule(ctx context.Context, c *compiled, pid string) error {
	p, err := rd.profile(ctx, c.ws, pid)
	if err != nil || p == nil {
		return err
	}
	at := c.entryDate(p)
	active, last, err := rd.runs(ctx, c, pid)
	if err != nil {
		return err
	}
	if active != nil && active.Step != "" {
		return nil // in the journey now
	}
	if active != nil {
		// Scheduled: follow the date.
		m := rd.mover(c, *active, active.Rev)
		switch {
		case at.IsZero() || at.Before(rd.now.Add(-dateGrace)):
			m.e.State, m.e.DueAt = kenner.EnrollmentExited, time.Time{}
			m.stat("", "scheduled", -1)
			m.path("", "unscheduled: no date ahead")
			m.done()
		case !at.Equal(active.DueAt) && !(at.Before(rd.now) && !active.DueAt.After(rd.now)):
			m.e.DueAt = latest(at, rd.now)
			m.done()
		}
		return nil
	}
	if at.IsZero() || at.Before(rd.now.Add(-dateGrace)) {
		return nil
	}
	run := 1
	if last != nil {
		if c.reentry < 0 || c.reentry > 0 && at.Before(last.UpdatedAt.Add(c.reentry)) || !last.EnteredAt.Before(at) {
			return nil // not again, not yet, or this date was taken already
		}
		run = last.Run + 1
	}
	e := kenner.Enrollment{WorkspaceID: c.ws, JourneyID: c.id, ProfileID: pid, Run: run, Version: c.version,
		State: kenner.EnrollmentActive, DueAt: latest(at, rd.now), EnteredAt: rd.now}
	m := rd.mover(c, e, 0)
	m.stat("", "scheduled", 1)
	m.done()
	return nil
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// enterScheduled is a scheduled entry's timer: the person enters now.
func (rd *round) enterScheduled(ctx context.Context, m *mover) error {
	m.stat("", "scheduled", -1)
	m.e.DueAt, m.e.EnteredAt = time.Time{}, rd.now
	if m.c.exit != nil {
		p, err := m.profile(ctx)
		if err != nil {
			return err
		}
		if m.c.holds(m.c.exit, p, rd.now) {
			m.e.State = kenner.EnrollmentExited
			m.path("", "not entered: exit condition")
			return nil
		}
	}
	m.e.Control = m.c.def.Holdout > 0 && hash01("holdout", m.c.id, m.e.ProfileID) < m.c.def.Holdout
	m.stat("", "entered", 1)
	m.stat("", "active", 1)
	if m.e.Control {
		m.stat("", "control", 1)
	}
	return m.arrive(ctx, m.c.first)
}

// dateTrait reports whether a profile.updated change touched a trait.
func dateTrait(c kenner.Change, trait string) bool {
	var d struct {
		Traits []string `json:"traits"`
		Merged bool     `json:"merged"`
	}
	json.Unmarshal(c.Data, &d)
	return d.Merged || slices.Contains(d.Traits, trait) || slices.Contains(d.Traits, "timezone")
}

// backfill schedules, a page at a time, everyone whose date is ahead when a date journey's
// version is published. It runs between the timer rounds; its progress is kept in memory,
// so a restart schedules again from the start, which changes nothing for those scheduled.
func (r *Runner) backfill(ctx context.Context) error {
	l, err := r.liveJourneys(ctx)
	if err != nil {
		return err
	}
	for ws, w := range l.byWS {
		for _, c := range w.byAudience {
			if done, err := r.backfillAudience(ctx, ws, c); err != nil || !done {
				return err // a page per round: the timers go first
			}
		}
		for _, c := range w.byDate {
			key := fmt.Sprintf("%s/%s/%d", ws, c.id, c.version)
			r.mu.Lock()
			cur, started := r.backfills[key]
			r.mu.Unlock()
			if cur == backfillDone {
				continue
			}
			if !started {
				cur = ""
			}
			last, n, err := r.store.ProfilePage(ctx, ws, cur, 1000)
			if err != nil {
				return err
			}
			if n == 0 {
				r.mu.Lock()
				r.backfills[key] = backfillDone
				r.mu.Unlock()
				continue
			}
			fields := &kenner.ProfileFields{Traits: map[string]bool{c.def.Entry.Date.Trait: true, "timezone": true}}
			ps, err := r.store.ScanProfiles(ctx, ws, cur, last, fields)
			if err != nil {
				return err
			}
			rd := r.newRound(r.cfg.Now().UTC())
			for _, p := range ps {
				if _, ok := p.Traits[c.def.Entry.Date.Trait]; !ok {
					continue
				}
				p.WorkspaceID = ws
				rd.profiles[ws+"/"+p.ID] = p
				if err := rd.schedule(ctx, c, p.ID); err != nil {
					return err
				}
			}
			if err := rd.write(ctx, kenner.Position{}); err != nil {
				return err
			}
			r.mu.Lock()
			r.backfills[key] = last
			r.mu.Unlock()
			return nil // a page per round: the timers go first
		}
	}
	return nil
}

// backfillDone marks a finished backfill (no profile id is empty... nor this).
const backfillDone = "\x00done"

// backfillAudience enters, a page at a time, everyone in a one-off audience's segment when
// its version is published; done reports that nothing was left to do. Entering is once per
// person and journey, so a restart that goes through the members again enters nobody twice.
func (r *Runner) backfillAudience(ctx context.Context, ws string, c *compiled) (bool, error) {
	key := fmt.Sprintf("%s/%s/%d", ws, c.id, c.version)
	r.mu.Lock()
	cur := r.backfills[key]
	r.mu.Unlock()
	if cur == backfillDone {
		return true, nil
	}
	ms, next, err := r.store.SegmentMembers(ctx, ws, c.def.Entry.Audience, cur, 500)
	if err != nil {
		return false, err
	}
	rd := r.newRound(r.cfg.Now().UTC())
	for _, m := range ms {
		if err := rd.enter(ctx, c, m.ProfileID); err != nil {
			return false, err
		}
	}
	if err := rd.write(ctx, kenner.Position{}); err != nil {
		return false, err
	}
	if next == "" {
		next = backfillDone
	}
	r.mu.Lock()
	r.backfills[key] = next
	r.mu.Unlock()
	return false, nil
}
