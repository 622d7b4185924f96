package kenner

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// Event types of the Segment spec.
const (
	TypeIdentify = "identify"
	TypeTrack    = "track"
	TypePage     = "page"
	TypeScreen   = "screen"
	TypeGroup    = "group"
	TypeAlias    = "alias"
)

// EventTypes lists the accepted message types.
var EventTypes = []string{TypeIdentify, TypeTrack, TypePage, TypeScreen, TypeGroup, TypeAlias}

// Event is one accepted message as the store keeps it: the enriched Segment message in Body, plus
// the columns needed to find it. Seq and Index place it in the log: Seq is the sequence of the log
// record that carried it, Index its position inside that record.
type Event struct {
	WorkspaceID string
	SourceID    string
	Seq         uint64
	Index       int
	MessageID   string
	Type        string
	Name        string // track event name, or page/screen name
	UserID      string
	AnonymousID string
	ProfileID   string // the profile the event belongs to ("" when it identifies no one)
	Timestamp   time.Time
	ReceivedAt  time.Time
	Body        json.RawMessage
}

// EventFilter selects events for the event debugger. Zero fields do not filter.
type EventFilter struct {
	WorkspaceID string
	UserID      string
	AnonymousID string
	MessageID   string
	ProfileID   string
	Type        string
	Name        string       // track event name, or page/screen name
	After       *EventCursor // newest-first pagination: only events older than this
	Limit       int
}

// EventCursor is a position in the newest-first event listing.
type EventCursor struct {
	Seq   uint64
	Index int
}

// String encodes the cursor for an API client; clients treat it as opaque.
func (c EventCursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d.%d", c.Seq, c.Index)))
}

// ParseEventCursor decodes a cursor made by EventCursor.String.
func ParseEventCursor(s string) (EventCursor, error) {
	bad := Errorf(EInvalid, "after: not a cursor returned by this API")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return EventCursor{}, bad
	}
	seq, idx, ok := strings.Cut(string(b), ".")
	if !ok {
		return EventCursor{}, bad
	}
	c := EventCursor{}
	if c.Seq, err = strconv.ParseUint(seq, 10, 64); err != nil {
		return EventCursor{}, bad
	}
	if c.Index, err = strconv.Atoi(idx); err != nil || c.Index < 0 {
		return EventCursor{}, bad
	}
	return c, nil
}

// Page limits of list endpoints.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// PartitionOf maps a partition key to one of n partitions. It must never change: the log's
// ordering guarantees (one consumer per partition sees all events of a device in order) rest on it.
func PartitionOf(key string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// PageLimit returns the page size a list query should use for a requested limit: the default
// when unset, never more than the maximum.
func PageLimit(limit int) int {
	if limit <= 0 || limit > MaxPageLimit {
		return DefaultPageLimit
	}
	return limit
}

// PageEvents cuts a store query that fetched up to limit+1 events (newest first) down to one
// page, and returns the cursor of the next page, or "" when this is the last one.
func PageEvents(events []Event, limit int) ([]Event, string) {
	if len(events) <= limit {
		return events, ""
	}
	events = events[:limit]
	last := events[limit-1]
	return events, EventCursor{Seq: last.Seq, Index: last.Index}.String()
}
