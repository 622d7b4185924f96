// Package identity decides which profile an event belongs to: it extracts and normalizes the
// event's identifiers, and resolves them against the identity graph under rules like Segment's
// identity resolution settings (priority of kinds, a limit per kind per profile, blocked
// values). Resolve is a pure function of the rules, the event's identifiers and the part of the
// graph they touch, so the same decision is made on every store and on every replay; the
// processor loads that part of the graph and applies the decision in one transaction.
package identity

import (
	"fmt"
	"net/mail"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/nyaruka/phonenumbers"
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
		addr, err := mail.ParseAddress(value)
		if err != nil || addr.Address != value && !strings.EqualFold(addr.Address, value) {
			return "", fmt.Errorf("not an email address")
		}
		at := strings.LastIndexByte(addr.Address, '@')
		if at < 1 || !strings.Contains(addr.Address[at+1:], ".") {
			return "", fmt.Errorf("not an email address")
		}
		return strings.ToLower(addr.Address), nil
	case Phone:
		region := strings.ToUpper(n.DefaultRegion)
		if region == "" && !strings.HasPrefix(value, "+") && !strings.HasPrefix(value, "00") {
			return "", fmt.Errorf("phone number without a country code, and no default region is configured")
		}
		if strings.HasPrefix(value, "00") {
			value = "+" + value[2:]
		}
		num, err := phonenumbers.Parse(value, region)
		if err != nil || !phonenumbers.IsPossibleNumber(num) {
			return "", fmt.Errorf("not a phone number")
		}
		return phonenumbers.Format(num, phonenumbers.E164), nil
	default:
		return value, nil
	}
}
