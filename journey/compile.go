package journey

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation/email"
	"github.com/kenner-cdp/kenner/segment"
)

// compiled is a journey version ready to run: its steps by id with their conditions and
// templates compiled against the workspace's definitions.
type compiled struct {
	ws      string
	id      string
	name    string
	version int
	def     kenner.JourneyDefinition
	first   string
	steps   map[string]*step
	filter  *segment.EventFilter // entry event filter
	exit    *segment.Rule
	eng     *segment.Engine
	rules   []*segment.Rule
	reentry time.Duration // -1: never; 0: always
	loc     *time.Location
	quiet   *window
	// goals are the goal steps by event name: doing the event anywhere jumps there.
	goals map[string]string
	zones sync.Map // time zones of people, by name
	// dateAt is a date entry's time of day (minutes after midnight).
	dateAt    int
	published time.Time
}

type step struct {
	kenner.JourneyStep
	rule    *segment.Rule
	tpl     *email.Template
	timeOfD int // wait_until: minutes after midnight
}

// window is a daily span of minutes after midnight; start > end spans midnight.
type window struct{ start, end int }

func (w window) contains(min int) bool {
	if w.start <= w.end {
		return min >= w.start && min < w.end
	}
	return min >= w.start || min < w.end
}

// stepError names the step a problem is in.
func stepError(s kenner.JourneyStep, format string, args ...any) error {
	return kenner.Errorf(kenner.EInvalid, "step %q (%s): %s", s.ID, s.Type, fmt.Sprintf(format, args...))
}

func invalid(format string, args ...any) error {
	return kenner.Errorf(kenner.EInvalid, format, args...)
}

// parseClock reads "HH:MM" as minutes after midnight.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not a time of day like 09:30", s)
	}
	return hh*60 + mm, nil
}

// ParseReentry reads a journey's re-entry rule: -1 never, 0 always, else the cool-down.
func ParseReentry(s string) (time.Duration, error) {
	switch s {
	case "", "never":
		return -1, nil
	case "always":
		return 0, nil
	}
	d, err := kenner.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, invalid("reentry must be \"never\", \"always\" or a cool-down like 30d, not %q", s)
	}
	return d, nil
}

