package inbound

import (
	"embed"
	"net/http"
	"net/url"

	"github.com/kenner-cdp/kenner"
)

// The presets' sample payloads are the test payloads, written from each vendor's documented
// shapes: the catalogue shows what a preset makes of one.
//
//go:embed testdata/*.json testdata/*.form
var sampleFiles embed.FS

// sample is a preset's sample delivery: its file and the headers the vendor sends with it.
type sample struct {
	file   string
	header http.Header
	// field, when set, posts the file as that form field (Mandrill's mandrill_events).
	field string
}

var formPost = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

var samples = map[string]sample{
	"calendly":                {file: "calendly_invitee_created.json"},
	"hubspot":                 {file: "hubspot_events.json"},
	"intercom":                {file: "intercom_conversation_created.json"},
	"mailchimp":               {file: "mailchimp_subscribe.form", header: formPost},
	"mailchimp-transactional": {file: "mandrill_events.json", header: formPost, field: "mandrill_events"},
	"postmark":                {file: "postmark_bounce.json"},
	"shopify":                 {file: "shopify_orders_create.json", header: http.Header{"X-Shopify-Topic": {"orders/create"}}},
	"stripe":                  {file: "stripe_charge_succeeded.json"},
	"typeform":                {file: "typeform_form_response.json"},
	"woocommerce":             {file: "woocommerce_order_created.json", header: http.Header{"X-Wc-Webhook-Topic": {"order.created"}}},
	"zendesk":                 {file: "zendesk_ticket_created.json"},
}

// Sample returns a preset's sample delivery: the body and headers its vendor would send.
func Sample(preset string) ([]byte, http.Header, error) {
	s, ok := samples[preset]
	if !ok {
		return nil, nil, kenner.Errorf(kenner.ENotFound, "no sample for webhook preset %q", preset)
	}
	b, err := sampleFiles.ReadFile("testdata/" + s.file)
	if err != nil {
		return nil, nil, err
	}
	if s.field != "" {
		b = []byte(url.Values{s.field: {string(b)}}.Encode())
	}
	h := http.Header{"Content-Type": {"application/json"}}
	for k, v := range s.header {
		h[k] = v
	}
	return b, h, nil
}
