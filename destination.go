package kenner

import (
	"context"
	"encoding/json"
	"time"
)

// Destination is a downstream system Kenner sends events and changes to (a webhook, another
// Segment-compatible collector, a NATS subject, ...).
type Destination struct {
	WorkspaceID string          `json:"-"`
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Type        string          `json:"type"`
	Config      json.RawMessage `json:"config"`
	Subscribe   Subscription    `json:"subscribe"`
	// Mapping, when set, replaces each payload by an object built from it: output field (a
	// dotted path) -> input path in the default payload, or a literal when it starts with '='.
	Mapping map[string]string `json:"mapping,omitempty"`
	// RateLimit is the most deliveries per second (0: no limit); BatchSize how many messages
	// one request may carry (for destinations that batch); Parallel how many requests run at
	// once (never two for one profile).
	RateLimit   float64 `json:"rate_limit,omitempty"`
	BatchSize   int     `json:"batch_size,omitempty"`
	Parallel    int     `json:"parallel,omitempty"`
	MaxAttempts int     `json:"max_attempts,omitempty"`
	// Purposes are the consent purposes (e.g. "advertising") the destination's use of data
	// needs: it receives only people who consented to all of them.
	Purposes []string `json:"purposes,omitempty"`
	// Paused destinations queue their deliveries without sending them.
	Paused bool `json:"paused"`
	// SyncExisting sends the current members of the subscribed segments as segment.entered,
	// once, when the destination is new (the API sets it by default when it subscribes to
	// segments); SyncedAt says when that was done.
	SyncExisting bool       `json:"sync_existing,omitempty"`
	SyncedAt     *time.Time `json:"synced_at,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// Subscription says what a destination receives.
type Subscription struct {
	Events   EventSubscription `json:"events"`
	Profiles bool              `json:"profiles,omitempty"`
	Segments []string          `json:"segments,omitempty"`
	// Leads subscribes to lead.stage_changed: every lead model's stage crossings.
	Leads bool `json:"leads,omitempty"`
}

// EventSubscription selects raw events: all of them, or those a CEL filter over e accepts.
// In JSON it is true, false or {"filter": "<CEL>"}.
type EventSubscription struct {
	Enabled bool
	Filter  string
}

// MarshalJSON writes true/false, or {"filter": ...} when there is a filter.
func (s EventSubscription) MarshalJSON() ([]byte, error) {
	if s.Enabled && s.Filter != "" {
		return json.Marshal(map[string]string{"filter": s.Filter})
	}
	return json.Marshal(s.Enabled)
}

// UnmarshalJSON reads true/false/null or {"filter": ...}.
func (s *EventSubscription) UnmarshalJSON(b []byte) error {
	var on *bool
	if err := json.Unmarshal(b, &on); err == nil {
		*s = EventSubscription{Enabled: on != nil && *on}
		return nil
	}
	var f struct {
		Filter string `json:"filter"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return Errorf(EInvalid, `subscribe.events must be true, false or {"filter": "<CEL>"}`)
	}
	*s = EventSubscription{Enabled: true, Filter: f.Filter}
	return nil
}

// Delivery payload types (the "type" field of what a destination receives).
const (
	DeliveryEvent = "event"
)

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryDead      = "dead" // gave up: in the dead-letter store until replayed
)

// Delivery is one message for one destination, queued in the store until it is delivered or
// dead-lettered. Key is the idempotency key receivers see; OrderKey groups the messages of one
// person, which are delivered one at a time in ID order.
type Delivery struct {
	ID            int64           `json:"id"`
	WorkspaceID   string          `json:"-"`
	DestinationID string          `json:"destination_id"`
	Key           string          `json:"idempotency_key"`
	OrderKey      string          `json:"order_key"`
	Type          string          `json:"type"`
	Payload       json.RawMessage `json:"payload"`
	Status        string          `json:"status"`
	Attempts      int             `json:"attempts"`
	NextAt        time.Time       `json:"next_at"`
	CreatedAt     time.Time       `json:"created_at"`
	DoneAt        time.Time       `json:"done_at,omitzero"`
	LastError     string          `json:"last_error,omitempty"`
}

