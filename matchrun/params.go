package matchrun

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/match"
)

// Params is what a run compares and decides: the traits compared (a dotted path reads into an
// object trait: "address.city"), the blocking rules, and the two thresholds, as a probability
// of matching or as a match weight (a weight wins).
type Params struct {
	Fields            []match.Field     `json:"fields,omitempty"`
	Blocking          []match.BlockSpec `json:"blocking,omitempty"`
	MergeProbability  float64           `json:"merge_probability,omitempty"`
	ReviewProbability float64           `json:"review_probability,omitempty"`
	MergeWeight       *float64          `json:"merge_weight,omitempty"`
	ReviewWeight      *float64          `json:"review_weight,omitempty"`
	// DryRun reports what would merge and go to review, and changes nothing.
	DryRun bool `json:"dry_run,omitempty"`
	// Since limits the run to pairs of which at least one profile changed at or after it (an
	// import's new records, against every profile and each other).
	Since *time.Time `json:"since,omitempty"`
}

// DefaultFields are compared when a run names none: the Segment spec's reserved traits that
// describe a person. Those no profile has are left out.
var DefaultFields = []match.Field{
	{Name: "first_name", Kind: match.Name, TF: true},
	{Name: "last_name", Kind: match.Name, TF: true},
	{Name: "birthday", Kind: match.Code},
	{Name: "address.street", Kind: match.Text},
	{Name: "address.city", Kind: match.Text, TF: true},
	{Name: "address.postal_code", Kind: match.Code},
	{Name: "phone", Kind: match.Exact},
	{Name: "email", Kind: match.Exact},
}

// DefaultBlocking is used when a run names no rule: same postal code, same birthday, first
// and last name sounding alike.
var DefaultBlocking = []match.BlockSpec{
	{Fields: []string{"address.postal_code"}},
	{Fields: []string{"birthday"}},
	{Fields: []string{"first_name", "last_name"}, Phonetic: true},
}

// Defaults for the thresholds: merged at 99 % or more, reviewed from even odds.
const (
	DefaultMergeProbability  = 0.99
	DefaultReviewProbability = 0.5
)

// normalize fills defaults and checks the parameters.
func (p *Params) normalize() error {
	if len(p.Fields) == 0 {
		p.Fields = DefaultFields
	}
	if len(p.Blocking) == 0 {
		p.Blocking = DefaultBlocking
	}
	seen := map[string]bool{}
	for _, f := range p.Fields {
		if err := f.Check(); err != nil {
			return kenner.Errorf(kenner.EInvalid, "fields: %v", err)
		}
		if seen[f.Name] {
			return kenner.Errorf(kenner.EInvalid, "fields: %s is compared twice", f.Name)
		}
		seen[f.Name] = true
	}
	for _, b := range p.Blocking {
		if _, err := b.Rule(); err != nil {
			return kenner.Errorf(kenner.EInvalid, "blocking: %v", err)
		}
		for _, f := range b.Fields {
			if !seen[f] {
				return kenner.Errorf(kenner.EInvalid, "blocking: %s is not a compared field", f)
			}
		}
	}
	if p.MergeProbability == 0 {
		p.MergeProbability = DefaultMergeProbability
	}
	if p.ReviewProbability == 0 {
		p.ReviewProbability = DefaultReviewProbability
	}
	for _, pr := range []struct {
		name string
		v    float64
	}{{"merge_probability", p.MergeProbability}, {"review_probability", p.ReviewProbability}} {
		if pr.v <= 0 || pr.v >= 1 || math.IsNaN(pr.v) {
			return kenner.Errorf(kenner.EInvalid, "%s: want a probability between 0 and 1 (exclusive), not %v", pr.name, pr.v)
		}
	}
	if p.ReviewProbability > p.MergeProbability {
		return kenner.Errorf(kenner.EInvalid, "review_probability (%v) is above merge_probability (%v): pairs reviewed are those below the merge threshold", p.ReviewProbability, p.MergeProbability)
	}
	if p.MergeWeight != nil && p.ReviewWeight != nil && *p.ReviewWeight > *p.MergeWeight {
		return kenner.Errorf(kenner.EInvalid, "review_weight (%v) is above merge_weight (%v)", *p.ReviewWeight, *p.MergeWeight)
	}
	return nil
}

// thresholds are the weights of the two thresholds under a trained model.
func (p *Params) thresholds(m *match.Model) (merge, review float64) {
	at := func(prob float64) float64 { return m.Prior() + math.Log2(prob/(1-prob)) }
	merge, review = at(p.MergeProbability), at(p.ReviewProbability)
	if p.MergeWeight != nil {
		merge = *p.MergeWeight
	}
	if p.ReviewWeight != nil {
		review = *p.ReviewWeight
	}
	return merge, min(review, merge)
}

// rules are the blocking rules the parameters name, over the fields present.
func (p *Params) rules(present map[string]bool) ([]match.Rule, []string, error) {
	var rules []match.Rule
	var dropped []string
	for _, b := range p.Blocking {
		ok := true
		for _, f := range b.Fields {
			ok = ok && present[f]
		}
		if !ok {
			dropped = append(dropped, strings.Join(b.Fields, "+"))
			continue
		}
		r, err := b.Rule()
		if err != nil {
			return nil, nil, err
		}
		rules = append(rules, r)
	}
	if len(rules) == 0 {
		return nil, dropped, kenner.Errorf(kenner.EInvalid, "blocking: no rule can be used: no profile has the fields of %s", strings.Join(dropped, ", "))
	}
	return rules, dropped, nil
}

func (p *Params) String() string {
	return fmt.Sprintf("%d fields, %d rules", len(p.Fields), len(p.Blocking))
}
