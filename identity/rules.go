package identity

import (
	"slices"
	"strings"
)

// Rules are a workspace's identity resolution settings.
type Rules struct {
	// Priority lists identifier kinds from most to least trusted. When an event would break a
	// limit, its lowest-priority identifiers are dropped first. Kinds not listed rank after all
	// listed ones, in the order the event carries them.
	Priority []string
	// Limits caps how many identifiers of a kind one profile may hold; a kind without a limit
	// is unlimited. A limit of 1 on user_id is merge protection: two profiles with different
	// user_ids are never merged.
	Limits map[string]int
	// Blocked lists values, per kind ("*" for every kind), that identify no one (placeholders
	// such as "null", test addresses). Compared after normalization, case-insensitively.
	Blocked map[string][]string
}

// DefaultRules are Segment's recommended settings: user_id first, one per profile; emails and
// phones before the device-level anonymous ids; common placeholder values blocked.
func DefaultRules() Rules {
	return Rules{
		Priority: []string{UserID, Email, Phone, AnonymousID},
		Limits:   map[string]int{UserID: 1, Email: 5, Phone: 5, AnonymousID: 100},
		Blocked: map[string][]string{
			"*":   {"null", "undefined", "nil", "none", "0", "-1", "n/a", "na", "unknown", "anonymous", "[object object]", "nan", "true", "false"},
			Email: {"test@test.com", "test@example.com", "example@example.com", "email@example.com", "user@example.com", "noreply@example.com", "a@a.com", "abc@abc.com"},
		},
	}
}

// rank orders kinds by priority; unlisted kinds rank after every listed one.
func (r Rules) rank(kind string) int {
	if i := slices.Index(r.Priority, kind); i >= 0 {
		return i
	}
	return len(r.Priority)
}

// limit returns the cap for kind, or 0 for none.
func (r Rules) limit(kind string) int { return r.Limits[kind] }

// blocked reports whether a normalized value of kind identifies no one.
func (r Rules) blocked(kind, value string) bool {
	for _, list := range [][]string{r.Blocked["*"], r.Blocked[kind]} {
		for _, b := range list {
			if strings.EqualFold(b, value) {
				return true
			}
		}
	}
	return false
}
