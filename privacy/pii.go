package privacy

import (
	"encoding/json"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/jsonobj"
)

// DefaultPII are the trait names treated as personal data when none are configured.
var DefaultPII = []string{"email", "phone", "name", "address", "birthday", "ip"}

// PII knows which fields hold personal data, for the two things done with them: masking them
// for roles without PII access, and stripping them from events kept without consent.
//
// A field is PII when its name, lowercased and without separators, equals a configured name,
// or contains it for names of four letters or more: "first_name", "lastName" and
// "phone_number" are PII under the defaults; "zip" is not PII because of "ip". Matching errs
// on the side of hiding: "username" is masked too.
type PII struct {
	names []string
}

// NewPII returns the policy for names (DefaultPII when empty).
func NewPII(names []string) *PII {
	if len(names) == 0 {
		names = DefaultPII
	}
	p := &PII{}
	for _, n := range names {
		if n = fold(n); n != "" {
			p.names = append(p.names, n)
		}
	}
	return p
}

// Names are the configured names, folded.
func (p *PII) Names() []string { return p.names }

func fold(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		if r != '_' && r != '-' && r != ' ' && r != '.' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// IsPII reports whether a field named key holds personal data.
func (p *PII) IsPII(key string) bool {
	k := fold(key)
	for _, n := range p.names {
		if k == n || (len(n) >= 4 && strings.Contains(k, n)) {
			return true
		}
	}
	return false
}

// maskValue hides a value but keeps enough of its shape to tell values apart at a glance:
// the first character, and for an email the top-level domain.
func maskValue(kind, v string) string {
	switch {
	case v == "":
		return ""
	case kind == kenner.KindEmail:
		local, domain, _ := strings.Cut(v, "@")
		tld := ""
		if i := strings.LastIndexByte(domain, '.'); i >= 0 {
			tld = domain[i:]
		}
		return firstRune(local) + "***@***" + tld
	case kind == kenner.KindPhone && len(v) > 4:
		return v[:1] + strings.Repeat("*", len(v)-3) + v[len(v)-2:]
	default:
		return firstRune(v) + "***"
	}
}

func firstRune(s string) string {
	for _, r := range s {
		return string(r)
	}
	return ""
}

// MaskIdentifier hides an identifier's value; profile ids are not personal data and stay.
func MaskIdentifier(id kenner.Identifier) kenner.Identifier {
	if id.Kind == kenner.KindProfileID {
		return id
	}
	return kenner.Identifier{Kind: id.Kind, Value: maskValue(id.Kind, id.Value)}
}

// MaskTraitValue hides the value of a PII trait named name: strings keep their shape (see
// maskValue), anything else becomes "***".
func MaskTraitValue(name string, raw json.RawMessage) json.RawMessage {
	s, ok := jsonobj.String(raw)
	if !ok {
		return json.RawMessage(`"***"`)
	}
	kind := ""
	switch fold(name) {
	case kenner.KindEmail, kenner.KindPhone:
		kind = fold(name)
	}
	return jsonobj.AppendString(nil, maskValue(kind, s))
}

// MaskTraits hides the values of the PII traits of a name → value map, in place.
func (p *PII) MaskTraits(traits map[string]json.RawMessage) {
	for k, v := range traits {
		if p.IsPII(k) {
			traits[k] = MaskTraitValue(k, v)
		} else if jsonobj.IsObject(v) || isArray(v) {
			traits[k] = p.walk(v, false, maskField)
		}
	}
}

// identityFields are the Segment message fields that name a person.
var identityFields = []string{"userId", "anonymousId", "previousId"}

// MaskEvent hides the personal data of a stored Segment message: its person ids, PII traits
// at any depth of traits and context.traits, context.ip, and properties named exactly like a
// PII name (properties are event data: "product_name" is not a person's name). Bodies that are
// not objects (shredded events) come back unchanged.
func (p *PII) MaskEvent(body []byte) []byte { return p.event(body, maskField) }

// StripEvent removes the same fields MaskEvent hides, except the pseudonymous ids: what is
// kept of an event whose person did not consent to a purpose whose policy is "strip".
func (p *PII) StripEvent(body []byte) []byte { return p.event(body, nil) }

func (p *PII) event(body []byte, replace func(string, []byte) []byte) []byte {
	obj, err := jsonobj.Parse(body)
	if err != nil {
		return body
	}
	for i, f := range obj {
		switch f.Key {
		case "userId", "anonymousId", "previousId":
			if s, ok := jsonobj.String(f.Value); ok && replace != nil {
				obj[i].Value = jsonobj.AppendString(nil, maskValue("", s))
			}
		case "traits":
			obj[i].Value = p.walk(f.Value, false, replace)
		case "properties":
			obj[i].Value = p.walk(f.Value, true, replace)
		case "context":
			ctx, err := jsonobj.Parse(f.Value)
			if err != nil {
				continue
			}
			out := ctx[:0]
			for _, c := range ctx {
				switch c.Key {
				case "traits":
					c.Value = p.walk(c.Value, false, replace)
				case "original":
					// What standardization changed, as sent: the same fields again.
					c.Value = p.event(c.Value, replace)
				case "ip", "location":
					// Where a person is, read from their IP, is as personal as the IP.
					if replace == nil {
						continue
					}
					c.Value = replace(c.Key, c.Value)
				case "externalIds":
					// Pseudonymous like user ids: kept by a strip, hidden by a mask.
					if replace != nil {
						c.Value = maskExternalIDs(c.Value)
					}
				case "page":
					c.Value = hideQueries(c.Value, replace != nil)
				}
				out = append(out, c)
			}
			obj[i].Value = out.Encode()
		}
	}
	return obj.Encode()
}

func isArray(raw []byte) bool { return len(raw) > 0 && raw[0] == '[' }

func maskField(key string, raw []byte) []byte { return MaskTraitValue(key, raw) }

// walk rewrites the PII fields of a JSON value at any depth: with replace, or removed when
// replace is nil. exact matches names only when equal. Values it cannot parse come back
// unchanged.
func (p *PII) walk(raw []byte, exact bool, replace func(key string, raw []byte) []byte) []byte {
	switch {
	case jsonobj.IsObject(raw):
		obj, err := jsonobj.Parse(raw)
		if err != nil {
			return raw
		}
		out := obj[:0]
		for _, f := range obj {
			pii := p.IsPII(f.Key)
			if exact {
				pii = p.isExactPII(f.Key)
			}
			switch {
			case pii && replace == nil:
				continue
			case pii:
				f.Value = replace(f.Key, f.Value)
			case jsonobj.IsObject(f.Value) || isArray(f.Value):
				f.Value = p.walk(f.Value, exact, replace)
			}
			out = append(out, f)
		}
		return out.Encode()
	case isArray(raw):
		return mapElements(raw, func(e []byte) []byte {
			if jsonobj.IsObject(e) || isArray(e) {
				return p.walk(e, exact, replace)
			}
			return e
		})
	}
	return raw
}

// mapElements rewrites each element of a JSON array with fn; an array it cannot parse comes
// back unchanged.
func mapElements(raw []byte, fn func(e []byte) []byte) []byte {
	elems, err := jsonobj.Elements(raw)
	if err != nil {
		return raw
	}
	buf := []byte{'['}
	for i, e := range elems {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, fn(e)...)
	}
	return append(buf, ']')
}

