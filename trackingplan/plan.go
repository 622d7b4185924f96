// Package trackingplan checks events against a source's tracking plan (like Segment
// Protocols): a JSON Schema for the properties of each planned track event and one for
// identify traits, and decides what happens to an event that breaks it (allow, flag, block).
package trackingplan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/jsonobj"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// maxViolations bounds what one event reports, so that a payload of a thousand bad fields
// cannot flood the counts.
const maxViolations = 20

// IdentifyEvent is the name under which identify traits' violations are counted.
const IdentifyEvent = "identify"

// Plan is a compiled kenner.TrackingPlan.
type Plan struct {
	mode, unplanned string
	events          map[string]*jsonschema.Schema
	identify        *jsonschema.Schema
}

var modes = []string{kenner.PlanAllow, kenner.PlanFlag, kenner.PlanBlock}

// Compile checks a plan's modes and schemas. An invalid schema is an invalid error naming the
// event.
func Compile(p kenner.TrackingPlan) (*Plan, error) {
	out := &Plan{mode: p.Mode, unplanned: p.Unplanned, events: map[string]*jsonschema.Schema{}}
	if out.mode == "" {
		out.mode = kenner.PlanAllow
	}
	if out.unplanned == "" {
		out.unplanned = kenner.PlanAllow
	}
	if !slices.Contains(modes, out.mode) {
		return nil, kenner.Errorf(kenner.EInvalid, "tracking plan mode %q is not one of allow, flag, block", p.Mode)
	}
	if !slices.Contains(modes, out.unplanned) {
		return nil, kenner.Errorf(kenner.EInvalid, "tracking plan unplanned %q is not one of allow, flag, block", p.Unplanned)
	}
	for name, raw := range p.Events {
		if strings.TrimSpace(name) == "" {
			return nil, kenner.Errorf(kenner.EInvalid, "tracking plan: an event has an empty name")
		}
		s, err := compileSchema(raw)
		if err != nil {
			return nil, kenner.Errorf(kenner.EInvalid, "tracking plan: event %q: %v", name, err)
		}
		out.events[name] = s
	}
	if len(p.Identify) > 0 {
		s, err := compileSchema(p.Identify)
		if err != nil {
			return nil, kenner.Errorf(kenner.EInvalid, "tracking plan: identify: %v", err)
		}
		out.identify = s
	}
	return out, nil
}

func compileSchema(raw json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	// Schemas are self-contained: no $ref is loaded from files or the network.
	c.UseLoader(jsonschema.SchemeURLLoader{})
	if err := c.AddResource("plan.json", doc); err != nil {
		return nil, err
	}
	s, err := c.Compile("plan.json")
	if err != nil {
		return nil, fmt.Errorf("schema: %s", strings.ReplaceAll(err.Error(), "\n", " "))
	}
	return s, nil
}

// Verdict is what the plan says of one message: its violations and what to do with it
// (kenner.PlanAllow when there are none).
type Verdict struct {
	Action     string
	Violations []kenner.Violation
}

// Check validates one message (as appended to the log). Only identify and track messages are
// planned.
func (p *Plan) Check(body []byte) (Verdict, error) {
	m, err := jsonobj.Parse(body)
	if err != nil {
		return Verdict{}, err
	}
	var typ, event string
	json.Unmarshal(m.Get("type"), &typ)
	var schema *jsonschema.Schema
	var section []byte
	switch typ {
	case kenner.TypeTrack:
		json.Unmarshal(m.Get("event"), &event)
		s, ok := p.events[event]
		if !ok {
			if p.unplanned == kenner.PlanAllow {
				return Verdict{Action: kenner.PlanAllow}, nil
			}
			return Verdict{Action: p.unplanned, Violations: []kenner.Violation{{Event: SafeName(event), Message: "event is not in the tracking plan"}}}, nil
		}
		schema, section = s, m.Get("properties")
	case kenner.TypeIdentify:
		if p.identify == nil {
			return Verdict{Action: kenner.PlanAllow}, nil
		}
		event, schema, section = IdentifyEvent, p.identify, m.Get("traits")
	default:
		return Verdict{Action: kenner.PlanAllow}, nil
	}
	if jsonobj.IsNull(section) {
		section = []byte("{}")
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(section))
	if err != nil {
		return Verdict{}, err
	}
	err = schema.Validate(inst)
	if err == nil {
		return Verdict{Action: kenner.PlanAllow}, nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return Verdict{}, err
	}
	v := Verdict{Action: p.mode}
	leaves(ve, func(e *jsonschema.ValidationError) {
		if len(v.Violations) < maxViolations {
			v.Violations = append(v.Violations, kenner.Violation{Event: event, Path: pointer(e.InstanceLocation), Message: describe(e.ErrorKind)})
		}
	})
	slices.SortFunc(v.Violations, func(a, b kenner.Violation) int {
		return strings.Compare(a.Path+"\x00"+a.Message, b.Path+"\x00"+b.Message)
	})
	return v, nil
}

// leaves calls fn for the errors that say what is wrong, not the ones that group them.
func leaves(e *jsonschema.ValidationError, fn func(*jsonschema.ValidationError)) {
	if len(e.Causes) == 0 {
		fn(e)
		return
	}
	for _, c := range e.Causes {
		leaves(c, fn)
	}
}

// pointer writes an instance location as a JSON pointer ("" for the whole object).
func pointer(loc []string) string {
	var b strings.Builder
	for _, t := range loc {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(SafeName(t)))
	}
	return b.String()
}

// describe says what is wrong without the value that is wrong: violations are counted by
// their message and kept in plain text, so they must not carry personal data (an invalid
// email, a phone number that fails a pattern).
func describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Required:
		return "missing property " + quoteAll(k.Missing)
	case *kind.Type:
		return fmt.Sprintf("is %s, want %s", k.Got, strings.Join(k.Want, " or "))
	case *kind.Format:
		return "is not a valid " + k.Want
	case *kind.Pattern:
		return fmt.Sprintf("does not match pattern %q", k.Want)
	case *kind.Enum:
		return "is not one of the allowed values"
	case *kind.Const:
		return "is not the required value"
	case *kind.AdditionalProperties:
		names := make([]string, len(k.Properties))
		for i, n := range k.Properties {
			names[i] = SafeName(n)
		}
		return "has properties not in the plan: " + quoteAll(names)
	case *kind.MinLength:
		return fmt.Sprintf("is shorter than %d characters", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("is longer than %d characters", k.Want)
	case *kind.Minimum:
		return "is less than the minimum " + number(k.Want)
	case *kind.Maximum:
		return "is more than the maximum " + number(k.Want)
	case *kind.FalseSchema:
		return "is not allowed"
	}
	if kw := k.KeywordPath(); len(kw) > 0 {
		return "fails " + strings.Join(kw, "/")
	}
	return "does not match the plan"
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return strings.Join(q, ", ")
}

func number(r *big.Rat) string {
	return strings.TrimSuffix(strings.TrimRight(r.FloatString(6), "0"), ".")
}

// personalName stands in a violation for a name the client sent that looks like personal
// data rather than a property or event name.
const personalName = "(a name that looks like personal data)"

// SafeName is a client-sent name (an unplanned event or property) as violations keep it:
// violations are counts kept in plain text, shared by everyone who sent the same mistake, so
// they cannot be erased per person; a name that looks like personal data (an email, a phone
// number, a long digit string, an over-long name) is kept as a placeholder instead.
func SafeName(name string) string {
	digits := 0
	for _, r := range name {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if strings.ContainsRune(name, '@') || digits >= 6 || len(name) > 64 {
		return personalName
	}
	return name
}
