package privacy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/profile"
)

// What happens to an event of a person who did not consent to a purpose.
const (
	ConsentDrop  = "drop"  // the event is not used at all
	ConsentStrip = "strip" // the event is kept with its personal data removed (PII.StripEvent)
)

// Verdict is what the consent policy makes of one event.
type Verdict int

// The verdicts, from mildest to strictest.
const (
	Keep Verdict = iota
	Strip
	Drop
)

func (v Verdict) String() string { return [...]string{"keep", "strip", "drop"}[v] }

// ConsentPolicy decides, per purpose, what becomes of the events of people who did not consent
// to it, and which people destinations that need purposes receive.
type ConsentPolicy struct {
	// Purposes maps a purpose (lowercase) to ConsentDrop or ConsentStrip.
	Purposes map[string]string
	// DefaultGranted is the answer assumed for a person who never answered for a purpose:
	// true where consent is opt-out, false where it is opt-in (GDPR).
	DefaultGranted bool
}

// NewConsentPolicy checks and normalizes a configured policy.
func NewConsentPolicy(purposes map[string]string, defaultGranted bool) (*ConsentPolicy, error) {
	c := &ConsentPolicy{Purposes: map[string]string{}, DefaultGranted: defaultGranted}
	for p, action := range purposes {
		name := profile.Purpose(p)
		if name == "" {
			return nil, kenner.Errorf(kenner.EInvalid, "consent purpose names must not be empty")
		}
		switch a := strings.ToLower(strings.TrimSpace(action)); a {
		case ConsentDrop, ConsentStrip:
			c.Purposes[name] = a
		default:
			return nil, kenner.Errorf(kenner.EInvalid, "consent purpose %q: policy must be drop or strip, not %q", p, action)
		}
	}
	return c, nil
}

// Granted is a person's answer for a purpose: what the event itself states, else the
// profile's current answer, else the default.
func (c *ConsentPolicy) Granted(purpose string, stated map[string]bool, current map[string]kenner.Consent) bool {
	if v, ok := stated[purpose]; ok {
		return v
	}
	if v, ok := current[purpose]; ok {
		return v.Granted
	}
	return c == nil || c.DefaultGranted
}

// Verdict decides the fate of an event with stated consent, of a person whose current answers
// are current. An event that itself states consent is never dropped, only stripped: it is the
// record of the person's answer.
func (c *ConsentPolicy) Verdict(stated map[string]bool, current map[string]kenner.Consent) Verdict {
	if c == nil {
		return Keep
	}
	v := Keep
	for p, action := range c.Purposes {
		if c.Granted(p, stated, current) {
			continue
		}
		if action == ConsentDrop {
			v = Drop
		} else if v == Keep {
			v = Strip
		}
	}
	if v == Drop && len(stated) > 0 {
		v = Strip
	}
	return v
}

// StatedDenial reports whether an event itself refuses consent to a purpose of the policy:
// such an event can be stripped on arrival, before anything stores it.
func (c *ConsentPolicy) StatedDenial(stated map[string]bool) bool {
	if c == nil {
		return false
	}
	for p := range c.Purposes {
		if v, ok := stated[p]; ok && !v {
			return true
		}
	}
	return false
}

// Active reports whether the policy can change anything.
func (c *ConsentPolicy) Active() bool { return c != nil && len(c.Purposes) > 0 }

// Allows reports whether a person consented to every one of purposes.
func (c *ConsentPolicy) Allows(purposes []string, stated map[string]bool, current map[string]kenner.Consent) bool {
	for _, p := range purposes {
		if !c.Granted(profile.Purpose(p), stated, current) {
			return false
		}
	}
	return true
}

// CheckPurposes validates the purposes a destination declares.
func CheckPurposes(purposes []string) ([]string, error) {
	out := make([]string, 0, len(purposes))
	for _, p := range purposes {
		n := profile.Purpose(p)
		if n == "" || len(n) > 100 {
			return nil, kenner.Errorf(kenner.EInvalid, "purposes: %q is not a purpose name", p)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func (c *ConsentPolicy) String() string {
	if c == nil {
		return "none"
	}
	return fmt.Sprintf("%v (default granted: %v)", c.Purposes, c.DefaultGranted)
}
