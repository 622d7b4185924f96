package activation

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
)

// profileView is how a payload shows a profile: what a receiver needs to act on the person.
type profileView struct {
	ID         string              `json:"id"`
	Traits     map[string]any      `json:"traits"`
	Identities []kenner.Identifier `json:"identities"`
	// Predictions are the person's scores when the delivery was queued (a CRM hand-off
	// carries the lead score and the lifetime value).
	Predictions map[string]any `json:"predictions,omitempty"`
}

func viewOf(p *kenner.Profile) profileView {
	v := profileView{ID: p.ID, Traits: map[string]any{}, Identities: []kenner.Identifier{}}
	for name, t := range p.Traits {
		var val any
		if json.Unmarshal(t.Value, &val) == nil {
			v.Traits[name] = val
		}
	}
	for _, id := range p.Identities {
		v.Identities = append(v.Identities, kenner.Identifier{Kind: id.Kind, Value: id.Value})
	}
	return v
}

// changePayload is the body of a segment.entered/exited or profile.updated delivery.
func changePayload(c kenner.Change, seg *kenner.Segment, p *kenner.Profile, scores map[string]any) (json.RawMessage, error) {
	body := map[string]any{"type": c.Type, "at": c.At.UTC().Format(time.RFC3339Nano)}
	if p != nil {
		v := viewOf(p)
		if len(scores) > 0 {
			v.Predictions = scores
		}
		body["profile"] = v
	} else {
		body["profile"] = map[string]any{"id": c.ProfileID}
	}
	if seg != nil {
		body["segment"] = map[string]string{"id": seg.ID, "name": seg.Name}
	} else if c.SegmentID != "" {
		body["segment"] = map[string]string{"id": c.SegmentID}
	}
	if c.Type == kenner.ChangeProfileDeleted {
		var d struct {
			Identities json.RawMessage `json:"identities"`
		}
		json.Unmarshal(c.Data, &d)
		body["profile"] = map[string]any{"id": c.ProfileID, "identities": d.Identities}
	} else if len(c.Data) > 0 {
		body["changed"] = c.Data
	}
	return json.Marshal(body)
}

// eventPayload is the body of an event delivery: the whole Segment message.
func eventPayload(messageID string, msg json.RawMessage) (json.RawMessage, error) {
	return json.Marshal(map[string]any{"type": kenner.DeliveryEvent, "messageId": messageID, "message": msg})
}

// changeKey is the idempotency key of a change: its place in the changes stream.
func changeKey(c kenner.Change) string { return fmt.Sprintf("chg_%s_%d", c.WorkspaceID, c.Seq) }

// Map applies a destination's field mapping to a payload: each output path (dotted) gets the
// value at the input path, or the literal after '=' ("=US" is the string US). Output paths
// whose input is missing are left out.
func Map(mapping map[string]string, payload json.RawMessage) (json.RawMessage, error) {
	if len(mapping) == 0 {
		return payload, nil
	}
	var in map[string]any
	if err := json.Unmarshal(payload, &in); err != nil {
		return nil, err
	}
	out := map[string]any{}
	for to, from := range mapping {
		var v any
		if lit, ok := strings.CutPrefix(from, "="); ok {
			v = lit
		} else {
			var found bool
			if v, found = lookup(in, from); !found {
				continue
			}
		}
		set(out, strings.Split(to, "."), v)
	}
	return json.Marshal(out)
}

// ValidateMapping checks a mapping's paths.
func ValidateMapping(mapping map[string]string) error {
	for to, from := range mapping {
		if !validPath(to) {
			return Invalid("mapping: output path %q is not a dotted path", to)
		}
		if !strings.HasPrefix(from, "=") && !validPath(from) {
			return Invalid("mapping %q: input path %q is not a dotted path (start literals with =)", to, from)
		}
	}
	return nil
}

func validPath(p string) bool {
	for _, part := range strings.Split(p, ".") {
		if part == "" {
			return false
		}
	}
	return true
}

func lookup(doc map[string]any, path string) (any, bool) {
	var cur any = doc
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func set(doc map[string]any, path []string, v any) {
	for _, part := range path[:len(path)-1] {
		next, ok := doc[part].(map[string]any)
		if !ok {
			next = map[string]any{}
			doc[part] = next
		}
		doc = next
	}
	doc[path[len(path)-1]] = v
}

// JourneyPayload is the body of a journey's destination step (type "journey.step"): the
// person as a change shows them, and where they are in which journey.
func JourneyPayload(journey map[string]any, p *kenner.Profile, scores map[string]any, at time.Time) (json.RawMessage, error) {
	v := viewOf(p)
	if len(scores) > 0 {
		v.Predictions = scores
	}
	return json.Marshal(map[string]any{"type": "journey.step", "at": at.UTC().Format(time.RFC3339Nano), "journey": journey, "profile": v})
}
