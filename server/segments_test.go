package server_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
)

// TestSegmentAPI: computed traits and segments through the API, built from history, kept up
// to date by new events, previewed, exported, and refused when invalid.
func TestSegmentAPI(t *testing.T) {
	st := newStack(t)
	tok := st.tokens[kenner.RoleMarketer]
	now := time.Now().UTC()
	at := func(d time.Duration) string { return now.Add(-d).Format(time.RFC3339) }
	st.track(t, `{"batch":[
		{"type":"identify","userId":"u1","traits":{"plan":"pro","email":"ada@example.com"},"timestamp":"`+at(72*time.Hour)+`"},
		{"type":"track","userId":"u1","event":"Order Completed","properties":{"total":40},"timestamp":"`+at(48*time.Hour)+`"},
		{"type":"track","userId":"u1","event":"Order Completed","properties":{"total":25.5},"timestamp":"`+at(2*time.Hour)+`"},
		{"type":"identify","userId":"u2","traits":{"plan":"free"},"timestamp":"`+at(time.Hour)+`"},
		{"type":"track","userId":"u2","event":"Order Completed","properties":{"total":9},"timestamp":"`+at(1000*time.Hour)+`"}]}`)
	if code, p := st.do(t, "GET", "/v1/profiles/user_id:u2?consistent=true", tok, ""); code != 200 {
		t.Fatalf("profile u2: %d %v", code, p)
	}

	code, ct := st.do(t, "POST", "/v1/computed-traits", tok, `{"name":"orders_30d","func":"count","event":"Order Completed","window":"30d"}`)
	if code != 201 || ct["window"] != "720h0m0s" {
		t.Fatalf("create computed trait: %d %v", code, ct)
	}
	if code, e := st.do(t, "POST", "/v1/computed-traits", tok, `{"name":"orders_30d","func":"count","event":"X"}`); code != 409 {
		t.Errorf("duplicate computed trait: %d %v", code, e)
	}
	if code, e := st.do(t, "PUT", "/v1/computed-traits/revenue", tok, `{"func":"sum","event":"Order Completed","property":"properties.total"}`); code != 201 {
		t.Errorf("put computed trait: %d %v", code, e)
	}
	code, e := st.do(t, "POST", "/v1/segments", tok, `{"name":"Repeat buyers","condition":"events.count(\"Order Completed\", duration(\"720h\")) >= 2 && traits.plan =="}`)
	if code != 400 || !strings.Contains(errMessage(e), "1:") {
		t.Errorf("invalid condition: %d %v, want 400 naming the position", code, e)
	}
	code, seg := st.do(t, "POST", "/v1/segments", tok, `{"name":"Repeat buyers","condition":"events.count(\"Order Completed\", duration(\"720h\")) >= 2 && traits.plan == \"pro\""}`)
	if code != 201 {
		t.Fatalf("create segment: %d %v", code, seg)
	}
	id := seg["id"].(string)
	waitFor(t, func() bool {
		_, s := st.do(t, "GET", "/v1/segments/"+id, tok, "")
		return s["state"] == "ready" && s["members"] == float64(1)
	})

	// The builder records counts as it sweeps (every second here; at once for a workspace it has
	// not counted yet).
	waitFor(t, func() bool {
		code, trend := st.do(t, "GET", "/v1/segments/"+id+"/trend?days=7", st.tokens[kenner.RoleViewer], "")
		days, _ := trend["days"].([]any)
		return code == 200 && len(days) == 1 && days[0].(map[string]any)["members"] == float64(1) &&
			days[0].(map[string]any)["day"] == time.Now().UTC().Format(time.DateOnly)
	})
	if code, _ := st.do(t, "GET", "/v1/segments/seg_nope/trend", tok, ""); code != 404 {
		t.Errorf("trend of no segment: %d", code)
	}
	if code, _ := st.do(t, "GET", "/v1/segments/"+id+"/trend?days=0", tok, ""); code != 400 {
		t.Errorf("trend of 0 days: %d", code)
	}
	code, p := st.do(t, "GET", "/v1/profiles/user_id:u1", tok, "")
	computed, _ := p["computed"].(map[string]any)
	if code != 200 || computed["orders_30d"] != float64(2) || computed["revenue"] != 65.5 || len(p["segments"].([]any)) != 1 {
		t.Errorf("profile u1: computed %v segments %v", p["computed"], p["segments"])
	}

	// A new order makes u2 a member... once u2 is on the pro plan.
	st.track(t, `{"batch":[
		{"type":"track","userId":"u2","event":"Order Completed","properties":{"total":5},"timestamp":"`+at(time.Minute)+`"},
		{"type":"track","userId":"u2","event":"Order Completed","properties":{"total":5},"timestamp":"`+at(time.Minute)+`"},
		{"type":"identify","userId":"u2","traits":{"plan":"pro"},"timestamp":"`+at(0)+`"}]}`)
	code, ps := st.do(t, "GET", "/v1/profiles/user_id:u2/segments?consistent=true", tok, "")
	if code != 200 || len(ps["segments"].([]any)) != 1 || len(ps["history"].([]any)) != 1 {
		t.Errorf("u2 segments: %d %v", code, ps)
	}

	code, ms := st.do(t, "GET", "/v1/segments/"+id+"/members?limit=1", tok, "")
	if code != 200 || len(ms["members"].([]any)) != 1 || ms["next"] == "" {
		t.Errorf("members page: %d %v", code, ms)
	}
	req, _ := http.NewRequest("GET", st.url+"/v1/segments/"+id+"/members?format=csv", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if resp.StatusCode != 200 || len(lines) != 3 || !strings.HasPrefix(lines[0], "profile_id,since,user_id,email") || !strings.Contains(string(body), "ada@example.com") {
		t.Errorf("CSV export: %d\n%s", resp.StatusCode, body)
	}
	if code, _ := st.do(t, "GET", "/v1/segments/"+id+"/members?format=csv", st.tokens[kenner.RoleAnalyst], ""); code != 403 {
		t.Errorf("CSV export as analyst: %d, want 403 (identifiers)", code)
	}

	code, pv := st.do(t, "POST", "/v1/segments/preview", tok, `{"condition":"computed.revenue > 20.0","sample":1}`)
	if code != 200 || pv["count"] != float64(1) || pv["evaluated"] != float64(2) || len(pv["sample"].([]any)) != 1 {
		t.Errorf("preview: %d %v", code, pv)
	}
	// The sample shows who the members are: their identifiers (masked per role).
	if ids, _ := pv["sample"].([]any)[0].(map[string]any)["identities"].([]any); len(ids) == 0 {
		t.Errorf("preview sample without identities: %v", pv["sample"])
	}
	// A condition that fails for some profiles says why.
	code, pv = st.do(t, "POST", "/v1/segments/preview", tok, `{"condition":"traits.vip == true"}`)
	if msgs, _ := pv["error_messages"].([]any); code != 200 || pv["errors"].(float64) == 0 || len(msgs) == 0 || !strings.Contains(fmt.Sprint(msgs[0]), "vip") {
		t.Errorf("preview errors without a reason: %d %v", code, pv)
	}
	// An event function no saved definition keeps yet is computed from the stored events.
	code, pv = st.do(t, "POST", "/v1/segments/preview", tok, `{"condition":"events.exists(\"Order Completed\", duration(\"2000h\"), e, e.properties.total < 10.0)"}`)
	if code != 200 || pv["count"] != float64(1) {
		t.Errorf("preview with a new event function: %d %v", code, pv)
	}
	if code, e := st.do(t, "POST", "/v1/segments/preview", tok, `{"condition":"traits.plan"}`); code != 400 {
		t.Errorf("preview of a non-bool: %d %v", code, e)
	}

	// A segment another names cannot go; neither can a computed trait a segment reads.
	code, vip := st.do(t, "POST", "/v1/segments", tok, `{"name":"VIP","condition":"segment(\"Repeat buyers\") && computed.revenue > 50.0"}`)
	if code != 201 {
		t.Fatalf("create VIP: %d %v", code, vip)
	}
	if code, e := st.do(t, "DELETE", "/v1/segments/"+id, tok, ""); code != 409 {
		t.Errorf("delete a named segment: %d %v", code, e)
	}
	if code, e := st.do(t, "DELETE", "/v1/computed-traits/revenue", tok, ""); code != 409 {
		t.Errorf("delete a computed trait in use: %d %v", code, e)
	}
	if code, e := st.do(t, "PUT", "/v1/segments/"+id, tok, `{"condition":"segment(\"VIP\")"}`); code != 400 || !strings.Contains(errMessage(e), "cycle") {
		t.Errorf("cycle: %d %v", code, e)
	}
	if code, _ := st.do(t, "DELETE", "/v1/segments/"+vip["id"].(string), tok, ""); code != 204 {
		t.Errorf("delete VIP: %d", code)
	}
	if code, _ := st.do(t, "POST", "/v1/segments", st.tokens[kenner.RoleAnalyst], `{"name":"x","condition":"true"}`); code != 403 {
		t.Errorf("analyst creating a segment: %d, want 403", code)
	}
	if code, l := st.do(t, "GET", "/v1/segments", st.tokens[kenner.RoleViewer], ""); code != 200 || len(l["segments"].([]any)) != 1 {
		t.Errorf("list segments as viewer: %d %v", code, l)
	}
}

func errMessage(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
