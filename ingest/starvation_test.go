package ingest_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner/ingest"
)

// TestSlowBodiesDoNotStarve reproduces the starvation attack: 135 connections without a
// write key post chunked bodies that trickle in a byte at a time, which used to reserve
// 500 KB of the in-flight budget each before the key was checked and hold it for ever.
// While they run, a real client's requests must keep succeeding (the client gives each one
// 10 s, against the 40 s and more they waited before).
func TestSlowBodiesDoNotStarve(t *testing.T) {
	srv, _ := newServer(t, ingest.Config{BodyTimeout: 20 * time.Second})
	addr := strings.TrimPrefix(srv.URL, "http://")

	const attackers = 135
	stop := make(chan struct{})
	var wg sync.WaitGroup
	ready := make(chan struct{}, attackers)
	for range attackers {
		wg.Go(func() { slowDrip(t, addr, stop, ready) })
	}
	for range attackers {
		<-ready
	}
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(200 * time.Millisecond) // let the server start reading every slow body

	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 5 {
		body := fmt.Sprintf(`{"userId":"u%d","event":"Signed Up","messageId":"m-%d"}`, i, i)
		req, _ := http.NewRequest("POST", srv.URL+"/v1/track", strings.NewReader(body))
		req.SetBasicAuth(writeKey, "")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d during the attack: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d during the attack: status %d", i, resp.StatusCode)
		}
	}
}

// slowDrip opens a connection and sends a chunked POST to /v1/t with no write key, one byte
// at a time, until stop.
func slowDrip(t *testing.T, addr string, stop <-chan struct{}, ready chan<- struct{}) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Errorf("dial: %v", err)
		ready <- struct{}{}
		return
	}
	defer c.Close()
	w := bufio.NewWriter(c)
	fmt.Fprintf(w, "POST /v1/t HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n", addr)
	w.Flush()
	ready <- struct{}{}
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			fmt.Fprint(w, "1\r\n \r\n")
			if w.Flush() != nil {
				return
			}
		}
	}
}

// TestSlowBodyTimesOut: a body that does not arrive within BodyTimeout is answered 400 and
// lets go of its connection.
func TestSlowBodyTimesOut(t *testing.T) {
	srv, _ := newServer(t, ingest.Config{BodyTimeout: 500 * time.Millisecond})
	addr := strings.TrimPrefix(srv.URL, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/track HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n", addr, basic(writeKey))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
}

func basic(user string) string {
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(user, "")
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

var _ = httptest.NewServer
