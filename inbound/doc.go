// Package inbound turns JSON payloads that other systems post to a webhook source (a shop, a
// payment provider, a CRM, a form tool) into Segment messages, by a per-source mapping of
// JSON paths and CEL expressions, with ready mappings for common senders and verification of
// their signatures.
package inbound
