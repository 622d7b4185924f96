package kenner

import (
	"context"
	"encoding/json"
	"time"
)

// Slot is a place on a website (data-kenner-slot="hero") whose content depends on who
// looks: the first variant whose condition holds for the visitor's profile is shown, the
// default otherwise (and to visitors Kenner does not know yet).
type Slot struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"-"`
	Name        string `json:"name"`
	// Variants in the order they are tried (highest priority first, then as listed).
	Variants []Variant       `json:"variants"`
	Default  json.RawMessage `json:"default"` // the content of the default variant
	// Holdout is the share of people (0 to 0.5) kept as a control group: they are shown the
	// default although a variant matched, stably per person, so the lift can be measured.
	Holdout float64 `json:"holdout"`
	// Personal lets content name personal traits ({{ traits.firstName }}); without it such
	// placeholders render empty, so the answer carries no personal data.
	Personal  bool      `json:"personal"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Variant is one version of a slot's content, for the people its CEL condition selects
// (the language of segment conditions: traits, computed, segment("VIP"), consent, ...).
type Variant struct {
	Name      string          `json:"name"`
	Condition string          `json:"condition"`
	Content   json.RawMessage `json:"content"`
	Priority  int             `json:"priority"`
}

// SlotStore keeps personalization slots.
type SlotStore interface {
	// CreateSlot stores a new slot, filling its id and times (EConflict: the name is taken).
	CreateSlot(ctx context.Context, s *Slot) error
	// UpdateSlot replaces a slot's definition (ENotFound, EConflict).
	UpdateSlot(ctx context.Context, s *Slot) error
	DeleteSlot(ctx context.Context, workspaceID, id string) error
	Slot(ctx context.Context, workspaceID, id string) (*Slot, error)
	// Slots lists a workspace's slots by name.
	Slots(ctx context.Context, workspaceID string) ([]Slot, error)
}

// slotDefinition is what a store keeps of a slot besides its identity and times, as one
// JSON document: both stores write it the same way.
type slotDefinition struct {
	Variants []Variant       `json:"variants"`
	Default  json.RawMessage `json:"default,omitempty"`
	Holdout  float64         `json:"holdout,omitempty"`
	Personal bool            `json:"personal,omitempty"`
}

// SlotDefinition encodes the parts of s a store keeps as one document.
func SlotDefinition(s *Slot) ([]byte, error) {
	return json.Marshal(slotDefinition{Variants: s.Variants, Default: s.Default, Holdout: s.Holdout, Personal: s.Personal})
}

// SetSlotDefinition fills s from a document SlotDefinition wrote.
func SetSlotDefinition(s *Slot, doc []byte) error {
	var d slotDefinition
	if err := json.Unmarshal(doc, &d); err != nil {
		return err
	}
	if d.Variants == nil {
		d.Variants = []Variant{}
	}
	s.Variants, s.Default, s.Holdout, s.Personal = d.Variants, d.Default, d.Holdout, d.Personal
	return nil
}
