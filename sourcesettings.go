package kenner

import (
	"context"
	"encoding/json"
	"time"
)

// SourceSettings are what a source does with data beyond the tracking API's own checks: how
// it turns webhook payloads into events, and the tracking plan its events must follow.
type SourceSettings struct {
	Webhook      *WebhookMapping `json:"webhook,omitempty"`
	TrackingPlan *TrackingPlan   `json:"tracking_plan,omitempty"`
	Tag          *TagSettings    `json:"tag,omitempty"`
}

// Consent modes of the browser tag.
const (
	// ConsentOptional: the tag tracks from the first visit; a visitor may refuse purposes.
	ConsentOptional = "optional"
	// ConsentRequired: the tag sets no cookie and sends nothing until the site reports the
	// visitor's consent (analytics.consent or window.kennerConsent).
	ConsentRequired = "required"
)

// TagSettings configure a source's browser tag (served at /analytics.js/v1/{writeKey}/...):
// what it tracks by itself and which other tags it loads, changed without touching the site.
type TagSettings struct {
	Consent string `json:"consent,omitempty"` // optional (default) or required
	// ConsentPurpose is the consent category that allows tracking (default analytics).
	ConsentPurpose string `json:"consent_purpose,omitempty"`
	// PageViews sends a page view on load and on each single-page-app navigation (when the
	// page's own snippet already calls page() on load, that call is the first view).
	PageViews bool `json:"page_views"`
	// Clicks tracks clicks on elements with a data-track="Event Name" attribute; their
	// data-track-* attributes become properties.
	Clicks bool `json:"clicks"`
	// Forms tracks form submissions as "Form Submitted", never with password, card or
	// hidden fields.
	Forms bool `json:"forms"`
	// OutboundLinks tracks clicks on links to other sites as "Outbound Link Clicked".
	OutboundLinks bool `json:"outbound_links"`
	// ScrollDepth tracks "Scroll Depth Reached" at 25, 50, 75 and 100 percent of a page.
	ScrollDepth bool `json:"scroll_depth"`
	// Tags are other scripts the tag loads for the marketer, each only once the visitor
	// consented to its purpose.
	Tags []ThirdPartyTag `json:"tags,omitempty"`
}

// ThirdPartyTag is a script the browser tag loads when the visitor consented to Purpose
// (a consent category such as marketing or analytics).
type ThirdPartyTag struct {
	Name    string `json:"name"`
	Src     string `json:"src"` // an https:// URL
	Purpose string `json:"purpose"`
}

// WebhookMapping turns an arbitrary JSON payload posted to /v1/webhooks/{source} into Segment
// messages. Preset names a ready mapping (shopify, stripe) used when Events is empty.
type WebhookMapping struct {
	Preset string         `json:"preset,omitempty"`
	Verify *WebhookVerify `json:"verify,omitempty"`
	// Each names the list in a payload whose items are mapped one at a time ("$.events"); a
	// payload that is a JSON array is a batch of such items without it.
	Each   string         `json:"each,omitempty"`
	Events []WebhookEvent `json:"events,omitempty"`
}

// WebhookVerify checks that a payload comes from the system that signs it (Shopify, Stripe, or
// any sender that puts a hex or base64 HMAC-SHA256 of the body in a header). A source with a
// verified webhook needs no write key on its webhook URL.
type WebhookVerify struct {
	Scheme string `json:"scheme"` // shopify, stripe, hmac-sha256, hmac-sha1, zendesk, hubspot, mandrill
	Secret string `json:"secret"`
	// Header carries the signature for hmac-sha256 (default X-Signature).
	Header string `json:"header,omitempty"`
	// URL is the webhook's address as registered with the sender, for the schemes that sign
	// it (hubspot, mandrill); default: the request's URL as Kenner receives it.
	URL string `json:"url,omitempty"`
}

// WebhookEvent makes one message from a payload, when its condition holds. Field values are
// "$.json.path" (read from the payload), "=<CEL expression>" (over payload and headers), or a
// literal string.
type WebhookEvent struct {
	Name   string            `json:"name,omitempty"`
	When   string            `json:"when,omitempty"`
	Type   string            `json:"type"`
	Event  string            `json:"event,omitempty"`
	Fields map[string]string `json:"fields"`
}

// Tracking plan modes: what happens to an event that breaks the plan. Every mode counts the
// violation; flag also marks the event (context.violations); block keeps it out of the log,
// in the source's quarantine.
const (
	PlanAllow = "allow"
	PlanFlag  = "flag"
	PlanBlock = "block"
)

// TrackingPlan is a source's contract for its events, like Segment Protocols: a JSON Schema
// for the properties of each planned track event and one for identify traits.
type TrackingPlan struct {
	Mode string `json:"mode"`
	// Unplanned is what happens to track events the plan does not name (default allow, with
	// no violation counted).
	Unplanned string                     `json:"unplanned,omitempty"`
	Events    map[string]json.RawMessage `json:"events,omitempty"`
	Identify  json.RawMessage            `json:"identify,omitempty"`
}

// Violation is one way an event broke its source's tracking plan.
type Violation struct {
	Event   string `json:"event"` // the track event name, or "identify"
	Path    string `json:"path"`  // JSON pointer into properties or traits ("" for the whole event)
	Message string `json:"message"`
}

// ViolationCount is how often a violation occurred for a source.
type ViolationCount struct {
	SourceID string `json:"source_id"`
	Violation
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// QuarantinedEvent is an event a blocking tracking plan kept out of the log. Body is the
// message as it would have been appended.
type QuarantinedEvent struct {
	ID          int64           `json:"id"`
	WorkspaceID string          `json:"-"`
	SourceID    string          `json:"source_id"`
	MessageID   string          `json:"message_id"`
	Type        string          `json:"type"`
	Event       string          `json:"event,omitempty"`
	UserID      string          `json:"user_id,omitempty"`
	AnonymousID string          `json:"anonymous_id,omitempty"`
	Violations  []Violation     `json:"violations"`
	Body        json.RawMessage `json:"body"`
	ReceivedAt  time.Time       `json:"received_at"`
}

// QuarantineFilter selects quarantined events of a source, oldest first, after an id.
type QuarantineFilter struct {
	WorkspaceID string
	SourceID    string
	After       int64
	Limit       int
}

// SourceSettingsStore keeps source settings and what tracking plans found.
type SourceSettingsStore interface {
	// SourceByID finds a source by its id, in any workspace (ids are unique): a webhook URL
	// names its source alone.
	SourceByID(ctx context.Context, id string) (*Source, error)
	// UpdateSourceSettings replaces a source's settings.
	UpdateSourceSettings(ctx context.Context, workspaceID, id string, s SourceSettings) error

	// AddViolations adds to the counts of violations (same source, event, path and message).
	AddViolations(ctx context.Context, workspaceID string, vs []ViolationCount) error
	Violations(ctx context.Context, workspaceID, sourceID string) ([]ViolationCount, error)

	// Quarantine stores blocked events, filling their ids.
	Quarantine(ctx context.Context, es []QuarantinedEvent) error
	QuarantinedEvents(ctx context.Context, f QuarantineFilter) ([]QuarantinedEvent, error)
	// ReleaseQuarantined deletes quarantined events of a source (replayed or discarded) and
	// returns how many went.
	ReleaseQuarantined(ctx context.Context, workspaceID, sourceID string, ids []int64) (int64, error)
}
