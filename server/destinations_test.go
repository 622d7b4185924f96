package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation/webhook"
)

// hook is a webhook receiver that answers with the status it is told to.
type hook struct {
	mu      sync.Mutex
	status  int
	bodies  []map[string]any
	headers []http.Header
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.status == http.StatusOK {
		h.bodies = append(h.bodies, m)
		h.headers = append(h.headers, r.Header.Clone())
	}
	w.WriteHeader(h.status)
}

func (h *hook) set(status int) {
	h.mu.Lock()
	h.status = status
	h.mu.Unlock()
}

func (h *hook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

func TestDestinationAPI(t *testing.T) {
	st := newStack(t)
	admin := st.tokens[kenner.RoleAdmin]
	rc := &hook{status: http.StatusOK}
	srv := httptest.NewServer(rc)
	defer srv.Close()

	_, seg := st.do(t, "POST", "/v1/segments", st.tokens[kenner.RoleMarketer], `{"name":"Buyers","condition":"events.exists(\"Order Completed\")"}`)
	segID, _ := seg["id"].(string)

	for _, tc := range []struct{ body, want string }{
		{`{"name":"x","type":"fax","config":{}}`, "unknown destination type"},
		{`{"name":"x","type":"webhook","config":{"url":"ftp://h"}}`, "absolute http or https URL"},
		{`{"name":"x","type":"webhook","config":{"url":"http://h","headers":{"X-Kenner-Signature":"1"}}}`, "set by Kenner"},
		{`{"name":"x","type":"webhook","config":{"url":"http://h"},"subscribe":{"events":{"filter":"e.type =="}}}`, "subscribe.events.filter"},
		{`{"name":"x","type":"webhook","config":{"url":"http://h"},"subscribe":{"segments":["seg_nope"]}}`, "no segment"},
		{`{"name":"x","type":"webhook","config":{"url":"http://h"},"mapping":{"a..b":"type"}}`, "mapping"},
		{`{"name":"","type":"webhook","config":{"url":"http://h"}}`, "name is required"},
	} {
		code, e := st.do(t, "POST", "/v1/destinations", admin, tc.body)
		msg, _ := e["error"].(map[string]any)["message"].(string)
		if code != http.StatusBadRequest || !strings.Contains(msg, tc.want) {
			t.Errorf("POST %s = %d %v; want 400 mentioning %q", tc.body, code, e, tc.want)
		}
	}
	if code, _ := st.do(t, "POST", "/v1/destinations", st.tokens[kenner.RoleMarketer], `{}`); code != http.StatusForbidden {
		t.Errorf("marketer creating a destination = %d, want 403", code)
	}

	body := fmt.Sprintf(`{"name":"crm","type":"webhook","config":{"url":%q,"secret":"k","headers":{"X-Team":"growth"}},
		"subscribe":{"events":{"filter":"e.type == \"track\""},"segments":[%q]}}`, srv.URL, segID)
	code, d := st.do(t, "POST", "/v1/destinations", admin, body)
	if code != http.StatusCreated {
		t.Fatalf("create = %d %v", code, d)
	}
	id := d["id"].(string)
	if code, _ := st.do(t, "POST", "/v1/destinations", admin, body); code != http.StatusConflict {
		t.Errorf("same name again = %d, want 409", code)
	}

	st.track(t, `{"batch":[{"type":"identify","userId":"ann","traits":{"email":"ann@example.com"},"messageId":"i1"},
		{"type":"track","userId":"ann","event":"Order Completed","messageId":"t1","properties":{"total":10}}]}`)
	waitFor(t, func() bool { return rc.count() >= 2 })
	rc.mu.Lock()
	types := map[string]map[string]any{}
	for i, b := range rc.bodies {
		types[b["type"].(string)] = b
		h := rc.headers[i]
		if h.Get("X-Team") != "growth" || h.Get(webhook.HeaderIdempotencyKey) == "" || h.Get(webhook.HeaderSignature) == "" {
			t.Errorf("headers %v", h)
		}
	}
	rc.mu.Unlock()
	if ev := types["event"]; ev == nil || ev["messageId"] != "t1" || ev["message"].(map[string]any)["event"] != "Order Completed" {
		t.Errorf("event delivery = %v (the identify is filtered out)", ev)
	}
	entered := types["segment.entered"]
	if entered == nil {
		t.Fatalf("no segment.entered among %v", types)
	}
	prof := entered["profile"].(map[string]any)
	if entered["segment"].(map[string]any)["name"] != "Buyers" || prof["traits"].(map[string]any)["email"] != "ann@example.com" {
		t.Errorf("segment.entered = %v", entered)
	}

	// The receiver has both bodies; the dispatcher marks a delivery delivered after the
	// response, so the second mark may still be on its way.
	var list map[string]any
	waitFor(t, func() bool {
		code, list = st.do(t, "GET", "/v1/destinations/"+id+"/deliveries?status=delivered", admin, "")
		ds, _ := list["deliveries"].([]any)
		return code == 200 && len(ds) == 2
	})
	first := list["deliveries"].([]any)[0].(map[string]any)
	code, one := st.do(t, "GET", fmt.Sprintf("/v1/destinations/%s/deliveries/%.0f", id, first["id"]), admin, "")
	if as, _ := one["attempts"].([]any); code != 200 || len(as) != 1 || as[0].(map[string]any)["status"] != float64(200) {
		t.Errorf("delivery with attempts = %d %v", code, one)
	}

	// Paused: queued, not sent; resumed: the backlog goes out.
	if code, d := st.do(t, "PUT", "/v1/destinations/"+id, admin, `{"paused":true}`); code != 200 || d["paused"] != true {
		t.Fatalf("pause = %d %v", code, d)
	}
	st.track(t, `{"batch":[{"type":"track","userId":"ann","event":"Viewed","messageId":"t2"}]}`)
	waitFor(t, func() bool {
		_, d := st.do(t, "GET", "/v1/destinations/"+id, admin, "")
		return d["pending"] == float64(1)
	})
	if rc.count() != 2 {
		t.Errorf("a paused destination sent %d", rc.count())
	}
	st.do(t, "PUT", "/v1/destinations/"+id, admin, `{"paused":false}`)
	waitFor(t, func() bool { return rc.count() == 3 })

	// A receiver refusing for good: dead letters, replayed once it accepts again.
	rc.set(http.StatusBadRequest)
	st.track(t, `{"batch":[{"type":"track","userId":"bob","event":"Viewed","messageId":"t3"}]}`)
	waitFor(t, func() bool {
		_, l := st.do(t, "GET", "/v1/destinations/"+id+"/dead-letters", admin, "")
		ds, _ := l["deliveries"].([]any)
		return len(ds) == 1
	})
	rc.set(http.StatusOK)
	code, r := st.do(t, "POST", "/v1/destinations/"+id+"/dead-letters/replay", admin, "")
	if code != 200 || r["requeued"] != float64(1) {
		t.Fatalf("replay = %d %v", code, r)
	}
	waitFor(t, func() bool { return rc.count() == 4 })

	if code, _ := st.do(t, "DELETE", "/v1/destinations/"+id, admin, ""); code != http.StatusNoContent {
		t.Errorf("delete = %d", code)
	}
	if code, _ := st.do(t, "GET", "/v1/destinations/"+id, admin, ""); code != http.StatusNotFound {
		t.Errorf("get after delete = %d", code)
	}
}
