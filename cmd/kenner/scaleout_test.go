package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/nats/natstest"
	"github.com/kenner-cdp/kenner/postgres/pgtest"
)

// TestScaleOut runs two kenner serve nodes on one PostgreSQL store and one external NATS
// JetStream log: events sent to either node are listed, once each, by the other.
func TestScaleOut(t *testing.T) {
	natsURL, stream := sharedStream(t)
	store := pgtest.Schema(t, pgtest.URL(t))
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
	checkConcurrentProfiles(t, creds, a, b2)
	checkChangesStream(t, natsURL, stream+"-changes")
}

// checkChangesStream reads the changes stream both nodes' relays publish to: the profiles
// updated above are there, and each change of the store once, though both nodes publish it.
func checkChangesStream(t *testing.T, natsURL, stream string) {
	nc, err := natsgo.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		changes, subjects := natstest.Changes(t, nc, stream)
		for _, subject := range subjects {
			if !strings.HasPrefix(subject, "kenner."+stream+".ws_default.") {
				t.Errorf("change on subject %s", subject)
			}
		}
		seen, updated := map[int64]bool{}, 0
		for _, c := range changes {
			if seen[c.Seq] {
				t.Fatalf("change %d is on the stream twice", c.Seq)
			}
			seen[c.Seq] = true
			if c.Type == kenner.ChangeProfileUpdated {
				updated++
			}
		}
		// 12 people whose traits changed, each at least once.
		if updated >= 12 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d profile.updated changes on %s after 30 s, want at least 12", updated, stream)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkConcurrentProfiles sends, through both nodes at once, events of people who use several
// devices (so their events land in different partitions, processed concurrently by two
// processes on one database): each person must end as exactly one profile holding every
// device, with the trait value of their latest event (no lost update).
func checkConcurrentProfiles(t *testing.T, creds initialCredentials, nodes ...*child) {
	const people, devices, rounds = 12, 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, len(nodes)*devices)
	for n, node := range nodes {
		for d := range devices {
			wg.Go(func() {
				for r := range rounds {
					var batch []string
					for p := range people {
						// Every node and device sends every round; the latest timestamp carries
						// the highest "round" value.
						ts := time.Date(2024, 1, 1, 0, r*devices*len(nodes)+d*len(nodes)+n, 0, 0, time.UTC).Format(time.RFC3339)
						batch = append(batch, fmt.Sprintf(`{"type":"identify","userId":"person-%d","anonymousId":"dev-%d-%d-%d","timestamp":%q,"traits":{"round":%d}}`,
							p, p, n, d, ts, r*devices*len(nodes)+d*len(nodes)+n))
					}
					req, _ := http.NewRequest("POST", node.url+"/v1/batch", strings.NewReader(`{"batch":[`+strings.Join(batch, ",")+`]}`))
					req.SetBasicAuth(creds.WriteKey, "")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						errs <- err
						return
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						errs <- fmt.Errorf("batch: %s", resp.Status)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wantRound := float64((rounds-1)*devices*len(nodes) + (devices-1)*len(nodes) + len(nodes) - 1)
	deadline := time.Now().Add(30 * time.Second)
	for p := range people {
		for {
			var prof struct {
				ID         string
				Traits     map[string]any
				Identities []struct{ Kind, Value string }
			}
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/profiles/user_id:person-%d?consistent=true", nodes[p%len(nodes)].url, p), nil)
			req.Header.Set("Authorization", "Bearer "+creds.AdminToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			json.NewDecoder(resp.Body).Decode(&prof)
			resp.Body.Close()
			if len(prof.Identities) == 1+devices*len(nodes) && prof.Traits["round"] == wantRound {
				// Every device names this one profile.
				for _, idt := range prof.Identities {
					var other struct{ ID string }
					req, _ := http.NewRequest("GET", nodes[0].url+"/v1/profiles/"+idt.Kind+":"+idt.Value, nil)
					req.Header.Set("Authorization", "Bearer "+creds.AdminToken)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					json.NewDecoder(resp.Body).Decode(&other)
					resp.Body.Close()
					if other.ID != prof.ID {
						t.Errorf("%s:%s is on profile %s, person-%d on %s", idt.Kind, idt.Value, other.ID, p, prof.ID)
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("person-%d: profile %s has %d identities (want %d) and round %v (want %v)",
					p, prof.ID, len(prof.Identities), 1+devices*len(nodes), prof.Traits["round"], wantRound)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
