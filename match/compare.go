package match

import (
	"strings"

	"github.com/antzucaro/matchr"
	"github.com/hbollon/go-edlib"
)

// Comparison kinds: how a field's two values are graded.
const (
	// Exact: equal, or not.
	Exact = "exact"
	// Name: equal; Jaro-Winkler at least 0.94; at least 0.85 or sounding alike (Double
	// Metaphone); else different. For given names and surnames.
	Name = "name"
	// Text: equal; Jaro-Winkler at least 0.92; at least 0.80; else different. For streets,
	// suburbs, towns.
	Text = "text"
	// Code: equal; one edit apart (a typo in a date of birth, a postcode, an id); else
	// different.
	Code = "code"
)

// Field is one field compared between records, by name.
type Field struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// TF adjusts an exact agreement by how common the value is: agreeing on a rare surname
	// weighs more than agreeing on "smith".
	TF bool `json:"tf,omitempty"`
}

// levels is how many agreement levels a kind has (level 0 is the closest; the last is
// "different").
func levels(kind string) int {
	switch kind {
	case Name, Text:
		return 4
	case Code:
		return 3
	}
	return 2
}

// null is the level of a pair where either value is missing: it says nothing either way.
const null = -1

// level grades the values of one field; null when either is empty.
func (f Field) level(a, b string) int {
	if a == "" || b == "" {
		return null
	}
	if a == b {
		return 0
	}
	switch f.Kind {
	case Name:
		jw := edlib.JaroWinklerSimilarity(a, b)
		switch {
		case jw >= 0.94:
			return 1
		case jw >= 0.85 || soundsAlike(a, b):
			return 2
		}
		return 3
	case Text:
		jw := edlib.JaroWinklerSimilarity(a, b)
		switch {
		case jw >= 0.92:
			return 1
		case jw >= 0.80:
			return 2
		}
		return 3
	case Code:
		if edlib.LevenshteinDistance(a, b) <= 1 || transposed(a, b) {
			return 1
		}
		return 2
	}
	return 1
}

func soundsAlike(a, b string) bool {
	a1, a2 := matchr.DoubleMetaphone(a)
	b1, b2 := matchr.DoubleMetaphone(b)
	return a1 != "" && (a1 == b1 || a1 == b2 || (a2 != "" && (a2 == b1 || a2 == b2)))
}

// transposed reports two adjacent characters swapped (19800312 and 19803012 differ by more
// than one edit, 1234 and 1243 by a transposition).
func transposed(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	diff := -1
	for i := 0; i < len(a); i++ {
		if a[i] != b[i] {
			if diff >= 0 {
				return i == diff+1 && a[diff] == b[i] && a[i] == b[diff] && a[i+1:] == b[i+1:]
			}
			diff = i
		}
	}
	return false
}

// Normalize lowercases and trims a value and collapses inner spaces: what comparisons and
// term frequencies see.
func Normalize(v string) string {
	return strings.Join(strings.Fields(strings.ToLower(v)), " ")
}
