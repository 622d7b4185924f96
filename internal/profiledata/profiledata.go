// Package profiledata is the JSON document both stores keep in a profile's data column:
// what a profile holds besides the columns the stores query by.
package profiledata

import (
	"fmt"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/jsonobj"
)

// Encode returns p's data document.
func Encode(p *kenner.Profile) ([]byte, error) {
	b, err := encode(p)
	if err != nil {
		return nil, fmt.Errorf("encode profile %s: %w", p.ID, err)
	}
	return b, nil
}

// Decode reads a data document into p.
func Decode(b []byte, p *kenner.Profile) error { return DecodeFields(b, p, nil) }

// DecodeFields is Decode restricted to what f names (nil: everything): the memberships, the
// traits and aggregates f lists, and the consent if asked. The rest of the document is
// stepped over, not decoded, which is what makes a pass over every profile cheap.
func DecodeFields(b []byte, p *kenner.Profile, f *kenner.ProfileFields) error {
	p.Traits, p.Groups, p.Aggregates, p.Segments, p.Consent, p.ConsentHistory = nil, nil, nil, nil, nil, nil
	r := jsonobj.NewReader(b)
	err := r.Object(func(key []byte) (err error) {
		switch string(key) {
		case "traits":
			if f == nil || f.AllTraits || len(f.Traits) > 0 {
				p.Traits, err = decodeMap(r, func(k []byte) bool { return f == nil || f.AllTraits || f.Traits[string(k)] }, decodeTrait)
			} else {
				err = r.Skip()
			}
		case "aggregates":
			if f == nil || len(f.Aggregates) > 0 {
				p.Aggregates, err = decodeMap(r, func(k []byte) bool { return f == nil || f.Aggregates[string(k)] }, decodeAggregate)
			} else {
				err = r.Skip()
			}
		case "segments":
			p.Segments, err = decodeTimes(r)
		case "consent":
			if f == nil || f.Consent {
				err = unmarshal(r, &p.Consent)
			} else {
				err = r.Skip()
			}
		case "groups":
			if f == nil || f.Groups {
				err = unmarshal(r, &p.Groups)
			} else {
				err = r.Skip()
			}
		case "consent_history":
			if f == nil {
				err = unmarshal(r, &p.ConsentHistory)
			} else {
				err = r.Skip()
			}
		default:
			err = r.Skip()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	})
	if err == nil {
		err = r.End()
	}
	if err != nil {
		return fmt.Errorf("decode profile %s: %w", p.ID, err)
	}
	return nil
}
