package match

import (
	"slices"
	"strings"

	"github.com/antzucaro/matchr"
)

// Rule is a blocking rule: records with the same non-empty key are compared.
type Rule struct {
	Name string
	Key  func(Record) string
	// Fields are the record fields the key reads: within the rule's pairs agreement on them
	// is certain, so EM learns their m from the other rules' pairs.
	Fields []string
}

// Field returns a rule keying on one field's value (or its first n characters, n > 0).
func FieldRule(field string, n int) Rule {
	return Rule{Name: field, Fields: []string{field}, Key: func(r Record) string {
		v := r.Fields[field]
		if n > 0 && len(v) > n {
			v = v[:n]
		}
		return v
	}}
}

// Phonetic returns a rule keying on the Double Metaphone codes of the fields, joined.
func Phonetic(fields ...string) Rule {
	return Rule{Name: "metaphone(" + strings.Join(fields, ",") + ")", Fields: fields, Key: func(r Record) string {
		var parts []string
		for _, f := range fields {
			code, _ := matchr.DoubleMetaphone(r.Fields[f])
			if code == "" {
				return ""
			}
			parts = append(parts, code)
		}
		return strings.Join(parts, "|")
	}}
}

// Combined returns a rule keying on several rules' keys together (same surname prefix and
// birth year): empty when any of them is.
func Combined(rules ...Rule) Rule {
	names := make([]string, len(rules))
	var fields []string
	for i, r := range rules {
		names[i] = r.Name
		fields = append(fields, r.Fields...)
	}
	return Rule{Name: strings.Join(names, "+"), Fields: fields, Key: func(r Record) string {
		parts := make([]string, len(rules))
		for i, rule := range rules {
			if parts[i] = rule.Key(r); parts[i] == "" {
				return ""
			}
		}
		return strings.Join(parts, "\x00")
	}}
}

// maxBlock bounds the records one key may join: a key shared by thousands (an empty-ish
// value, "smith") makes pairs by the million and says little.
const maxBlock = 500

// Candidates returns the pairs of records (A < B) that share a key under any rule, once
// each, and how many each rule produced. keep, when not nil, filters pairs (a linkage of two
// files keeps only pairs across them).
func Candidates(records []Record, rules []Rule, keep func(a, b int) bool) ([]Pair, map[string]int) {
	seen := map[[2]int]int{} // pair → its index in out
	var out []Pair
	perRule := map[string]int{}
	for ri, rule := range rules {
		blocks := map[string][]int{}
		for i, r := range records {
			if k := rule.Key(r); k != "" {
				blocks[k] = append(blocks[k], i)
			}
		}
		keys := make([]string, 0, len(blocks))
		for k := range blocks {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ids := blocks[k]
			if len(ids) > maxBlock {
				continue
			}
			for x := 0; x < len(ids); x++ {
				for y := x + 1; y < len(ids); y++ {
					a, b := ids[x], ids[y]
					if keep != nil && !keep(a, b) {
						continue
					}
					perRule[rule.Name]++
					if i, ok := seen[[2]int{a, b}]; ok {
						if r := out[i].Rules; r[len(r)-1] != ri {
							out[i].Rules = append(r, ri)
						}
						continue
					}
					seen[[2]int{a, b}] = len(out)
					out = append(out, Pair{A: a, B: b, Rules: []int{ri}, blocked: rules})
				}
			}
		}
	}
	return out, perRule
}

// Grade fills each pair's agreement levels.
func Grade(fields []Field, records []Record, pairs []Pair) {
	for i := range pairs {
		pairs[i].Levels = Compare(fields, records[pairs[i].A], records[pairs[i].B])
	}
}
