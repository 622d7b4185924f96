// Package profiledata is the JSON document both stores keep in a profile's data column:
// what a profile holds besides the columns the stores query by.
package profiledata

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/kenner-cdp/kenner"
)

type document struct {
	Traits     map[string]kenner.Trait      `json:"traits,omitempty"`
	Groups     map[string]kenner.Group      `json:"groups,omitempty"`
	Aggregates map[string]*kenner.Aggregate `json:"aggregates,omitempty"`
	Segments   map[string]time.Time         `json:"segments,omitempty"`
	Consent    map[string]kenner.Consent    `json:"consent,omitempty"`
	History    []kenner.ConsentChange       `json:"consent_history,omitempty"`
}

// Encode returns p's data document.
func Encode(p *kenner.Profile) ([]byte, error) {
	b, err := json.Marshal(document{Traits: p.Traits, Groups: p.Groups, Aggregates: p.Aggregates, Segments: p.Segments,
		Consent: p.Consent, History: p.ConsentHistory})
	if err != nil {
		return nil, fmt.Errorf("encode profile %s: %w", p.ID, err)
	}
	return b, nil
}

// Decode reads a data document into p.
func Decode(b []byte, p *kenner.Profile) error {
	var d document
	if err := json.Unmarshal(b, &d); err != nil {
		return fmt.Errorf("decode profile %s: %w", p.ID, err)
	}
	p.Traits, p.Groups, p.Aggregates, p.Segments = d.Traits, d.Groups, d.Aggregates, d.Segments
	p.Consent, p.ConsentHistory = d.Consent, d.History
	return nil
}
