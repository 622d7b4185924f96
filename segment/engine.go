// Package segment compiles a workspace's computed traits and segment conditions (CEL) and
// evaluates them against profiles: folding events into the aggregates they need, computing
// values, and deciding memberships, incrementally after a change or in batch.
package segment

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"cel.dev/cel-go/cel"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/profile"
)

// DefaultCostLimit bounds the work of one evaluation of one condition (CEL cost units, about
// one per operation): a condition that loops over a large list aborts instead of stalling the
// processor, and the profile is not a member.
const DefaultCostLimit = 100_000

// Options tune an Engine.
type Options struct {
	CostLimit uint64 // 0: DefaultCostLimit
	// ConsentDefaults are the answers assumed for the purposes of the consent policy when a
	// person never gave one, so that consent.<purpose> is defined for every profile.
	ConsentDefaults map[string]bool
}

// Engine is a workspace's computed traits and segments, compiled. It is immutable: a change of
// definitions compiles a new one.
type Engine struct {
	aggs     map[string]*aggregate
	byEvent  map[string][]*aggregate
	traits   []*trait // aggregates first, then expressions in dependency order
	segments []*compiled
	models   []*model
	byID     map[string]*compiled
	// dependents lists, for each segment, the segments whose conditions name it.
	dependents map[string][]string
	consent    map[string]bool // Options.ConsentDefaults
	counters   int             // aggregates behind events.count/exists (Input's aggs)
	groups     bool            // some definition reads groups (Input decodes them)
	opts       Options
}

// aggregate is one event aggregate kept on every profile: a computed trait's, or a counter
// behind a segment condition's events.count/events.exists.
type aggregate struct {
	key      string
	spec     profile.Spec
	event    string
	property []string
	where    cel.Program
	whereVar string // the event's name in where: e, or what the condition called it
	// multi folds every value the property path reaches, through lists (an order's products)
	multi bool
}

type trait struct {
	def  kenner.ComputedTrait
	agg  *aggregate
	expr cel.Program
	deps deps
}

type compiled struct {
	seg  kenner.Segment
	prog cel.Program
	deps deps
}

// deps is what a condition or expression reads, to know which changes can affect it.
type deps struct {
	traits      map[string]bool
	allTraits   bool
	computed    map[string]bool
	allComputed bool
	aggs        map[string]bool
	segments    map[string]bool
	identities  bool
	consent     bool
	groups      bool
	// predictions: the scores, which move with everything a model reads (traits, computed
	// traits, purchases) and with every training.
	predictions bool
}

// Compile checks and compiles definitions. Errors are kenner.EInvalid and name the definition,
// the position in its condition and the problem.
func Compile(traits []kenner.ComputedTrait, segments []kenner.Segment, opts Options) (*Engine, error) {
	return CompileDefinitions(Definitions{Traits: traits, Segments: segments}, opts)
}

// CompileDefinitions is Compile with the workspace's prediction models, whose scores
// conditions read as predictions.<model name>.
func CompileDefinitions(d Definitions, opts Options) (*Engine, error) {
	traits, segments := d.Traits, d.Segments
	if opts.CostLimit == 0 {
		opts.CostLimit = DefaultCostLimit
	}
	c := &compiler{opts: opts, e: &Engine{opts: opts, consent: opts.ConsentDefaults, aggs: map[string]*aggregate{}, byEvent: map[string][]*aggregate{},
		byID: map[string]*compiled{}, dependents: map[string][]string{}}}
	if err := c.traits(traits); err != nil {
		return nil, err
	}
	if err := c.segments(segments); err != nil {
		return nil, err
	}
	if err := c.models(d.Models); err != nil {
		return nil, err
	}
	if err := c.leadStages(); err != nil {
		return nil, err
	}
	for k, a := range c.e.aggs {
		if a.spec.Func == kenner.FuncCount && k[0] == 'c' {
			c.e.counters++
		}
	}
	for _, t := range c.e.traits {
		c.e.groups = c.e.groups || t.deps.groups
	}
	for _, s := range c.e.segments {
		c.e.groups = c.e.groups || s.deps.groups
	}
	return c.e, nil
}

// aggregateKey names an aggregate by its definition, so that equal definitions share state
// and an edited one starts afresh.
func aggregateKey(prefix string, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return prefix + hex.EncodeToString(h[:8])
}

// eventKey is the name an aggregate's Event matches: a track call's event name, "$" + type for
// the other calls.
func eventKey(e *kenner.Event) string {
	if e.Type == "track" {
		return e.Name
	}
	return "$" + e.Type
}

// Segment returns the compiled segment with that id.
func (e *Engine) Segment(id string) (kenner.Segment, bool) {
	c, ok := e.byID[id]
	if !ok {
		return kenner.Segment{}, false
	}
	return c.seg, true
}

// Segments lists the segments in evaluation order (a segment after those it names).
func (e *Engine) Segments() []kenner.Segment {
	out := make([]kenner.Segment, len(e.segments))
	for i, c := range e.segments {
		out[i] = c.seg
	}
	return out
}

// Empty reports whether there is nothing to maintain.
func (e *Engine) Empty() bool { return len(e.aggs) == 0 && len(e.traits) == 0 && len(e.segments) == 0 }

