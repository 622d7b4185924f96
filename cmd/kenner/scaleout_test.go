package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kenner-cdp/kenner/nats"
	"github.com/kenner-cdp/kenner/postgres/pgtest"
)

// TestScaleOut runs two kenner serve nodes on one PostgreSQL store and one external NATS
// JetStream log: events sent to either node are listed, once each, by the other.
func TestScaleOut(t *testing.T) {
	natsURL := os.Getenv("KENNER_TEST_NATS")
	if natsURL == "" {
		t.Skip("KENNER_TEST_NATS is not set; set it (and KENNER_TEST_POSTGRES) to run the scale-out test")
	}
	store := pgtest.Schema(t, pgtest.URL(t))
	b := make([]byte, 6)
	rand.Read(b)
	stream := "kenner_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		l, err := nats.Open(context.Background(), nats.Options{URL: natsURL, Stream: stream, Subject: "kenner." + stream}, slog.New(slog.DiscardHandler))
		if err == nil {
			l.DeleteStream(context.Background())
			l.Close()
		}
	})
	env := []string{"KENNER_SECRET=scale-out-test-secret-0123456789abcdef"}
	args := []string{"--store", store, "--nats", natsURL, "--nats-stream", stream}
	dataA, dataB := t.TempDir(), t.TempDir()
	a := startNode(t, dataA, env, args...)
	creds, err := waitForCredentials(t.Context(), dataA, a.url)
	if err != nil {
		t.Fatal(err)
	}
	b2 := startNode(t, dataB, env, args...)
	if _, err := os.Stat(dataB + "/initial-credentials.json"); err == nil {
		t.Error("the second node bootstrapped a second workspace")
	}

	send := func(node *child, prefix string) []string {
		var batch, ids []string
		for i := range 40 {
			id := fmt.Sprintf("%s-%d", prefix, i)
			ids = append(ids, id)
			batch = append(batch, fmt.Sprintf(`{"type":"track","event":"E","anonymousId":"a%d","messageId":%q}`, i%9, id))
		}
		req, _ := http.NewRequest("POST", node.url+"/v1/batch", strings.NewReader(`{"batch":[`+strings.Join(batch, ",")+`]}`))
		req.SetBasicAuth(creds.WriteKey, "") // a key made on node A works on node B: shared store and secret
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("batch to %s: %v %v\n%s", node.url, err, resp, node.logs)
		}
		resp.Body.Close()
		return ids
	}
	want := append(send(a, "via-a"), send(b2, "via-b")...)
	slices.Sort(want)
	for _, node := range []*child{a, b2} {
		got := allMessageIDs(t, node.url, creds.AdminToken)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s lists %d events, want the %d sent to both nodes, once each", node.url, len(got), len(want))
		}
	}
}
