package console

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/kenner-cdp/kenner"
)

// planForm is a tracking plan as the simple editor shows it: the modes, and per event its
// required properties and the types of properties. A plan whose schemas say more than that
// (formats, nested objects, enums) is edited as JSON; Simple says whether this one fits.
type planForm struct {
	Mode, Unplanned string
	Events          []planEvent
	Simple          bool
}

type planEvent struct {
	Name, Required, Types string
}

// propertyTypes are the JSON Schema types the simple editor offers.
var propertyTypes = []string{"string", "number", "integer", "boolean", "object", "array"}

// planFormOf reads a plan into the editor's rows.
func planFormOf(raw json.RawMessage) planForm {
	f := planForm{Mode: "flag", Unplanned: "allow", Simple: true}
	if len(raw) == 0 {
		return f
	}
	var p kenner.TrackingPlan
	if json.Unmarshal(raw, &p) != nil {
		f.Simple = false
		return f
	}
	f.Mode = p.Mode
	if p.Unplanned != "" {
		f.Unplanned = p.Unplanned
	}
	if len(p.Identify) > 0 {
		f.Simple = false
	}
	names := make([]string, 0, len(p.Events))
	for n := range p.Events {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		var s struct {
			Type       string                     `json:"type"`
			Required   []string                   `json:"required"`
			Properties map[string]json.RawMessage `json:"properties"`
		}
		var all map[string]json.RawMessage
		json.Unmarshal(p.Events[n], &all)
		if json.Unmarshal(p.Events[n], &s) != nil || s.Type != "object" || len(all) > 3 {
			f.Simple = false
			continue
		}
		ev := planEvent{Name: n, Required: strings.Join(s.Required, ", ")}
		var types []string
		props := make([]string, 0, len(s.Properties))
		for k := range s.Properties {
			props = append(props, k)
		}
		slices.Sort(props)
		for _, k := range props {
			var t map[string]string
			if json.Unmarshal(s.Properties[k], &t) != nil || len(t) != 1 || t["type"] == "" {
				f.Simple = false
				continue
			}
			types = append(types, k+": "+t["type"])
		}
		ev.Types = strings.Join(types, ", ")
		f.Events = append(f.Events, ev)
	}
	return f
}

// plan writes the editor's rows as a tracking plan: each event an object schema with its
// required properties and typed properties.
func (f planForm) plan() (json.RawMessage, error) {
	p := kenner.TrackingPlan{Mode: f.Mode, Unplanned: f.Unplanned, Events: map[string]json.RawMessage{}}
	for _, ev := range f.Events {
		name := strings.TrimSpace(ev.Name)
		if name == "" {
			if strings.TrimSpace(ev.Required+ev.Types) != "" {
				return nil, fmt.Errorf("a row has properties but no event name")
			}
			continue
		}
		schema := map[string]any{"type": "object"}
		var required []string
		for _, r := range strings.Split(ev.Required, ",") {
			if r = strings.TrimSpace(r); r != "" {
				required = append(required, r)
			}
		}
		if len(required) > 0 {
			schema["required"] = required
		}
		props := map[string]any{}
		for _, t := range strings.Split(ev.Types, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			prop, typ, ok := strings.Cut(t, ":")
			prop, typ = strings.TrimSpace(prop), strings.TrimSpace(typ)
			if !ok || prop == "" || !slices.Contains(propertyTypes, typ) {
				return nil, fmt.Errorf("event %s: %q should read property: type, with a type among %s", name, t, strings.Join(propertyTypes, ", "))
			}
			props[prop] = map[string]string{"type": typ}
		}
		if len(props) > 0 {
			schema["properties"] = props
		}
		b, _ := json.Marshal(schema)
		p.Events[name] = b
	}
	return json.Marshal(p)
}
