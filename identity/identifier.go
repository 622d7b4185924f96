// Package identity decides which profile an event belongs to: it extracts and normalizes the
// event's identifiers, and resolves them against the identity graph under rules like Segment's
// identity resolution settings (priority of kinds, a limit per kind per profile, blocked
// values). Resolve is a pure function of the rules, the event's identifiers and the part of the
// graph they touch, so the same decision is made on every store and on every replay; the
// processor loads that part of the graph and applies the decision in one transaction.
package identity

import (
	"fmt"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/standardize"
)

// Short names for the built-in kinds of kenner.Identifier.
const (
	UserID      = kenner.KindUserID
	AnonymousID = kenner.KindAnonymousID
	Email       = kenner.KindEmail
	Phone       = kenner.KindPhone
)

// Identifier is kenner.Identifier; the alias keeps this package's code short.
type Identifier = kenner.Identifier

// Normalizer brings identifier values to one form before matching, so that " Ada@Example.COM"
// and "ada@example.com", or "030 1234567" and "+49301234567", are the same person.
type Normalizer struct {
	// DefaultRegion is the country (ISO 3166 alpha-2) of phone numbers without a country code.
	DefaultRegion string
}

// Normalize returns the normalized value of an identifier, or an error saying why the value
// cannot identify anyone (such identifiers are dropped, and the drop recorded).
func (n Normalizer) Normalize(kind, value string) (string, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return "", fmt.Errorf("empty")
	}
	switch kind {
	case Email:
		return standardize.Email(value)
	case Phone:
		return standardize.Phone(value, n.DefaultRegion)
	default:
		return value, nil
	}
}