func (p *PII) isExactPII(key string) bool {
	k := fold(key)
	for _, n := range p.names {
		if k == n {
			return true
		}
	}
	return false
}

// Nested reports whether a JSON object or array holds a PII field at any depth
// ({"contacts": [{"email": ...}]}): such a value is personal data as a whole.
func (p *PII) Nested(raw []byte) bool {
	switch {
	case jsonobj.IsObject(raw):
		obj, err := jsonobj.Parse(raw)
		if err != nil {
			return false
		}
		for _, f := range obj {
			if p.IsPII(f.Key) || p.Nested(f.Value) {
				return true
			}
		}
	case isArray(raw):
		elems, err := jsonobj.Elements(raw)
		if err != nil {
			return false
		}
		for _, e := range elems {
			if p.Nested(e) {
				return true
			}
		}
	}
	return false
}

// maskExternalIDs hides the id of each entry of context.externalIds.
func maskExternalIDs(raw []byte) []byte {
	return mapElements(raw, func(e []byte) []byte {
		obj, err := jsonobj.Parse(e)
		if err != nil {
			return e
		}
		for j, f := range obj {
			if s, ok := jsonobj.String(f.Value); ok && f.Key == "id" {
				obj[j].Value = jsonobj.AppendString(nil, maskValue("", s))
			}
		}
		return obj.Encode()
	})
}

// hideQueries takes the query strings out of context.page's url, referrer and search: they
// carry what sites put there (a password-reset token, an email in a sign-up link). A mask
// leaves "?…" so the reader sees there was one; a strip removes it.
func hideQueries(raw []byte, mask bool) []byte {
	obj, err := jsonobj.Parse(raw)
	if err != nil {
		return raw
	}
	for i, f := range obj {
		s, ok := jsonobj.String(f.Value)
		if !ok {
			continue
		}
		switch f.Key {
		case "url", "referrer":
			if base, q, found := strings.Cut(s, "?"); found && q != "" {
				if mask {
					base += "?…"
				}
				obj[i].Value = jsonobj.AppendString(nil, base)
			}
		case "search":
			if s != "" {
				v := ""
				if mask {
					v = "?…"
				}
				obj[i].Value = jsonobj.AppendString(nil, v)
			}
		}
	}
	return obj.Encode()
}

// accountNames are the PII names that still name a person in an account's (group's) traits:
// a company's name, address or birthday is not personal data, but an email or phone may be a
// person's (a founder's, a contact's).
var accountNames = map[string]bool{"email": true, "phone": true}

// MaskAccountTraits hides, in a group's traits, the fields that are personal data there: those
// whose names are PII names that name a person even on an account (email, phone).
func (p *PII) MaskAccountTraits(traits map[string]json.RawMessage) {
	acct := &PII{}
	for _, n := range p.names {
		if accountNames[n] {
			acct.names = append(acct.names, n)
		}
	}
	acct.MaskTraits(traits)
}