// compile checks a definition against the workspace's definitions (eng) and the
// destinations that exist (dests: id → name), and compiles it. Everything that would stop
// a person mid-journey is refused here, with the step and the reason.
func compile(ws, id string, version int, def kenner.JourneyDefinition, eng *segment.Engine, dests map[string]bool, defaultTZ *time.Location) (*compiled, error) {
	c := &compiled{ws: ws, id: id, name: def.Name, version: version, def: def, eng: eng, steps: map[string]*step{}, goals: map[string]string{}, loc: defaultTZ}
	if strings.TrimSpace(def.Name) == "" {
		return nil, invalid("name is required")
	}
	kinds := 0
	for _, set := range []bool{def.Entry.Segment != "", def.Entry.Event != "", def.Entry.Date != nil, def.Entry.Audience != ""} {
		if set {
			kinds++
		}
	}
	switch {
	case kinds > 1:
		return nil, invalid("entry: one of a segment, an event, a date or an audience")
	case def.Entry.Audience != "":
		if _, ok := eng.Segment(def.Entry.Audience); !ok && !kenner.IsLeadStageSegment(def.Entry.Audience) {
			return nil, invalid("entry.audience: no segment %q", def.Entry.Audience)
		}
		if def.Reentry != "" && def.Reentry != "never" {
			return nil, invalid("reentry: an audience enters once; leave reentry out")
		}
	case def.Entry.Date != nil:
		d := def.Entry.Date
		if err := segment.ValidName(d.Trait); err != nil || d.Trait == "" {
			return nil, invalid("entry.date.trait must be a trait name, not %q", d.Trait)
		}
		if d.Before > 0 && d.After > 0 {
			return nil, invalid("entry.date: before or after, not both")
		}
		c.dateAt = 9 * 60
		if d.Time != "" {
			m, err := parseClock(d.Time)
			if err != nil {
				return nil, invalid("entry.date.time: %v", err)
			}
			c.dateAt = m
		}
		if def.Entry.Filter != "" {
			return nil, invalid("entry.filter applies to an event entry only")
		}
	case def.Entry.Segment != "":
		if _, ok := eng.Segment(def.Entry.Segment); !ok && !kenner.IsLeadStageSegment(def.Entry.Segment) {
			return nil, invalid("entry.segment: no segment %q", def.Entry.Segment)
		}
		if def.Entry.Filter != "" {
			return nil, invalid("entry.filter applies to an event entry only")
		}
	case def.Entry.Event != "":
		if def.Entry.Filter != "" {
			f, err := segment.CompileEventFilter(def.Entry.Filter, 0)
			if err != nil {
				return nil, invalid("entry.filter: %s", kenner.ErrorMessage(err))
			}
			c.filter = f
		}
	default:
		return nil, invalid("entry needs a segment (\"segment\": \"<id>\"), an event (\"event\": \"<name>\") or a date (\"date\": {\"trait\": \"renewal_date\", \"before\": \"3d\"}) or a one-off audience (\"audience\": \"<segment id>\")")
	}
	var err error
	if c.reentry, err = ParseReentry(def.Reentry); err != nil {
		return nil, err
	}
	if def.Exit != "" {
		if c.exit, err = eng.Rule(def.Exit); err != nil {
			return nil, invalid("exit: %s", kenner.ErrorMessage(err))
		}
		c.rules = append(c.rules, c.exit)
	}
	if def.Holdout < 0 || def.Holdout > 0.5 {
		return nil, invalid("holdout must be between 0 and 0.5, not %g", def.Holdout)
	}
	if def.Timezone != "" {
		if c.loc, err = time.LoadLocation(def.Timezone); err != nil {
			return nil, invalid("timezone %q is not an IANA time zone (like Europe/Amsterdam)", def.Timezone)
		}
	}
	if q := def.QuietHours; q != nil {
		s, err1 := parseClock(q.Start)
		e, err2 := parseClock(q.End)
		if err1 != nil || err2 != nil || s == e {
			return nil, invalid("quiet_hours: start and end must be different times of day like 21:00 and 08:00")
		}
		c.quiet = &window{s, e}
	}
	if f := def.FrequencyCap; f != nil && (f.Day < 0 || f.Week < 0) {
		return nil, invalid("frequency_cap: day and week must not be negative")
	}
	if len(def.Steps) == 0 {
		return nil, invalid("a journey needs at least one step")
	}
	if len(def.Steps) > kenner.MaxJourneySteps {
		return nil, invalid("a journey has at most %d steps, not %d", kenner.MaxJourneySteps, len(def.Steps))
	}
	c.first = def.Steps[0].ID
	for _, s := range def.Steps {
		if s.ID == "" || strings.ContainsAny(s.ID, ": \t\n") || len(s.ID) > 64 {
			return nil, invalid("every step needs an id of at most 64 characters without spaces or colons (got %q)", s.ID)
		}
		if _, dup := c.steps[s.ID]; dup {
			return nil, invalid("two steps have the id %q", s.ID)
		}
		c.steps[s.ID] = &step{JourneyStep: s}
	}
	for _, s := range def.Steps {
		st := c.steps[s.ID]
		if err := c.compileStep(st, dests); err != nil {
			return nil, err
		}
		for _, next := range successors(s) {
			if _, ok := c.steps[next]; !ok {
				return nil, stepError(s, "goes to %q, which is not a step", next)
			}
		}
	}
	if err := c.checkLoops(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *compiled) compileStep(st *step, dests map[string]bool) error {
	s := st.JourneyStep
	wait := func(d kenner.Duration, field string) error {
		if time.Duration(d) < kenner.MinJourneyWait || time.Duration(d) > kenner.MaxJourneyWait {
			return stepError(s, "%s must be between 1 minute and 1 year, not %s", field, time.Duration(d))
		}
		return nil
	}
	var err error
	switch s.Type {
	case kenner.StepWait:
		return wait(s.Duration, "duration")
	case kenner.StepWaitUntil:
		if st.timeOfD, err = parseClock(s.Time); err != nil {
			return stepError(s, "time: %v", err)
		}
	case kenner.StepWaitEvent:
		if s.Event == "" {
			return stepError(s, "event is required")
		}
		if err := wait(s.Timeout, "timeout"); err != nil {
			return err
		}
	case kenner.StepBranch:
		if s.Condition == "" {
			return stepError(s, "condition is required")
		}
		if st.rule, err = c.eng.Rule(s.Condition); err != nil {
			return stepError(s, "condition: %s", kenner.ErrorMessage(err))
		}
		c.rules = append(c.rules, st.rule)
	case kenner.StepSplit:
		if s.Percent <= 0 || s.Percent >= 100 {
			return stepError(s, "percent must be between 0 and 100 (exclusive), not %g", s.Percent)
		}
	case kenner.StepEmail:
		if st.tpl, err = email.ParseTemplate(s.Subject, s.Text, s.HTML); err != nil {
			return stepError(s, "%s", kenner.ErrorMessage(err))
		}
		if _, err := st.tpl.Render(sampleData()); err != nil {
			return stepError(s, "the template does not render for a sample profile: %v", err)
		}
	case kenner.StepDestination:
		if !dests[s.Destination] {
			return stepError(s, "no destination %q", s.Destination)
		}
	case kenner.StepSetTrait:
		if err := segment.ValidName(s.Trait); err != nil || s.Trait == "" {
			return stepError(s, "trait must be a trait name, not %q", s.Trait)
		}
		var v any
		if len(s.Value) == 0 || json.Unmarshal(s.Value, &v) != nil {
			return stepError(s, "value must be a JSON value")
		}
	case kenner.StepGoal:
		if s.Event == "" {
			return stepError(s, "event is required")
		}
		if other, dup := c.goals[s.Event]; dup {
			return stepError(s, "step %q is already the goal of %q", other, s.Event)
		}
		c.goals[s.Event] = s.ID
	case "":
		return stepError(s, "type is required")
	default:
		return stepError(s, "unknown type (known: wait, wait_until, wait_event, branch, split, email, destination, set_trait, goal)")
	}
	switch s.Type {
	case kenner.StepBranch, kenner.StepSplit:
		if s.Then == "" && s.Else == "" {
			return stepError(s, "needs then or else (an empty one ends the journey there)")
		}
	case kenner.StepWaitEvent:
	default:
		if s.Then != "" || s.Else != "" || s.TimeoutNext != "" {
			return stepError(s, "then, else and timeout_next are for branch, split and wait_event steps; use next")
		}
	}
	return nil
}

// successors are the steps a step can go to.
func successors(s kenner.JourneyStep) []string {
	var out []string
	switch s.Type {
	case kenner.StepBranch, kenner.StepSplit:
		out = []string{s.Then, s.Else}
	case kenner.StepWaitEvent:
		out = []string{s.Then, s.TimeoutNext}
	default:
		out = []string{s.Next}
	}
	n := 0
	for _, x := range out {
		if x != "" {
			out[n] = x
			n++
		}
	}
	return out[:n]
}

func isWait(t string) bool {
	return t == kenner.StepWait || t == kenner.StepWaitUntil || t == kenner.StepWaitEvent
}

// checkLoops refuses a cycle of steps without a wait: a person in it would move forever
// without time passing.
func (c *compiled) checkLoops() error {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var visit func(id string, path []string) error
	visit = func(id string, path []string) error {
		s := c.steps[id]
		if isWait(s.Type) {
			return nil // a wait breaks every cycle through it
		}
		switch color[id] {
		case grey:
			return stepError(s.JourneyStep, "is in a loop without a wait (%s → %s)", strings.Join(path, " → "), id)
		case black:
			return nil
		}
		color[id] = grey
		for _, n := range successors(s.JourneyStep) {
			if err := visit(n, append(path, id)); err != nil {
				return err
			}
		}
		color[id] = black
		return nil
	}
	for _, s := range c.def.Steps {
		if err := visit(s.ID, nil); err != nil {
			return err
		}
	}
	return nil
}

// sampleData is the profile an email template is tried on before a journey is published.
func sampleData() map[string]any {
	return map[string]any{
		"id":          "prf_sample",
		"email":       "sample@example.com",
		"traits":      map[string]any{"first_name": "Sam", "last_name": "Sample", "email": "sample@example.com"},
		"computed":    map[string]any{},
		"predictions": map[string]any{},
		"segments":    []string{},
		"journey":     map[string]any{"id": "jrn_sample", "name": "sample"},
		"unsubscribe": "https://example.com/unsubscribe",
	}
}

// holds evaluates a rule of the journey for a person; an evaluation error (a trait the
// person lacks) is false.
func (c *compiled) holds(rule *segment.Rule, p *kenner.Profile, now time.Time) bool {
	var ids []kenner.Identifier
	if rule.ReadsIdentities() {
		for _, id := range p.Identities {
			ids = append(ids, id.Identifier)
		}
	}
	ok, _ := rule.Holds(c.eng.RuleInput(p, ids, now, c.rules), p.Segments)
	return ok
}
