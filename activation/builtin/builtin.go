// Package builtin lists the destination types Kenner ships with, so that the server and the
// tests run the same set.
package builtin

import (
	natsgo "github.com/nats-io/nats.go"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/activation/email"
	"github.com/kenner-cdp/kenner/activation/export"
	"github.com/kenner-cdp/kenner/activation/forward"
	"github.com/kenner-cdp/kenner/activation/subject"
	"github.com/kenner-cdp/kenner/activation/webhook"
)

// Senders are the built-in destination types: full exports read segment members from store,
// and NATS destinations without a URL publish on conn (Kenner's own NATS).
func Senders(store kenner.Store, conn *natsgo.Conn) activation.Senders {
	return activation.Senders{
		webhook.Type: webhook.New,
		email.Type:   email.New,
		forward.Type: forward.New,
		export.Type:  export.Factory(activation.StoreAudience(store)),
		subject.Type: subject.Factory(conn),
	}
}
