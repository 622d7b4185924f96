// Package catalog describes the connectors Kenner ships with, for the catalogue a marketer picks
// from (GET /v1/catalog and the console's Catalogue): each with its kind, what it maps into
// Segment events and traits, the settings it needs and how to try it. Connectors are built on
// the generic parts (webhook mappings, syncs, imports, destinations), so a new one is
// configuration and a test; the catalogue reads their definitions rather than repeating them.
package catalog

import (
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/inbound"
)

// Kinds of connector.
const (
	KindWebhook     = "webhook source" // the vendor calls Kenner
	KindPull        = "pull source"    // Kenner reads the vendor's database on a schedule
	KindFileDrop    = "file drop"      // Kenner imports the files that appear in a bucket
	KindFileImport  = "file import"    // a person uploads a file
	KindDestination = "destination"    // Kenner sends to the vendor
	KindEnrichment  = "enrichment"     // Kenner asks a service about people and keeps its answer
)

// Setting is something a connector needs to be set up.
type Setting struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Required    bool   `json:"required,omitempty"`
	Secret      bool   `json:"secret,omitempty"`
}

// Action is what a person can do with a connector from the catalogue: the API call.
type Action struct {
	Name   string `json:"name"`
	Method string `json:"method"`
	Path   string `json:"path"`
}

// Connector is one entry of the catalogue.
type Connector struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Description string `json:"description"`
	// MapsInto lists the Segment calls it makes (or, for a destination, what it sends).
	MapsInto []string `json:"maps_into"`
	// ExternalIDs are the identifier kinds it presents, to add to --external-ids so that
	// identity resolution uses them.
	ExternalIDs []string  `json:"external_ids,omitempty"`
	Settings    []Setting `json:"settings"`
	// Setup says where it is set up, in the API.
	Setup   string   `json:"setup"`
	Actions []Action `json:"actions"`
	// Preset is a webhook source's preset, to put in the source's webhook mapping.
	Preset string `json:"preset,omitempty"`
}

// names are the vendors' own spellings of the presets.
var names = map[string]string{
	"calendly": "Calendly", "hubspot": "HubSpot", "intercom": "Intercom", "mailchimp": "Mailchimp",
	"mailchimp-transactional": "Mailchimp Transactional (Mandrill)", "postmark": "Postmark", "shopify": "Shopify",
	"stripe": "Stripe", "typeform": "Typeform", "woocommerce": "WooCommerce", "zendesk": "Zendesk",
}

var externalType = regexp.MustCompile(`"type":\s*"([a-z0-9_]+)"`)

// webhookConnector describes a webhook preset from its definition: the description is the
// comment that heads its file, the calls and traits its events.
func webhookConnector(preset string) (Connector, error) {
	src, err := inbound.PresetSource(preset)
	if err != nil {
		return Connector{}, err
	}
	m, err := inbound.ParseMapping(src)
	if err != nil {
		return Connector{}, err
	}
	var desc []string
	for _, line := range strings.Split(string(src), "\n") {
		if !strings.HasPrefix(line, "#") {
			break
		}
		desc = append(desc, strings.TrimSpace(strings.TrimPrefix(line, "#")))
	}
	name := names[preset]
	if name == "" {
		name = preset
	}
	c := Connector{ID: "webhook-" + preset, Name: name, Kind: KindWebhook, Description: strings.Join(desc, " "), Preset: preset,
		Setup: "PUT /v1/sources/{source}/webhook {\"preset\": \"" + preset + "\"}; the vendor posts to /v1/webhooks/{source id}"}
	ext := map[string]bool{}
	for _, ev := range m.Events {
		call := ev.Type
		if ev.Event != "" {
			call += " " + ev.Event
		}
		var traits []string
		for target, v := range ev.Fields {
			if t, ok := strings.CutPrefix(target, "traits."); ok {
				traits = append(traits, t)
			}
			if target == "event" && ev.Event == "" {
				call += " (" + eventNames(v) + ")"
			}
			for _, sub := range externalType.FindAllStringSubmatch(v, -1) {
				if sub[1] != kenner.KindEmail && sub[1] != kenner.KindPhone {
					ext[sub[1]] = true
				}
			}
		}
		if len(traits) > 0 {
			sort.Strings(traits)
			call += " with traits " + strings.Join(traits, ", ")
		}
		if !slices.Contains(c.MapsInto, call) {
			c.MapsInto = append(c.MapsInto, call)
		}
	}
	for k := range ext {
		c.ExternalIDs = append(c.ExternalIDs, k)
	}
	sort.Strings(c.ExternalIDs)
	if m.Verify != nil {
		c.Settings = append(c.Settings, Setting{Name: "verify.secret", Required: true, Secret: true,
			Description: "The signing secret " + name + " gives the webhook; Kenner refuses payloads it did not sign (" + m.Verify.Scheme + ")."})
		if m.Verify.Scheme == inbound.SchemeHubSpot || m.Verify.Scheme == inbound.SchemeMandrill {
			c.Settings = append(c.Settings, Setting{Name: "verify.url",
				Description: "The webhook URL as registered with " + name + ", when a proxy in front of Kenner changes it (the signature covers it)."})
		}
	} else {
		c.Settings = append(c.Settings, Setting{Name: "writeKey", Required: true, Secret: true,
			Description: name + " does not sign its webhooks: give it the URL with the source's write key (?writeKey=...)."})
	}
	c.Actions = []Action{{Name: "Preview the sample", Method: http.MethodPost, Path: "/v1/catalog/" + c.ID + "/sample"}}
	return c, nil
}

