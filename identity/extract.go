package identity

import (
	"slices"
	"strconv"

	"github.com/kenner-cdp/kenner/jsonobj"
)

// Extractor reads the identifiers of an enriched Segment message.
type Extractor struct {
	// External lists the workspace's external id kinds (crm_id, shopify_id, ...). They are read
	// from traits of that name and from context.externalIds entries of that type.
	External []string
}

// Extracted is what an event says about who it is from.
type Extracted struct {
	IDs []Identifier
	// PreviousID is an alias call's previousId: an earlier user_id or anonymous_id of the same
	// person. Which of the two it is depends on the graph, so the processor resolves it.
	PreviousID string
}

// Extract reads identifiers from msg: userId, anonymousId, email and phone and external ids
// from the traits (the identify call's own, or context.traits for other calls), and
// context.externalIds. Values are raw; Prepare normalizes them.
func (x Extractor) Extract(msg []byte) (Extracted, error) {
	m, err := jsonobj.Parse(msg)
	if err != nil {
		return Extracted{}, err
	}
	var out Extracted
	add := func(kind string, raw []byte) {
		if v, ok := scalar(raw); ok && v != "" {
			out.IDs = append(out.IDs, Identifier{Kind: kind, Value: v})
		}
	}
	add(UserID, m.Get("userId"))
	add(AnonymousID, m.Get("anonymousId"))

	ctx, _ := jsonobj.Parse(m.Get("context"))
	traitsRaw := ctx.Get("traits")
	if typ, _ := m.GetString("type"); typ == "identify" {
		traitsRaw = m.Get("traits")
	}
	if traits, err := jsonobj.Parse(traitsRaw); err == nil {
		add(Email, traits.Get("email"))
		add(Phone, traits.Get("phone"))
		for _, kind := range x.External {
			add(kind, traits.Get(kind))
		}
	}
	if list, err := jsonobj.Elements(ctx.Get("externalIds")); err == nil {
		for _, raw := range list {
			e, err := jsonobj.Parse(raw)
			if err != nil {
				continue
			}
			if typ, _ := e.GetString("type"); slices.Contains(x.External, typ) || typ == Email || typ == Phone {
				add(typ, e.Get("id"))
			}
		}
	}
	if typ, _ := m.GetString("type"); typ == "alias" {
		out.PreviousID, _ = scalar(m.Get("previousId"))
	}
	return out, nil
}

// scalar reads a JSON string or number as a string.
func scalar(raw []byte) (string, bool) {
	if s, ok := jsonobj.String(raw); ok {
		return s, true
	}
	if len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		if _, err := strconv.ParseFloat(string(raw), 64); err == nil {
			return string(raw), true
		}
	}
	return "", false
}
