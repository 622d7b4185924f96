package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// leadHook records the lead.stage_changed deliveries it receives.
type leadHook struct {
	mu  sync.Mutex
	got []map[string]any
}

func (h *leadHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	json.Unmarshal(b, &body)
	h.mu.Lock()
	if body["type"] == "lead.stage_changed" {
		h.got = append(h.got, body)
	}
	h.mu.Unlock()
}

func (h *leadHook) deliveries() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.got...)
}

// TestLeadStageHandOff: a lead model gives points for visits to the pricing page, for a
// demo request and for a job title; a lead whose events raise them over the MQL threshold is
// handed to the CRM webhook exactly once, with the stage change, and more activity within
// the stage sends nothing more.
func TestLeadStageHandOff(t *testing.T) {
	hook := &leadHook{}
	rcv := httptest.NewServer(hook)
	defer rcv.Close()
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	api := adminAPI(t, s.url, creds.AdminToken)
	send := batchSender(t, s.url, creds.WriteKey)

	if code, out := api("POST", "/v1/destinations", fmt.Sprintf(`{"name":"crm","type":"webhook","config":{"url":%q},"subscribe":{"leads":true}}`, rcv.URL)); code != 201 {
		t.Fatalf("destination: %d %v", code, out)
	}
	for _, bad := range []string{
		`{"name":"lead","kind":"lead","stages":[{"name":"subscriber","threshold":0}]}`,
		`{"name":"lead","kind":"lead","rules":[{"event":"Demo Requested","points":10}],"stages":[{"name":"MQL","threshold":50},{"name":"subscriber","threshold":0}]}`,
		`{"name":"lead","kind":"lead","rules":[{"event":"$page","where":"e.context.page.path.startsWith(","points":5}],"stages":[{"name":"a","threshold":0}]}`,
		`{"name":"lead","kind":"lead","rules":[{"condition":"traits.title","event":"x","points":5}],"stages":[{"name":"a","threshold":0}]}`,
	} {
		if code, out := api("POST", "/v1/models", bad); code != 400 {
			t.Errorf("POST %s: %d %v, want 400", bad, code, out)
		}
	}
	code, m := api("POST", "/v1/models", `{"name":"lead","kind":"lead","half_life":"720h",
		"rules":[{"event":"$page","where":"e.context.page.path.startsWith(\"/pricing\")","points":10},
		         {"event":"Demo Requested","points":30},
		         {"condition":"has(traits.title) && traits.title.contains(\"VP\")","points":15}],
		"stages":[{"name":"subscriber","threshold":0},{"name":"MQL","threshold":50},{"name":"SQL","threshold":100}]}`)
	if code != 201 || m["status"] != "trained" {
		t.Fatalf("lead model: %d %v", code, m)
	}
	page := func(id, path string) string {
		return fmt.Sprintf(`{"type":"page","userId":"lead-1","messageId":%q,"context":{"page":{"path":%q,"url":"https://example.com%s"}}}`, id, path, path)
	}
	// 10 + 10 + 15: 35, still a subscriber.
	send(`{"batch":[` + page("p1", "/pricing") + `,` + page("p2", "/pricing/enterprise") + `,` + page("p3", "/blog") + `,
		{"type":"identify","userId":"lead-1","traits":{"email":"vp@acme.example","title":"VP Sales"},"messageId":"i1"}]}`)
	score := func() map[string]any {
		code, p := api("GET", "/v1/profiles/user_id:lead-1?consistent=true", "")
		if code != 200 {
			t.Fatalf("profile: %d %v", code, p)
		}
		l, _ := p["predictions"].(map[string]any)["lead"].(map[string]any)
		return l
	}
	if l := score(); l["score"] != 35.0 || l["stage"] != "subscriber" {
		t.Errorf("after three pages and a title: %v, want 35 points, subscriber", l)
	}
	// A demo request: 65, an MQL, handed off.
	send(`{"batch":[{"type":"track","userId":"lead-1","event":"Demo Requested","messageId":"d1"}]}`)
	waitUntil(t, "the hand-off", func() bool { return len(hook.deliveries()) >= 1 })
	if l := score(); l["stage"] != "MQL" {
		t.Errorf("after the demo request: %v, want MQL", l)
	}
	// More pricing visits within the stage: no second hand-off.
	send(`{"batch":[` + page("p4", "/pricing") + `]}`)
	if l := score(); l["score"].(float64) < 74 || l["stage"] != "MQL" {
		t.Errorf("after another visit: %v", l)
	}
	time.Sleep(2 * time.Second) // what would arrive, has
	got := hook.deliveries()
	if len(got) != 1 {
		t.Fatalf("the CRM received %d stage changes, want 1: %v", len(got), got)
	}
	changed, _ := got[0]["changed"].(map[string]any)
	if changed["from"] != "subscriber" || changed["to"] != "MQL" || changed["model"] != "lead" {
		t.Errorf("hand-off = %v", got[0])
	}
	if p, _ := got[0]["profile"].(map[string]any); p == nil || !strings.HasPrefix(fmt.Sprint(p["id"]), "prf_") {
		t.Errorf("hand-off without the profile: %v", got[0])
	} else if lead, _ := p["predictions"].(map[string]any)["lead"].(map[string]any); lead["stage"] != "MQL" {
		t.Errorf("hand-off without the lead's scores: %v", p["predictions"])
	}
	// The CLI defines one from a file.
	file := filepath.Join(t.TempDir(), "lead.json")
	os.WriteFile(file, []byte(`{"kind":"lead","rules":[{"event":"Demo Requested","points":30}],"stages":[{"name":"subscriber","threshold":0},{"name":"MQL","threshold":50}]}`), 0o600)
	if code, out, stderr := runCLI(t, "predict", "create", "lead2", "--file", file, "--url", s.url, "--token", creds.AdminToken); code != 0 || !strings.Contains(out, "lead2") {
		t.Errorf("predict create --file: %d %s %s", code, out, stderr)
	}
	// The card counts leads per stage.
	id := m["id"].(string)
	api("POST", "/v1/models/"+id+"/train", "")
	m = awaitModel(t, api, id)
	if stages, _ := m["card"].(map[string]any)["stages"].(map[string]any); stages["MQL"] != 1.0 {
		t.Errorf("card = %v", m["card"])
	}
}