var quoted = regexp.MustCompile(`"([A-Z][A-Za-z ]+)"`)

// eventNames lists the event names an expression can give ("Email Opened, Email Link Clicked").
func eventNames(expr string) string {
	var out []string
	for _, m := range quoted.FindAllStringSubmatch(expr, -1) {
		name := m[1]
		if strings.HasSuffix(name, " ") { // a prefix the payload completes ("Ticket " + status)
			name = strings.TrimSpace(name) + " …"
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return "by the payload"
	}
	return strings.Join(out, ", ")
}

// fixed are the connectors that are not webhook presets.
var fixed = []Connector{
	{ID: "database", Name: "PostgreSQL or MySQL table", Kind: KindPull,
		Description: "Pulls the rows of a table or query changed since the last run (an updated-at or increasing id column), on an interval or a cron schedule, into a source through a column mapping. A row that has not changed is never imported twice; a row deleted in the database can mark, suppress or erase its person.",
		MapsInto:    []string{"identify, track, group, page or screen: one call per row, through the column mapping"},
		Settings: []Setting{{Name: "config.dsn", Required: true, Secret: true, Description: "postgres://user:password@host/db or mysql://user:password@host:3306/db; a read-only user is enough."},
			{Name: "config.table", Description: "The table (or config.query, a SELECT)."}, {Name: "config.cursor", Required: true, Description: "The column that orders rows and marks progress."},
			{Name: "config.id", Description: "The column that names each row: resumes ties, and tells deleted rows."},
			{Name: "mapping", Required: true, Description: "Where each column goes (userId, traits.email, timestamp, ...)."},
			{Name: "schedule", Description: "every 15m, a cron expression, or empty to run by hand."}, {Name: "on_delete", Description: "mark, suppress or erase."}},
		Setup:   "POST /v1/syncs {\"kind\": \"database\", ...}; kenner sync for a run from the command line",
		Actions: []Action{{Name: "Test connection", Method: http.MethodPost, Path: "/v1/syncs/test"}}},
	{ID: "s3", Name: "Files in an S3-compatible bucket", Kind: KindFileDrop,
		Description: "Imports the CSV and NDJSON files that appear in a bucket's folder (AWS S3, MinIO, Cloudflare R2, Google Cloud Storage), on a schedule, each version of a file once, through the import mapping.",
		MapsInto:    []string{"identify, track, group, page or screen: one call per row"},
		Settings: []Setting{{Name: "config.bucket", Required: true, Description: "The bucket."}, {Name: "config.prefix", Description: "The folder to read."},
			{Name: "config.endpoint", Description: "The storage's URL (default AWS)."}, {Name: "config.access_key_id", Description: "Access key (or AWS_ACCESS_KEY_ID)."},
			{Name: "config.secret_access_key", Secret: true, Description: "Secret key (or AWS_SECRET_ACCESS_KEY)."}, {Name: "mapping", Description: "Where each column goes."}},
		Setup:   "POST /v1/syncs {\"kind\": \"s3\", ...}",
		Actions: []Action{{Name: "Test connection", Method: http.MethodPost, Path: "/v1/syncs/test"}}},
	{ID: "file-import", Name: "CSV or NDJSON upload", Kind: KindFileImport,
		Description: "Loads a file (a CRM export, point-of-sale orders, offline conversions, ad spend) into a source, with progress, rejects by line, and no row imported twice.",
		MapsInto:    []string{"identify, track, group, page or screen: one call per row", "ad spend per day and campaign (--as spend)"},
		Settings:    []Setting{{Name: "mapping", Description: "Where each column goes; NDJSON of Segment messages needs none."}},
		Setup:       "POST /v1/imports (or kenner import FILE --source NAME)",
		Actions:     []Action{{Name: "Dry run", Method: http.MethodPost, Path: "/v1/imports?dry_run=true"}}},
	{ID: "destination-webhook", Name: "Webhook", Kind: KindDestination,
		Description: "Posts events, profile changes and segment entries and exits to any HTTPS endpoint, signed, batched, retried with backoff, with dead letters.",
		MapsInto:    []string{"events as received", "profile and segment changes"},
		Settings:    []Setting{{Name: "config.url", Required: true, Description: "The receiver."}, {Name: "config.secret", Secret: true, Description: "Signs each request."}},
		Setup:       "POST /v1/destinations {\"type\": \"webhook\", ...}",
		Actions:     []Action{{Name: "Test send", Method: http.MethodPost, Path: "/v1/destinations/{id}/test"}}},
	{ID: "destination-forward", Name: "Segment or RudderStack (forward)", Kind: KindDestination,
		Description: "Forwards events, as Segment messages, to a Segment or RudderStack workspace (or anything that speaks the tracking API), so the tools already connected there keep working.",
		MapsInto:    []string{"track, identify, page, screen, group, alias as received"},
		Settings:    []Setting{{Name: "config.url", Required: true, Description: "The tracking API, e.g. https://api.segment.io."}, {Name: "config.write_key", Required: true, Secret: true, Description: "The write key there."}},
		Setup:       "POST /v1/destinations {\"type\": \"segment\", ...}",
		Actions:     []Action{{Name: "Test send", Method: http.MethodPost, Path: "/v1/destinations/{id}/test"}}},
	{ID: "destination-email", Name: "Email (SMTP)", Kind: KindDestination,
		Description: "Sends an email through your SMTP server when a person enters a segment or does an event, with their traits in the template, consent and suppression checked.",
		MapsInto:    []string{"one email per person and trigger"},
		Settings: []Setting{{Name: "config.host", Required: true, Description: "The SMTP server (port, security, username too)."}, {Name: "config.password", Secret: true, Description: "The SMTP password."},
			{Name: "config.from", Required: true, Description: "The sender."}, {Name: "config.subject", Required: true, Description: "The subject, a template ({{.profile.traits.first_name}})."}, {Name: "config.text", Description: "The text (or config.html)."}},
		Setup:   "POST /v1/destinations {\"type\": \"email\", ...}",
		Actions: []Action{{Name: "Test send", Method: http.MethodPost, Path: "/v1/destinations/{id}/test"}}},
	{ID: "destination-file", Name: "Audience files (S3 or a folder)", Kind: KindDestination,
		Description: "Writes a segment's members as CSV or NDJSON files, full and incremental, to a folder or an S3-compatible bucket, for ad platforms and warehouses that pick files up.",
		MapsInto:    []string{"segment members with the traits chosen"},
		Settings:    []Setting{{Name: "config.s3", Description: "Bucket, prefix, endpoint and keys (secret), or config.dir."}, {Name: "config.format", Description: "csv or ndjson."}},
		Setup:       "POST /v1/destinations {\"type\": \"file\", ...}",
		Actions:     []Action{{Name: "Test send", Method: http.MethodPost, Path: "/v1/destinations/{id}/test"}}},
	{ID: "enrichment-http", Name: "Enrichment service (HTTP)", Kind: KindEnrichment,
		Description: "Asks an HTTP service you choose (a firmographics API, your own scoring service) about every new person and every change of the traits it watches, and records the traits it answers as an identify call from a source of their own: provenance, source priority and erasure apply. Rate-limited, cached, retried and dead-lettered like a destination; a failing service never holds up processing.",
		MapsInto:    []string{"identify with the traits the service answers, from config.source"},
		Settings: []Setting{{Name: "config.url", Required: true, Description: "Receives {\"profile\": {id, identities, traits}} and answers {\"traits\": {...}}."},
			{Name: "config.source", Required: true, Description: "The source the traits are recorded from (create it first)."},
			{Name: "config.headers", Secret: true, Description: "The service's API key."}, {Name: "config.watch", Description: "Traits whose change asks again (default email)."},
			{Name: "config.traits", Description: "The answered traits taken (default all but watched)."}, {Name: "config.cache_ttl", Description: "How long an answer is reused (default 24h)."},
			{Name: "rate_limit", Description: "Requests per second at most."}},
		Setup:   "POST /v1/destinations {\"type\": \"enrichment\", \"subscribe\": {\"profiles\": true}, ...}",
		Actions: []Action{{Name: "Test send", Method: http.MethodPost, Path: "/v1/destinations/{id}/test"}}},
	{ID: "destination-hubspot", Name: "HubSpot (CRM)", Kind: KindDestination,
		Description: "Upserts people as HubSpot contacts through the CRM v3 batch upsert API (up to 100 a request), found by email or a unique property of your own, with traits mapped onto contact properties and a lead model's stage in the property you name (lifecyclestage, say): the hand-off of marketing-qualified leads to sales. HubSpot's rate limit is waited out.",
		MapsInto:    []string{"contacts: email, firstname, lastname, phone, company, jobtitle (or your mapping)", "a lead's stage and score on lead.stage_changed"},
		Settings: []Setting{{Name: "config.access_token", Required: true, Secret: true, Description: "A private app's token (crm.objects.contacts.write)."},
			{Name: "config.id_property", Description: "The property that finds a contact (default email)."}, {Name: "config.properties", Description: "Contact property → path in the delivery."},
			{Name: "config.stage_property", Description: "Receives the lead stage, through config.stages."}, {Name: "subscribe.leads", Description: "Hand off lead stage changes (or segments, profiles)."}},
		Setup:   "POST /v1/destinations {\"type\": \"hubspot\", \"batch_size\": 100, ...}",
		Actions: []Action{{Name: "Test send", Method: http.MethodPost, Path: "/v1/destinations/{id}/test"}}},
	{ID: "destination-salesforce", Name: "Salesforce (CRM)", Kind: KindDestination,
		Description: "Upserts people as Salesforce Leads or Contacts by an External ID field through the REST API's sObject Collections (up to 200 a request, each record's outcome on its own), with traits mapped onto fields and a lead model's stage and score; signs in with a connected app's client credentials and again when the session expires.",
		MapsInto:    []string{"Leads (or Contacts): Email, FirstName, LastName, Phone, Title, Company (or your mapping)", "a lead's stage and score on lead.stage_changed"},
		Settings: []Setting{{Name: "config.instance_url", Required: true, Description: "Your org's My Domain URL."},
			{Name: "config.client_id", Required: true, Description: "The connected app's consumer key (client credentials flow)."},
			{Name: "config.client_secret", Required: true, Secret: true, Description: "Its consumer secret."},
			{Name: "config.external_id_field", Required: true, Description: "The External ID field that identifies a person (Kenner_Id__c)."},
			{Name: "config.fields", Description: "Field → path in the delivery."}, {Name: "config.stage_field", Description: "Receives the lead stage, through config.stages."}},
		Setup:   "POST /v1/destinations {\"type\": \"salesforce\", \"batch_size\": 200, ...}",
		Actions: []Action{{Name: "Test send", Method: http.MethodPost, Path: "/v1/destinations/{id}/test"}}},
	{ID: "destination-nats", Name: "NATS subject", Kind: KindDestination,
		Description: "Publishes events and profile changes to NATS subjects, for services of your own to react in real time.",
		MapsInto:    []string{"events and changes as JSON"},
		Settings:    []Setting{{Name: "config.subject", Required: true, Description: "The subject to publish on."}, {Name: "config.url", Description: "The NATS server (default: the one Kenner uses)."}},
		Setup:       "POST /v1/destinations {\"type\": \"nats\", ...}",
		Actions:     []Action{{Name: "Test send", Method: http.MethodPost, Path: "/v1/destinations/{id}/test"}}},
}

// List returns the catalogue: webhook sources by name, then the other kinds.
func List() ([]Connector, error) {
	var out []Connector
	for _, p := range inbound.Presets() {
		c, err := webhookConnector(p)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return append(out, fixed...), nil
}

// Get returns one connector.
func Get(id string) (Connector, error) {
	if p, ok := strings.CutPrefix(id, "webhook-"); ok {
		return webhookConnector(p)
	}
	for _, c := range fixed {
		if c.ID == id {
			return c, nil
		}
	}
	return Connector{}, kenner.Errorf(kenner.ENotFound, "no connector %q in the catalogue", id)
}

// Sample maps a webhook connector's sample delivery with its preset, storing nothing: what
// the vendor's call would become.
func Sample(id string) ([]inbound.Message, []byte, error) {
	c, err := Get(id)
	if err != nil {
		return nil, nil, err
	}
	if c.Preset == "" {
		return nil, nil, kenner.Errorf(kenner.EInvalid, "%s has no sample payload: only webhook sources do", c.Name)
	}
	body, h, err := inbound.Sample(c.Preset)
	if err != nil {
		return nil, nil, err
	}
	m, err := inbound.Compile(kenner.WebhookMapping{Preset: c.Preset})
	if err != nil {
		return nil, nil, err
	}
	msgs, err := m.Messages("sample", body, h)
	return msgs, body, err
}
