package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/kenner-cdp/kenner"
)

// TestForwardToAnotherKenner puts one Kenner in front of another with the Segment-spec
// forwarder: events arrive there as they were sent (same messageId, so the downstream dedupes
// redeliveries), and a segment entry becomes an identify with the segment as a trait.
func TestForwardToAnotherKenner(t *testing.T) {
	front, back := newStack(t), newStack(t)
	admin := front.tokens[kenner.RoleAdmin]
	_, seg := front.do(t, "POST", "/v1/segments", admin, `{"name":"Big spenders","condition":"events.exists(\"Order Completed\")"}`)
	body := fmt.Sprintf(`{"name":"downstream","type":"segment","config":{"url":%q,"write_key":%q},"batch_size":50,
		"subscribe":{"events":true,"segments":[%q]}}`, back.url, back.writeKey, seg["id"])
	if code, d := front.do(t, "POST", "/v1/destinations", admin, body); code != http.StatusCreated {
		t.Fatalf("create = %d %v", code, d)
	}
	if code, e := front.do(t, "POST", "/v1/destinations", admin, `{"name":"bad","type":"segment","config":{"url":"http://x"}}`); code != 400 {
		t.Errorf("forwarder without write key = %d %v", code, e)
	}
	front.track(t, `{"batch":[{"type":"identify","userId":"zoe","traits":{"plan":"pro"},"messageId":"f1"},
		{"type":"track","userId":"zoe","event":"Order Completed","properties":{"total":99},"messageId":"f2"}]}`)

	backTok := back.tokens[kenner.RoleAdmin]
	waitFor(t, func() bool {
		code, p := back.do(t, "GET", "/v1/profiles/user_id:zoe", backTok, "")
		if code != 200 {
			return false
		}
		traits, _ := p["traits"].(map[string]any)
		return traits["big_spenders"] == true && traits["plan"] == "pro"
	})
	_, evs := back.do(t, "GET", "/v1/events?user_id=zoe", backTok, "")
	ids := map[string]bool{}
	for _, e := range evs["events"].([]any) {
		m := e.(map[string]any)
		ids[m["messageId"].(string)] = true
		if m["messageId"] == "f2" {
			props, _ := json.Marshal(m["properties"])
			if string(props) != `{"total":99}` {
				t.Errorf("forwarded properties %s", props)
			}
		}
	}
	if !ids["f1"] || !ids["f2"] || len(ids) != 3 {
		t.Errorf("downstream events %v, want f1, f2 and the segment identify", ids)
	}
}