// Attempt is one try at delivering a delivery: the delivery log.
type Attempt struct {
	DeliveryID int64     `json:"delivery_id"`
	At         time.Time `json:"at"`
	Status     int       `json:"status,omitempty"` // HTTP status or 0
	LatencyMS  float64   `json:"latency_ms"`
	Error      string    `json:"error,omitempty"`
	Response   string    `json:"response,omitempty"` // the first bytes of the answer
}

// Outcome is what a delivery attempt decided: delivered (Status delivered), try again at
// NextAt (pending), or give up (dead).
type Outcome struct {
	DeliveryID int64
	Status     string
	NextAt     time.Time
	Attempt    Attempt
}

// DeliveryFilter selects deliveries to list, newest first.
type DeliveryFilter struct {
	WorkspaceID   string
	DestinationID string   // "" for every destination
	OrderKeys     []string // only these people's deliveries (profile ids, u:<user id>, a:<anonymous id>)
	Status        string   // "" for any
	Before        int64    // ids below this (paging); 0 for the newest
	Limit         int
}

// DeliveryBatch is the part of a store transaction (Batch) that queues deliveries, so that a
// consumer's position and what it queued commit together.
type DeliveryBatch interface {
	// Enqueue adds deliveries; one whose (destination, key) is already queued is skipped.
	Enqueue(ctx context.Context, ds []Delivery) error
}

// DestinationStore keeps destinations and their delivery queues.
type DestinationStore interface {
	CreateDestination(ctx context.Context, d *Destination) error
	UpdateDestination(ctx context.Context, d *Destination) error
	DeleteDestination(ctx context.Context, workspaceID, id string) error
	Destination(ctx context.Context, workspaceID, id string) (*Destination, error)
	// Destinations lists a workspace's destinations; "" lists every workspace's.
	Destinations(ctx context.Context, workspaceID string) ([]Destination, error)

	// ClaimDeliveries returns up to limit pending deliveries of a destination that are due,
	// at most one per order key and only the oldest pending one of each, and moves their
	// NextAt to lease so that nobody else (another node) sends them meanwhile.
	ClaimDeliveries(ctx context.Context, destinationID string, now, lease time.Time, limit int) ([]Delivery, error)
	// Settle records attempts and their outcomes.
	Settle(ctx context.Context, outcomes []Outcome) error
	Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)
	Delivery(ctx context.Context, workspaceID string, id int64) (*Delivery, error)
	Attempts(ctx context.Context, deliveryID int64) ([]Attempt, error)
	// Requeue makes dead deliveries of a destination pending again (ids; none: all of them)
	// and returns how many.
	Requeue(ctx context.Context, workspaceID, destinationID string, ids []int64) (int, error)
	// QueueDepth counts a destination's pending deliveries.
	QueueDepth(ctx context.Context, destinationID string) (int64, error)
	// PruneDeliveries deletes up to limit delivered deliveries (with their attempts) done
	// before t, and returns how many. Pending and dead ones stay.
	PruneDeliveries(ctx context.Context, before time.Time, limit int) (int64, error)
}

// EventOrderKey is the order key of a raw event's deliveries. Events are queued before
// identity resolution, so the event's identity stands in for the person.
func EventOrderKey(userID, anonymousID string) string {
	if userID != "" {
		return "u:" + userID
	}
	return "a:" + anonymousID
}

// PersonOrderKeys are every order key a person's deliveries can have: their profile ids
// (changes) and their user and anonymous ids (raw events).
func PersonOrderKeys(profileIDs []string, ids []Identifier) []string {
	keys := append([]string(nil), profileIDs...)
	for _, id := range ids {
		switch id.Kind {
		case KindUserID:
			keys = append(keys, EventOrderKey(id.Value, ""))
		case KindAnonymousID:
			keys = append(keys, EventOrderKey("", id.Value))
		}
	}
	return keys
}
