package nats

import (
	"crypto/rand"

	"github.com/nats-io/nats-server/v2/server"
)

// embeddedUsers are the embedded server's two users, with passwords made at each start (the
// server is in-process: nobody else needs them).
type embeddedUsers struct {
	kenner, destinations *server.User
}

// DestinationDeny are the subjects a NATS destination may never publish on: the server's
// JetStream and system APIs (purging or deleting the event log), reply inboxes (answering
// someone else's request) and Kenner's own subjects (writing into its log).
var DestinationDeny = []string{"$JS.>", "$SYS.>", "$KV.>", "$O.>", "$SRV.>", "_INBOX.>", "kenner.>"}

func newEmbeddedUsers() embeddedUsers {
	return embeddedUsers{
		kenner: &server.User{Username: "kenner", Password: rand.Text()},
		destinations: &server.User{Username: "kenner-destinations", Password: rand.Text(),
			Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Allow: []string{">"}, Deny: DestinationDeny},
				// Replies to its own publishes (JetStream acks) only.
				Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
			}},
	}
}