// Fold adds event ev to p's aggregates and returns the keys of the aggregates it changed.
func (e *Engine) Fold(p *kenner.Profile, ev *kenner.Event) ([]string, error) {
	return e.FoldOnly(p, ev, nil)
}

// FoldOnly is Fold restricted to the aggregates in only (nil: all).
func (e *Engine) FoldOnly(p *kenner.Profile, ev *kenner.Event, only map[string]bool) ([]string, error) {
	matching := e.byEvent[eventKey(ev)]
	if len(matching) == 0 {
		return nil, nil
	}
	var doc map[string]any
	var changed []string
	for _, a := range matching {
		if only != nil && !only[a.key] {
			continue
		}
		if doc == nil && (a.where != nil || len(a.property) > 0) {
			if err := json.Unmarshal(ev.Body, &doc); err != nil {
				return nil, fmt.Errorf("event %s: %w", ev.MessageID, err)
			}
		}
		if a.where != nil {
			out, _, err := a.where.Eval(map[string]any{a.whereVar: doc})
			if err != nil {
				continue // the event lacks a field the condition reads: it does not match
			}
			if ok, _ := out.Value().(bool); !ok {
				continue
			}
		}
		if a.multi {
			// Every product of an order: each value the path reaches, through lists.
			vals := lookupAll(doc, a.property, nil)
			if len(vals) == 0 {
				continue
			}
			agg := aggregateOf(p, a.key)
			for _, v := range vals {
				if raw, err := json.Marshal(v); err == nil {
					profile.Add(agg, a.spec, ev.Timestamp, kenner.EventRank(ev.Seq, ev.Index), raw)
				}
			}
			changed = append(changed, a.key)
			continue
		}
		var value json.RawMessage
		if len(a.property) > 0 {
			v, ok := lookup(doc, a.property)
			if !ok {
				continue
			}
			if value, _ = json.Marshal(v); value == nil {
				continue
			}
		}
		if p.Aggregates == nil {
			p.Aggregates = map[string]*kenner.Aggregate{}
		}
		agg := p.Aggregates[a.key]
		if agg == nil {
			agg = &kenner.Aggregate{}
			p.Aggregates[a.key] = agg
		}
		profile.Add(agg, a.spec, ev.Timestamp, kenner.EventRank(ev.Seq, ev.Index), value)
		changed = append(changed, a.key)
	}
	return changed, nil
}

// Tidy drops the aggregates no definition uses any more, the memberships of segments that
// no longer exist (the store deleted their member lists; the profile API lists what the
// profile holds), and the buckets that left their window, and sets p.Expires to the next
// time a windowed value changes.
func (e *Engine) Tidy(p *kenner.Profile, now time.Time) {
	for id := range p.Segments {
		if _, ok := e.byID[id]; !ok {
			delete(p.Segments, id)
		}
	}
	p.Expires = time.Time{}
	for k, agg := range p.Aggregates {
		a, ok := e.aggs[k]
		if !ok {
			delete(p.Aggregates, k)
			continue
		}
		profile.Prune(agg, a.spec, now)
		if len(agg.Buckets) == 0 {
			delete(p.Aggregates, k)
			continue
		}
		if t := profile.NextChange(agg, a.spec, now); !t.IsZero() && (p.Expires.IsZero() || t.Before(p.Expires)) {
			p.Expires = t
		}
	}
	if t := e.leadExpiry(p, now); !t.IsZero() && (p.Expires.IsZero() || t.Before(p.Expires)) {
		p.Expires = t
	}
}

// aggregateOf returns p's aggregate of that key, created when missing.
func aggregateOf(p *kenner.Profile, key string) *kenner.Aggregate {
	if p.Aggregates == nil {
		p.Aggregates = map[string]*kenner.Aggregate{}
	}
	agg := p.Aggregates[key]
	if agg == nil {
		agg = &kenner.Aggregate{}
		p.Aggregates[key] = agg
	}
	return agg
}

// lookupAll appends every value path reaches in cur to out, walking into each element of a
// list on the way (properties.products.product_id: each product's id).
func lookupAll(cur any, path []string, out []any) []any {
	switch c := cur.(type) {
	case []any:
		for _, el := range c {
			out = lookupAll(el, path, out)
		}
		return out
	case map[string]any:
		if len(path) == 0 {
			return out
		}
		return lookupAll(c[path[0]], path[1:], out)
	case nil:
		return out
	}
	if len(path) == 0 {
		return append(out, cur)
	}
	return out
}

func lookup(doc map[string]any, path []string) (any, bool) {
	var cur any = doc
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, cur != nil
}

// WithTrait returns traits with t added, or replacing the trait of the same name: the set to
// check before saving t.
func WithTrait(traits []kenner.ComputedTrait, t kenner.ComputedTrait) []kenner.ComputedTrait {
	out := make([]kenner.ComputedTrait, 0, len(traits)+1)
	for _, x := range traits {
		if x.Name != t.Name {
			out = append(out, x)
		}
	}
	return append(out, t)
}

// WithSegment returns segs with s added, or replacing the segment of the same id.
func WithSegment(segs []kenner.Segment, s kenner.Segment) []kenner.Segment {
	out := make([]kenner.Segment, 0, len(segs)+1)
	for _, x := range segs {
		if x.ID != s.ID {
			out = append(out, x)
		}
	}
	return append(out, s)
}
