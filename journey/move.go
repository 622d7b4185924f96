package journey

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
)

// round collects the moves of one pass (a batch of timers, of changes, of events), with
// the people's state as the moves leave it, and writes them in one transaction.
type round struct {
	r   *Runner
	now time.Time
	// enrollments are the people's enrollments as this round left them, by ws/profile.
	enrollments map[string][]kenner.Enrollment
	profiles    map[string]*kenner.Profile // by ws/profile; nil: gone
	zones       map[string]*time.Location  // people's time zones read from their events
	moves       []kenner.JourneyMove
	appends     map[string][][]byte // set_trait identifies, by workspace
	woken       map[string]bool
	sentCount   map[string]int // messages queued this round per person (frequency caps)
}

func (r *Runner) newRound(now time.Time) *round {
	return &round{r: r, now: now, enrollments: map[string][]kenner.Enrollment{}, profiles: map[string]*kenner.Profile{}, zones: map[string]*time.Location{},
		appends: map[string][][]byte{}, woken: map[string]bool{}}
}

// write appends the round's events, then its moves with the consumer's position, in one
// transaction. A move refused because someone moved the person first (another node, or an
// event racing a timer) is dropped: the person moved once. The events go first: a crash
// between the two makes the moves run again with the same message ids, which the log
// deduplicates.
func (rd *round) write(ctx context.Context, pos kenner.Position) error {
	for ws, raws := range rd.appends {
		if rd.r.ingest == nil {
			return fmt.Errorf("journeys cannot set traits: no ingest configured")
		}
		if err := rd.r.ingest.Accept(ctx, &kenner.Source{ID: SourceID, WorkspaceID: ws}, raws); err != nil {
			return fmt.Errorf("journeys: set traits: %w", err)
		}
	}
	if len(rd.moves) == 0 && pos.Consumer == "" {
		return nil
	}
	var applied, entered int
	err := rd.r.store.Apply(ctx, pos, func(ctx context.Context, b kenner.Batch) error {
		// The counters of the moves that apply are written once per workspace, added up.
		stats := map[string][]kenner.JourneyStat{}
		applied, entered = 0, 0 // a round the store retries counts once
		for _, m := range rd.moves {
			own := m.Stats
			m.Stats = nil
			ok, err := b.MoveJourney(ctx, m.Enrollment.WorkspaceID, m)
			if err != nil {
				return err
			}
			if ok {
				applied++
				if m.PrevRev == 0 {
					entered++
				}
				stats[m.Enrollment.WorkspaceID] = append(stats[m.Enrollment.WorkspaceID], own...)
			}
		}
		for ws, st := range stats {
			if err := b.AddJourneyStats(ctx, ws, kenner.SumJourneyStats(st)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	rd.r.metrics.moves.Add(float64(applied))
	rd.r.metrics.refused.Add(float64(len(rd.moves) - applied))
	rd.r.metrics.entries.Add(float64(entered))
	if rd.r.cfg.Wake != nil {
		for id := range rd.woken {
			rd.r.cfg.Wake(id)
		}
	}
	return nil
}

// personEnrollments are a person's enrollments, read once per round.
func (rd *round) personEnrollments(ctx context.Context, ws, pid string) ([]kenner.Enrollment, error) {
	key := ws + "/" + pid
	if es, ok := rd.enrollments[key]; ok {
		return es, nil
	}
	es, err := rd.r.store.Enrollments(ctx, ws, pid)
	if err != nil {
		return nil, err
	}
	rd.enrollments[key] = es
	return es, nil
}

// profile reads a person once per round (nil: gone, erased).
func (rd *round) profile(ctx context.Context, ws, pid string) (*kenner.Profile, error) {
	key := ws + "/" + pid
	if p, ok := rd.profiles[key]; ok {
		return p, nil
	}
	p, err := rd.r.store.Profile(ctx, ws, kenner.Identifier{Kind: kenner.KindProfileID, Value: pid})
	if kenner.ErrorCode(err) == kenner.ENotFound {
		p, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	rd.profiles[key] = p
	return p, nil
}

// mover is one person's move in one journey run.
type mover struct {
	rd   *round
	c    *compiled
	e    kenner.Enrollment
	prev int64
	mv   kenner.JourneyMove
}

func (rd *round) mover(c *compiled, e kenner.Enrollment, prev int64) *mover {
	return &mover{rd: rd, c: c, e: e, prev: prev}
}

func (m *mover) stat(step, metric string, d int64) {
	m.mv.Stats = append(m.mv.Stats, kenner.JourneyStat{JourneyID: m.e.JourneyID, Step: step, Metric: metric, Delta: d})
}

func (m *mover) path(step, outcome string) {
	m.mv.Path = append(m.mv.Path, kenner.JourneyPathStep{JourneyID: m.e.JourneyID, ProfileID: m.e.ProfileID, Run: m.e.Run,
		Seq: m.e.Seq, Step: step, Outcome: outcome, At: m.rd.now})
}

// done records the move in the round and keeps the person's state for the round's next
// moves.
func (m *mover) done() {
	m.e.Rev = m.prev + 1
	m.e.UpdatedAt = m.rd.now
	m.mv.Enrollment, m.mv.PrevRev = m.e, m.prev
	m.rd.moves = append(m.rd.moves, m.mv)
	key := m.e.WorkspaceID + "/" + m.e.ProfileID
	es := m.rd.enrollments[key]
	for i := range es {
		if es[i].JourneyID == m.e.JourneyID && es[i].Run == m.e.Run {
			es[i] = m.e
			return
		}
	}
	m.rd.enrollments[key] = append([]kenner.Enrollment{m.e}, es...)
}

// waiting reports whether the step the person is at holds them (a wait of any kind, or a
// send deferred by quiet hours).
func (m *mover) waiting() bool { return m.e.State == kenner.EnrollmentActive && !m.e.DueAt.IsZero() }

// leave takes the person out of the step they wait at, with an outcome.
func (m *mover) leave(outcome string) {
	if m.waiting() {
		m.stat(m.e.Step, "waiting", -1)
	}
	m.path(m.e.Step, outcome)
	m.e.DueAt = time.Time{}
}

// exit removes the person from the journey.
func (m *mover) exit(outcome string) {
	m.leave(outcome)
	m.e.State = kenner.EnrollmentExited
	m.stat("", "exited", 1)
	m.stat("", "active", -1)
}

// arrive moves the person to step id and runs steps until one holds them or the journey
// ends.
func (m *mover) arrive(ctx context.Context, id string) error {
	for hops := 0; ; hops++ {
		if id == "" {
			m.e.State, m.e.DueAt = kenner.EnrollmentCompleted, time.Time{}
			m.stat("", "completed", 1)
			m.stat("", "active", -1)
			return nil
		}
		if hops > 2*kenner.MaxJourneySteps {
			// Compile refuses loops without a wait; this guards a bug, not a journey.
			m.exit("stopped: too many steps without a wait")
			return nil
		}
		st := m.c.steps[id]
		m.e.Step, m.e.DueAt = id, time.Time{}
		m.e.Seq++
		m.stat(id, "entered", 1)
		next, hold, err := m.run(ctx, st)
		if err != nil {
			return err
		}
		if hold {
			m.stat(id, "waiting", 1)
			return nil
		}
		id = next
	}
}

// run does one step on arrival: it returns where to go next, or holds the person (their
// timer set).
func (m *mover) run(ctx context.Context, st *step) (next string, hold bool, err error) {
	switch st.Type {
	case kenner.StepWait:
		m.e.DueAt = m.rd.now.Add(time.Duration(st.Duration))
		return "", true, nil
	case kenner.StepWaitEvent:
		m.e.DueAt = m.rd.now.Add(time.Duration(st.Timeout))
		return "", true, nil
	case kenner.StepWaitUntil:
		p, err := m.profile(ctx)
		if err != nil {
			return "", false, err
		}
		zone, err := m.zone(ctx, p)
		if err != nil {
			return "", false, err
		}
		m.e.DueAt = nextTimeOfDay(m.rd.now, zone, st.timeOfD)
		return "", true, nil
	case kenner.StepBranch:
		p, err := m.profile(ctx)
		if err != nil {
			return "", false, err
		}
		return m.fork(st, m.c.holds(st.rule, p, m.rd.now)), false, nil
	case kenner.StepSplit:
		return m.fork(st, hash01("split", m.e.JourneyID, st.ID, m.e.ProfileID)*100 < st.Percent), false, nil
	case kenner.StepGoal:
		m.path(st.ID, "reached")
		return st.Next, false, nil
	case kenner.StepEmail:
		return m.email(ctx, st, false)
	case kenner.StepDestination:
		return m.destination(ctx, st)
	case kenner.StepSetTrait:
		return m.setTrait(ctx, st)
	}
	return "", false, fmt.Errorf("journey %s: step %q has unknown type %q", m.c.id, st.ID, st.Type)
}

func (m *mover) fork(st *step, then bool) string {
	arm, next := "else", st.Else
	if then {
		arm, next = "then", st.Then
	}
	m.e.Branch = st.ID + "." + arm
	m.stat(st.ID, arm, 1)
	m.path(st.ID, arm)
	return next
}

func (m *mover) profile(ctx context.Context) (*kenner.Profile, error) {
	p, err := m.rd.profile(ctx, m.e.WorkspaceID, m.e.ProfileID)
	if err == nil && p == nil {
		return nil, errGone
	}
	return p, err
}

// key is the idempotency key of the current step visit: the same on every retry of this
// move, different for the next visit of the same step.
func (m *mover) key() string {
	return fmt.Sprintf("jrn_%s_%s_%d_%d", m.e.JourneyID, m.e.ProfileID, m.e.Run, m.e.Seq)
}

// email queues the step's email, unless the person is in the holdout, over a frequency cap,
// or in quiet hours (then it holds them until the quiet hours end; deferred is the second
// look, when they have).
func (m *mover) email(ctx context.Context, st *step, deferred bool) (string, bool, error) {
	if m.e.Control {
		m.stat(st.ID, "held_out", 1)
		m.path(st.ID, "held_out")
		return st.Next, false, nil
	}
	fcap := m.c.def.FrequencyCap
	if fcap == nil {
		fcap = m.rd.r.cfg.Cap
	}
	capped := fcap != nil && (fcap.Day > 0 || fcap.Week > 0)
	zone := m.c.loc
	if m.c.quiet != nil || capped {
		// Only quiet hours and caps need the person's time zone: a plain send reads nothing.
		p, err := m.profile(ctx)
		if err != nil {
			return "", false, err
		}
		if zone, err = m.zone(ctx, p); err != nil {
			return "", false, err
		}
	}
	local := m.rd.now.In(zone)
	if q := m.c.quiet; q != nil && !deferred && q.contains(local.Hour()*60+local.Minute()) {
		m.e.DueAt = nextTimeOfDay(m.rd.now, zone, q.end)
		m.stat(st.ID, "quiet", 1)
		return "", true, nil
	}
	day, week := calendar(local)
	if f := fcap; capped {
		onDay, inWeek, err := m.rd.r.store.JourneySends(ctx, m.e.WorkspaceID, m.e.ProfileID, day, week)
		if err != nil {
			return "", false, err
		}
		onDay, inWeek = onDay+int64(m.rd.sentBy(m.e)), inWeek+int64(m.rd.sentBy(m.e))
		if f.Day > 0 && onDay >= int64(f.Day) || f.Week > 0 && inWeek >= int64(f.Week) {
			m.stat(st.ID, "capped", 1)
			m.path(st.ID, "capped")
			return st.Next, false, nil
		}
	}
	payload, err := json.Marshal(emailPayload{Workspace: m.e.WorkspaceID, Journey: m.e.JourneyID, Version: m.e.Version, Step: st.ID, Profile: m.e.ProfileID})
	if err != nil {
		return "", false, err
	}
	m.mv.Deliveries = append(m.mv.Deliveries, kenner.Delivery{WorkspaceID: m.e.WorkspaceID, DestinationID: EmailDestination, Key: m.key(),
		OrderKey: m.e.ProfileID, Type: DeliveryEmail, Payload: payload, NextAt: m.rd.now, CreatedAt: m.rd.now})
	m.mv.Sends = append(m.mv.Sends, kenner.JourneySend{ProfileID: m.e.ProfileID, Day: day, Week: week})
	m.rd.sent(m.e)
	m.rd.woken[EmailDestination] = true
	m.stat(st.ID, "sent", 1)
	m.path(st.ID, "sent")
	return st.Next, false, nil
}

// destination queues the person for a destination (a webhook, a CRM, an ads audience).
func (m *mover) destination(ctx context.Context, st *step) (string, bool, error) {
	if m.e.Control {
		m.stat(st.ID, "held_out", 1)
		m.path(st.ID, "held_out")
		return st.Next, false, nil
	}
	p, err := m.profile(ctx)
	if err != nil {
		return "", false, err
	}
	var scores map[string]any
	if m.rd.r.cfg.Scores != nil {
		scores = m.rd.r.cfg.Scores(ctx, m.e.WorkspaceID, p)
	}
	payload, err := activation.JourneyPayload(map[string]any{"id": m.e.JourneyID, "name": m.c.name, "version": m.e.Version, "step": st.ID},
		p, scores, m.rd.now)
	if err != nil {
		return "", false, err
	}
	m.mv.Deliveries = append(m.mv.Deliveries, kenner.Delivery{WorkspaceID: m.e.WorkspaceID, DestinationID: st.Destination, Key: m.key(),
		OrderKey: m.e.ProfileID, Type: DeliveryStep, Payload: payload, NextAt: m.rd.now, CreatedAt: m.rd.now})
	m.rd.woken[st.Destination] = true
	m.stat(st.ID, "sent", 1)
	m.path(st.ID, "sent")
	return st.Next, false, nil
}

// setTrait sets a trait as an identify call of the person from the journeys source, so
// that it has provenance, source priority applies, and erasure removes it like any trait.
func (m *mover) setTrait(ctx context.Context, st *step) (string, bool, error) {
	p, err := m.profile(ctx)
	if err != nil {
		return "", false, err
	}
	msg := map[string]any{"type": kenner.TypeIdentify, "messageId": m.key(), "timestamp": m.rd.now.Format(time.RFC3339Nano),
		"traits":  map[string]json.RawMessage{st.Trait: st.Value},
		"context": map[string]any{"journey": map[string]any{"id": m.e.JourneyID, "step": st.ID}}}
	for _, kind := range []string{kenner.KindUserID, kenner.KindAnonymousID} {
		for _, id := range p.Identities {
			if id.Kind == kind && msg["userId"] == nil && msg["anonymousId"] == nil {
				msg[map[string]string{kenner.KindUserID: "userId", kenner.KindAnonymousID: "anonymousId"}[kind]] = id.Value
			}
		}
	}
	if msg["userId"] == nil && msg["anonymousId"] == nil {
		m.path(st.ID, "skipped: no user or anonymous id")
		return st.Next, false, nil
	}
	raw, err := json.Marshal(msg)
	if err != nil {
		return "", false, err
	}
	m.rd.appends[m.e.WorkspaceID] = append(m.rd.appends[m.e.WorkspaceID], raw)
	m.stat(st.ID, "set", 1)
	m.path(st.ID, "set")
	return st.Next, false, nil
}

// emailPayload is a journey email's delivery: the email is rendered when it is sent, from
// the journey version's template and the profile as it is then.
type emailPayload struct {
	Workspace string `json:"workspace_id"`
	Journey   string `json:"journey_id"`
	Version   int    `json:"version"`
	Step      string `json:"step"`
	Profile   string `json:"profile_id"`
}

func (rd *round) sentBy(e kenner.Enrollment) int {
	return rd.sentCount[e.WorkspaceID+"/"+e.ProfileID]
}

func (rd *round) sent(e kenner.Enrollment) {
	if rd.sentCount == nil {
		rd.sentCount = map[string]int{}
	}
	rd.sentCount[e.WorkspaceID+"/"+e.ProfileID]++
}
