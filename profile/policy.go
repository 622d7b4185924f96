// Package profile folds events into profiles: traits with provenance under a merge policy,
// first and last seen, group (account) membership. Every rule here is commutative (the best
// value wins, whatever order values arrive in), so that merging two profiles, processing
// partitions in any order and replaying the log all give the same profile.
package profile

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/analytics"
	"github.com/kenner-cdp/kenner/jsonobj"
)

// Policy decides which of two values of a trait a profile keeps.
type Policy struct {
	// SourcePriority lists source names from most to least trusted: a value from a more
	// trusted source wins over a newer one from a less trusted source. Sources not listed rank
	// below every listed one. Empty: the latest event time wins, whatever its source.
	SourcePriority []string
	// SourceName maps a source id to its name (nil when SourcePriority is empty).
	SourceName func(sourceID string) string
	// TouchRules classify marketing touches into channels; with them, page, screen and track
	// events that came from a campaign, an ad or another site set the traits first_touch (the
	// earliest) and last_touch (the latest), for segments (nil: no touch traits).
	TouchRules []analytics.Rule
}

func (p Policy) sourceRank(sourceID string) int {
	if len(p.SourcePriority) == 0 || p.SourceName == nil {
		return 0
	}
	if i := slices.Index(p.SourcePriority, p.SourceName(sourceID)); i >= 0 {
		return i
	}
	return len(p.SourcePriority)
}

// better reports whether value a (from sourceA, at time ta, log rank ra) beats b.
func (p Policy) better(sourceA string, ta time.Time, ra int64, sourceB string, tb time.Time, rb int64) bool {
	if pa, pb := p.sourceRank(sourceA), p.sourceRank(sourceB); pa != pb {
		return pa < pb
	}
	if !ta.Equal(tb) {
		return ta.After(tb)
	}
	return ra > rb
}

// SetTrait offers a value for a trait; the profile keeps it if it beats the current one.
func (p Policy) SetTrait(prof *kenner.Profile, name string, t kenner.Trait) {
	if prof.Traits == nil {
		prof.Traits = map[string]kenner.Trait{}
	}
	cur, ok := prof.Traits[name]
	if !ok || p.better(t.SourceID, t.Timestamp, t.Rank, cur.SourceID, cur.Timestamp, cur.Rank) {
		prof.Traits[name] = t
	}
}

// SetGroup offers a group membership; a newer one replaces the group's traits.
func (p Policy) SetGroup(prof *kenner.Profile, g kenner.Group) {
	if prof.Groups == nil {
		prof.Groups = map[string]kenner.Group{}
	}
	cur, ok := prof.Groups[g.ID]
	if !ok || p.better(g.SourceID, g.Timestamp, g.Rank, cur.SourceID, cur.Timestamp, cur.Rank) {
		prof.Groups[g.ID] = g
	}
}

// Seen widens the profile's first/last seen to include t.
func Seen(prof *kenner.Profile, t time.Time) {
	if prof.FirstSeen.IsZero() || t.Before(prof.FirstSeen) {
		prof.FirstSeen = t
	}
	if t.After(prof.LastSeen) {
		prof.LastSeen = t
	}
}

// Apply folds one event into the profile: an identify call's traits, a group call's
// membership, and the event time into first/last seen. It returns the names of the traits
// the event set.
func (p Policy) Apply(prof *kenner.Profile, e *kenner.Event) (traits []string, err error) {
	Seen(prof, e.Timestamp)
	if e.Type == kenner.TypePage || e.Type == kenner.TypeScreen || e.Type == kenner.TypeTrack {
		return p.touch(prof, e), nil
	}
	if e.Type != kenner.TypeIdentify && e.Type != kenner.TypeGroup {
		return nil, nil
	}
	m, err := jsonobj.Parse(e.Body)
	if err != nil {
		return nil, err
	}
	rank := kenner.EventRank(e.Seq, e.Index)
	switch e.Type {
	case kenner.TypeIdentify:
		fields, err := jsonobj.Parse(m.Get("traits"))
		if err != nil {
			return nil, nil // no traits object: nothing to set
		}
		originals := originalTraits(m)
		for _, f := range fields {
			traits = append(traits, f.Key)
			t := kenner.Trait{Value: compact(f.Value), SourceID: e.SourceID, MessageID: e.MessageID, Timestamp: e.Timestamp, Rank: rank}
			if o := originals.Get(f.Key); o != nil {
				t.Original = compact(o)
			}
			p.SetTrait(prof, f.Key, t)
		}
	case kenner.TypeGroup:
		id, ok := m.GetString("groupId")
		if !ok {
			if raw := m.Get("groupId"); len(raw) > 0 && raw[0] != 'n' {
				id = string(raw) // a numeric group id
			}
		}
		if id == "" {
			return nil, nil
		}
		g := kenner.Group{ID: id, SourceID: e.SourceID, MessageID: e.MessageID, Timestamp: e.Timestamp, Rank: rank}
		if raw := m.Get("traits"); len(raw) > 0 && raw[0] == '{' {
			g.Traits = compact(raw)
		}
		p.SetGroup(prof, g)
	}
	return traits, nil
}

