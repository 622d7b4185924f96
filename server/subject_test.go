package server_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kenner-cdp/kenner"
)

// TestNATSDestination publishes deliveries for in-house consumers on Kenner's own NATS: on a
// plain subject, and into a JetStream stream that drops redeliveries by Nats-Msg-Id.
func TestNATSDestination(t *testing.T) {
	st := newStack(t)
	admin := st.tokens[kenner.RoleAdmin]
	nc := st.log.Conn()
	msgs := make(chan *natsgo.Msg, 16)
	sub, err := nc.ChanSubscribe("crm.>", msgs)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	js, _ := jetstream.New(nc)
	// The stream calls below share no deadline with the deliveries they wait for: on a loaded
	// machine the first delivery can use most of a shared one.
	ctx := t.Context()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OUT", Subjects: []string{"out.>"}, Duplicates: time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	for _, body := range []string{
		`{"name":"plain","type":"nats","config":{"subject":"crm.{type}"},"subscribe":{"events":true}}`,
		`{"name":"stream","type":"nats","config":{"subject":"out.kenner"},"subscribe":{"events":true}}`,
	} {
		if code, d := st.do(t, "POST", "/v1/destinations", admin, body); code != http.StatusCreated {
			t.Fatalf("create = %d %v", code, d)
		}
	}
	if code, _ := st.do(t, "POST", "/v1/destinations", admin, `{"name":"wild","type":"nats","config":{"subject":"crm.>"}}`); code != 400 {
		t.Errorf("wildcard subject = %d, want 400", code)
	}
	st.track(t, `{"batch":[{"type":"track","userId":"u","event":"Signed Up","messageId":"n1"}]}`)
	select {
	case m := <-msgs:
		var p map[string]any
		json.Unmarshal(m.Data, &p)
		if m.Subject != "crm.event" || m.Header.Get(natsgo.MsgIdHdr) != "n1" || p["messageId"] != "n1" {
			t.Errorf("got %s %v %v", m.Subject, m.Header, p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing published on crm.>")
	}
	waitFor(t, func() bool {
		info, err := stream.Info(ctx)
		return err == nil && info.State.Msgs == 1
	})
	m, err := stream.GetLastMsgForSubject(ctx, "out.kenner")
	if err != nil || m.Header.Get(natsgo.MsgIdHdr) != "n1" {
		t.Errorf("stream message %v, %v", m, err)
	}
}
