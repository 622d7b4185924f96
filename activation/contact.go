package activation

import (
	"encoding/json"
	"strings"

	"github.com/kenner-cdp/kenner"
)

// Contact is the person a CRM destination upserts, read from a change delivery: a profile
// update, a segment entry or exit, or a lead stage change.
type Contact struct {
	Type       string
	ProfileID  string
	Identities []kenner.Identifier
	Traits     map[string]any
	// Doc is the whole delivery, for field mappings ("profile.traits.company", "changed.to").
	Doc map[string]any
}

// ContactOf reads a change delivery; false for what is no person to upsert (an event, a
// deleted profile).
func ContactOf(payload json.RawMessage) (Contact, bool) {
	var doc map[string]any
	if json.Unmarshal(payload, &doc) != nil {
		return Contact{}, false
	}
	typ, _ := doc["type"].(string)
	switch typ {
	case kenner.ChangeProfileUpdated, kenner.ChangeSegmentEntered, kenner.ChangeSegmentExited, kenner.ChangeLeadStageChanged:
	default:
		return Contact{}, false
	}
	var v struct {
		Profile profileView `json:"profile"`
	}
	if json.Unmarshal(payload, &v) != nil || v.Profile.ID == "" {
		return Contact{}, false
	}
	return Contact{Type: typ, ProfileID: v.Profile.ID, Identities: v.Profile.Identities, Traits: v.Profile.Traits, Doc: doc}, true
}

// IDValue is the person's value of an identifier kind: profile_id is the profile's id; email
// and phone fall back on the trait of that name when no identity has the kind.
func (c Contact) IDValue(kind string) string {
	if kind == "profile_id" {
		return c.ProfileID
	}
	for _, id := range c.Identities {
		if id.Kind == kind {
			return id.Value
		}
	}
	if kind == kenner.KindEmail || kind == kenner.KindPhone {
		if s, ok := c.Traits[kind].(string); ok {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// Fields maps the delivery through a field mapping: each CRM field gets the value at its
// dotted input path, or the literal after '='; fields whose input is missing are left out.
func (c Contact) Fields(mapping map[string]string) map[string]any {
	out := map[string]any{}
	for field, from := range mapping {
		if lit, ok := strings.CutPrefix(from, "="); ok {
			out[field] = lit
			continue
		}
		if v, found := lookup(c.Doc, from); found && v != nil {
			out[field] = v
		}
	}
	return out
}

// Stage is a lead stage change's new stage, through a table of the CRM's names for stages
// (a stage not in the table keeps its name); "" when the delivery is no stage change.
func (c Contact) Stage(names map[string]string) string {
	if c.Type != kenner.ChangeLeadStageChanged {
		return ""
	}
	ch, _ := c.Doc["changed"].(map[string]any)
	to, _ := ch["to"].(string)
	if n, ok := names[to]; ok {
		return n
	}
	return to
}

// Record is the CRM record of the delivery: its field mapping, and for a lead stage change
// the new stage (through stages) in stageField and the score in scoreField, each when named.
func (c Contact) Record(mapping map[string]string, stageField string, stages map[string]string, scoreField string) map[string]any {
	rec := c.Fields(mapping)
	if stage := c.Stage(stages); stage != "" && stageField != "" {
		rec[stageField] = stage
	}
	if scoreField != "" && c.Type == kenner.ChangeLeadStageChanged {
		if ch, _ := c.Doc["changed"].(map[string]any); ch["score"] != nil {
			rec[scoreField] = ch["score"]
		}
	}
	return rec
}
