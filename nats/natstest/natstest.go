// Package natstest reads what Kenner published on NATS, for tests.
package natstest

import (
	"encoding/json"
	"testing"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kenner-cdp/kenner"
)

// Changes reads every change on the changes stream named stream, in stream order, with the
// subject each was published on.
func Changes(t testing.TB, nc *natsgo.Conn, stream string) (changes []kenner.Change, subjects []string) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.OrderedConsumer(t.Context(), stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			var c kenner.Change
			if err := json.Unmarshal(m.Data(), &c); err != nil {
				t.Fatalf("change on %s: %v", m.Subject(), err)
			}
			changes, subjects = append(changes, c), append(subjects, m.Subject())
			n++
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return changes, subjects
		}
	}
}