// Touch traits: not facts a source claims but when the person came, so the earliest (first)
// and the latest (last) win whatever the source.
const (
	FirstTouchTrait = "first_touch"
	LastTouchTrait  = "last_touch"
)

// touch sets the touch traits from an event that carries a touch; a body that cannot hold one
// is not parsed.
func (p Policy) touch(prof *kenner.Profile, e *kenner.Event) []string {
	if p.TouchRules == nil || !(bytes.Contains(e.Body, []byte(`"campaign"`)) || bytes.Contains(e.Body, []byte(`"referrer"`)) || bytes.Contains(e.Body, []byte("clid="))) {
		return nil
	}
	tc, ok := analytics.TouchOf(e.Body, e.Timestamp)
	if !ok {
		return nil
	}
	tc.Channel = analytics.Classify(p.TouchRules, tc)
	v := map[string]string{"channel": tc.Channel, "source": tc.Source, "medium": tc.Medium, "campaign": tc.Campaign, "term": tc.Term,
		"content": tc.Content, "referrer": tc.Referrer, "click_id": tc.ClickID, "at": e.Timestamp.UTC().Format(time.RFC3339Nano)}
	for k, x := range v {
		if x == "" {
			delete(v, k)
		}
	}
	raw, _ := json.Marshal(v)
	t := kenner.Trait{Value: raw, SourceID: e.SourceID, MessageID: e.MessageID, Timestamp: e.Timestamp, Rank: kenner.EventRank(e.Seq, e.Index)}
	var set []string
	if setTouch(prof, FirstTouchTrait, t) {
		set = append(set, FirstTouchTrait)
	}
	if setTouch(prof, LastTouchTrait, t) {
		set = append(set, LastTouchTrait)
	}
	return set
}

// setTouch keeps the earlier (first_touch) or the later (last_touch) of two touches, by time
// then log order: commutative, like every rule here.
func setTouch(prof *kenner.Profile, name string, t kenner.Trait) bool {
	if prof.Traits == nil {
		prof.Traits = map[string]kenner.Trait{}
	}
	cur, ok := prof.Traits[name]
	later := t.Timestamp.After(cur.Timestamp) || t.Timestamp.Equal(cur.Timestamp) && t.Rank > cur.Rank
	if !ok || (name == FirstTouchTrait) != later {
		prof.Traits[name] = t
		return true
	}
	return false
}

// Merge folds profile from into into, which survives.
func (p Policy) Merge(into, from *kenner.Profile) {
	for name, t := range from.Traits {
		if name == FirstTouchTrait || name == LastTouchTrait {
			setTouch(into, name, t)
			continue
		}
		p.SetTrait(into, name, t)
	}
	for _, g := range from.Groups {
		p.SetGroup(into, g)
	}
	if !from.FirstSeen.IsZero() {
		Seen(into, from.FirstSeen)
		Seen(into, from.LastSeen)
	}
	mergeConsent(into, from)
	for k, a := range from.Aggregates {
		if into.Aggregates == nil {
			into.Aggregates = map[string]*kenner.Aggregate{}
		}
		if into.Aggregates[k] == nil {
			into.Aggregates[k] = &kenner.Aggregate{}
		}
		MergeAggregates(into.Aggregates[k], a)
	}
}

func compact(raw []byte) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return json.RawMessage(slices.Clone(raw))
	}
	return b.Bytes()
}

// originalTraits returns what ingestion's standardization changed in the traits, as sent
// (context.original.traits), or nil.
func originalTraits(m jsonobj.Object) jsonobj.Object {
	ctx, err := jsonobj.Parse(m.Get("context"))
	if err != nil {
		return nil
	}
	orig, err := jsonobj.Parse(ctx.Get("original"))
	if err != nil {
		return nil
	}
	traits, err := jsonobj.Parse(orig.Get("traits"))
	if err != nil {
		return nil
	}
	return traits
}
