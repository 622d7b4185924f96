package tag

import (
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strconv"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/privacy"
	"github.com/kenner-cdp/kenner/segment"
)

// placeholder is {{ traits.name }} or {{ computed.name }} in a slot's content, with an
// optional fallback for people who have no value: {{ traits.firstName | there }}.
var placeholder = regexp.MustCompile(`\{\{\s*(traits|computed)\.([A-Za-z0-9_.$-]+)\s*(?:\|\s*([^}]*?))?\s*\}\}`)

// Limits of a slot, so that a decision stays small and fast.
const (
	maxVariants    = 50
	maxContent     = 64 << 10
	maxHoldout     = 0.5
	maxSlotNameLen = 100
)

// Validate checks a slot's shape (not its conditions, which need the workspace's
// definitions: Decider.Check).
func Validate(s *kenner.Slot) error {
	if s.Name = strings.TrimSpace(s.Name); s.Name == "" {
		return kenner.Errorf(kenner.EInvalid, "a slot needs a name (the value of data-kenner-slot on the page)")
	}
	if len(s.Name) > maxSlotNameLen || strings.ContainsAny(s.Name, "\"'<>") {
		return kenner.Errorf(kenner.EInvalid, "slot name %q: at most %d characters, without quotes or angle brackets", s.Name, maxSlotNameLen)
	}
	if s.Holdout < 0 || s.Holdout > maxHoldout {
		return kenner.Errorf(kenner.EInvalid, "holdout must be between 0 and %g (a share of people, like 0.1)", maxHoldout)
	}
	if len(s.Variants) > maxVariants {
		return kenner.Errorf(kenner.EInvalid, "a slot has at most %d variants", maxVariants)
	}
	if err := checkContent("default", s.Default); err != nil {
		return err
	}
	seen := map[string]bool{DefaultVariant: true}
	for i, v := range s.Variants {
		name := strings.TrimSpace(v.Name)
		if name == "" {
			return kenner.Errorf(kenner.EInvalid, "variants[%d] needs a name", i)
		}
		if seen[name] {
			return kenner.Errorf(kenner.EInvalid, "variant name %q is used twice (or is the reserved name default)", name)
		}
		seen[name] = true
		s.Variants[i].Name = name
		if strings.TrimSpace(v.Condition) == "" {
			return kenner.Errorf(kenner.EInvalid, "variant %q needs a condition, like segment(\"VIP\") or traits.plan == \"pro\"", name)
		}
		if err := checkContent("variant "+strconv.Quote(name), v.Content); err != nil {
			return err
		}
	}
	return nil
}

func checkContent(what string, raw json.RawMessage) error {
	if len(raw) > maxContent {
		return kenner.Errorf(kenner.EInvalid, "%s: content is over %d KB", what, maxContent>>10)
	}
	if len(raw) > 0 && !json.Valid(raw) {
		return kenner.Errorf(kenner.EInvalid, "%s: content is not JSON", what)
	}
	return nil
}

// filler puts a person's values into content placeholders.
type filler struct {
	in       segment.Input
	personal map[string]bool
	pii      *privacy.PII
}

// render fills the placeholders in the strings of content. Personal data (PII traits, and
// computed traits made from them) fills them only when the slot is personal; otherwise the
// fallback does. Values inside an "html" member are HTML-escaped: a trait is whatever a
// visitor typed, and must not become markup on the page.
func (f filler) render(content json.RawMessage, personal bool) json.RawMessage {
	if len(content) == 0 || !strings.Contains(string(content), "{{") {
		return content
	}
	var v any
	if json.Unmarshal(content, &v) != nil {
		return content
	}
	v = f.walk(v, false, personal)
	out, err := json.Marshal(v)
	if err != nil {
		return content
	}
	return out
}

func (f filler) walk(v any, escape, personal bool) any {
	switch x := v.(type) {
	case string:
		return f.fill(x, escape, personal)
	case map[string]any:
		for k, e := range x {
			x[k] = f.walk(e, escape || k == "html", personal)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = f.walk(e, escape, personal)
		}
		return x
	}
	return v
}

func (f filler) fill(s string, escape, personal bool) string {
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		g := placeholder.FindStringSubmatch(m)
		fallback := strings.Trim(strings.TrimSpace(g[3]), `"'`)
		var val any
		var ok bool
		if g[1] == "traits" {
			val, ok = f.in.Traits[g[2]]
			ok = ok && (personal || !f.pii.IsPII(g[2]))
		} else {
			val, ok = f.in.Computed[g[2]]
			ok = ok && (personal || !f.personal[g[2]])
		}
		text := fallback
		if ok && val != nil {
			switch t := val.(type) {
			case string:
				text = t
			case float64:
				text = strconv.FormatFloat(t, 'f', -1, 64)
			default:
				text = fmt.Sprint(t)
			}
		}
		if escape {
			return html.EscapeString(text)
		}
		return text
	})
}
