package match

import (
	"fmt"
	"slices"
	"strings"
)

// BlockSpec is a blocking rule as configuration: records with the same value of every field
// (its first Prefix characters, when Prefix > 0), or, with Phonetic, whose fields sound alike.
type BlockSpec struct {
	Fields   []string `json:"fields"`
	Prefix   int      `json:"prefix,omitempty"`
	Phonetic bool     `json:"phonetic,omitempty"`
}

// Rule makes the rule the spec describes.
func (b BlockSpec) Rule() (Rule, error) {
	if len(b.Fields) == 0 {
		return Rule{}, fmt.Errorf("a blocking rule needs at least one field")
	}
	if b.Prefix < 0 {
		return Rule{}, fmt.Errorf("blocking rule on %s: prefix must be positive", strings.Join(b.Fields, "+"))
	}
	if b.Phonetic {
		if b.Prefix > 0 {
			return Rule{}, fmt.Errorf("blocking rule on %s: a phonetic rule has no prefix", strings.Join(b.Fields, "+"))
		}
		return Phonetic(b.Fields...), nil
	}
	if len(b.Fields) == 1 {
		return FieldRule(b.Fields[0], b.Prefix), nil
	}
	rules := make([]Rule, len(b.Fields))
	for i, f := range b.Fields {
		rules[i] = FieldRule(f, b.Prefix)
	}
	return Combined(rules...), nil
}

// Kinds lists the comparison kinds.
var Kinds = []string{Exact, Name, Text, Code}

// Check reports a field that cannot be compared.
func (f Field) Check() error {
	if f.Name == "" {
		return fmt.Errorf("a compared field needs a name")
	}
	if !slices.Contains(Kinds, f.Kind) {
		return fmt.Errorf("field %s: kind %q is not one of %s", f.Name, f.Kind, strings.Join(Kinds, ", "))
	}
	return nil
}

// LevelNames names a kind's agreement levels, closest first.
func LevelNames(kind string) []string {
	switch kind {
	case Name:
		return []string{"exact", "close", "similar or sounds alike", "different"}
	case Text:
		return []string{"exact", "close", "similar", "different"}
	case Code:
		return []string{"exact", "one edit apart", "different"}
	}
	return []string{"exact", "different"}
}

// LevelName names level l of a kind ("missing" for a pair where either value is empty).
func LevelName(kind string, l int) string {
	if l == null {
		return "missing"
	}
	return LevelNames(kind)[l]
}

// Explain grades a pair field by field: each field's level and its part of the weight.
func (m *Model) Explain(a, b Record) (float64, []Explained) {
	w, parts := m.Weight(a, b)
	out := make([]Explained, len(m.Fields))
	for i, f := range m.Fields {
		out[i] = Explained{Field: f.Name, Level: LevelName(f.Kind, f.level(a.Fields[f.Name], b.Fields[f.Name])), Contribution: parts[i]}
	}
	return w, out
}

// Explained is one field of an explained pair.
type Explained struct {
	Field        string
	Level        string
	Contribution float64
}
