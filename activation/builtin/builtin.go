// Package builtin lists the destination types Kenner ships with, so that the server and the
// tests run the same set.
package builtin

import (
	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/activation/email"
	"github.com/kenner-cdp/kenner/activation/enrich"
	"github.com/kenner-cdp/kenner/activation/export"
	"github.com/kenner-cdp/kenner/activation/forward"
	"github.com/kenner-cdp/kenner/activation/hubspot"
	"github.com/kenner-cdp/kenner/activation/salesforce"
	"github.com/kenner-cdp/kenner/activation/subject"
	"github.com/kenner-cdp/kenner/activation/webhook"
	"github.com/kenner-cdp/kenner/egress"
)

// Options are what the built-in destinations may reach: Egress the addresses of HTTP, SMTP
// and S3 receivers, ExportRoot the directory file exports write under (empty: none), and
// Subjects the NATS connection and subject rules of NATS destinations.
type Options struct {
	Egress     egress.Policy
	ExportRoot string
	Subjects   subject.Options
	// Ingest records the traits enrichment destinations bring back (nil: none can be made).
	Ingest enrich.Accepter
}

// Senders are the built-in destination types: full exports read segment members from store,
// and email destinations look up the person an event is about there.
func Senders(store kenner.Store, opts Options) activation.Senders {
	return activation.Senders{
		webhook.Type:    webhook.Factory(opts.Egress),
		email.Type:      email.Factory(opts.Egress, store),
		forward.Type:    forward.Factory(opts.Egress),
		export.Type:     export.Factory(activation.StoreAudience(store), export.Options{Root: opts.ExportRoot, Egress: opts.Egress}),
		subject.Type:    subject.Factory(opts.Subjects),
		enrich.Type:     enrich.Factory(opts.Egress, store, opts.Ingest),
		hubspot.Type:    hubspot.Factory(opts.Egress),
		salesforce.Type: salesforce.Factory(opts.Egress),
	}
}
