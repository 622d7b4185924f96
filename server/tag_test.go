package server_test

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kenner-cdp/kenner"
)

// get calls a public (write key) endpoint and decodes its JSON answer.
func (s *stack) get(t *testing.T, path string) (int, http.Header, map[string]any) {
	t.Helper()
	resp, err := http.Get(s.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &out)
	return resp.StatusCode, resp.Header, out
}

// TestPersonalizationAPI: slots are checked against the workspace's segments when saved;
// the decision API answers a segment member with the variant, another known visitor and an
// unknown one with the default, fills placeholders without personal data unless the slot is
// personal, and keeps a stable control group.
func TestPersonalizationAPI(t *testing.T) {
	st := newStack(t)
	tok := st.tokens[kenner.RoleMarketer]
	st.track(t, `{"batch":[
		{"type":"identify","userId":"vip-1","anonymousId":"anon-vip","traits":{"plan":"vip","firstName":"Ada","city":"Delft"}},
		{"type":"identify","userId":"free-1","anonymousId":"anon-free","traits":{"plan":"free","firstName":"Bob"}}]}`)
	code, seg := st.do(t, "POST", "/v1/segments", tok, `{"name":"VIP","condition":"traits.plan == \"vip\""}`)
	if code != 201 {
		t.Fatalf("segment: %d %v", code, seg)
	}
	segID := seg["id"].(string)
	waitFor(t, func() bool {
		_, s := st.do(t, "GET", "/v1/segments/"+segID, tok, "")
		return s["state"] == "ready" && s["members"] == float64(1)
	})
	// The two people may be in different partitions of the log: the VIP's being processed says
	// nothing of the other's.
	waitFor(t, func() bool {
		code, _ := st.do(t, "GET", "/v1/profiles/user_id:free-1", tok, "")
		return code == 200
	})

	for _, bad := range []string{
		`{"name":"hero","variants":[{"name":"v","condition":"segment(\"Nobody\")","content":{}}]}`,
		`{"name":"hero","variants":[{"name":"v","condition":"traits.plan ==","content":{}}]}`,
		`{"name":"","variants":[]}`,
		`{"name":"hero","holdout":0.9,"variants":[]}`,
		`{"name":"hero","variants":[{"name":"default","condition":"true"}]}`,
	} {
		if code, e := st.do(t, "POST", "/v1/slots", tok, bad); code != 400 {
			t.Errorf("%s: %d %v, want 400", bad, code, e)
		}
	}
	if code, e := st.do(t, "POST", "/v1/slots", st.tokens[kenner.RoleAnalyst], `{"name":"x","variants":[]}`); code != 403 {
		t.Errorf("analyst creates a slot: %d %v", code, e)
	}
	code, slot := st.do(t, "POST", "/v1/slots", tok, `{"name":"hero",
		"default":{"html":"<h1>Welcome {{ traits.firstName | friend }}</h1>"},
		"variants":[{"name":"vip","condition":"segment(\"VIP\")","content":{"html":"<h1>Welcome back {{ traits.firstName | friend }}, from {{ traits.city }}</h1>"}}]}`)
	if code != 201 {
		t.Fatalf("create slot: %d %v", code, slot)
	}
	slotID := slot["id"].(string)
	if code, list := st.do(t, "GET", "/v1/slots", st.tokens[kenner.RoleViewer], ""); code != 200 || len(list["slots"].([]any)) != 1 {
		t.Errorf("list: %d %v", code, list)
	}

	decide := func(q string) map[string]any {
		t.Helper()
		code, _, ans := st.get(t, "/v1/personalize?writeKey="+st.writeKey+"&"+q)
		if code != 200 {
			t.Fatalf("personalize %s: %d %v", q, code, ans)
		}
		return ans["decisions"].(map[string]any)["hero"].(map[string]any)
	}
	// firstName is personal data: without "personal" the fallback fills it; city is not.
	if d := decide("anonymousId=anon-vip"); d["variant"] != "vip" || d["control"] != false ||
		d["content"].(map[string]any)["html"] != "<h1>Welcome back friend, from Delft</h1>" {
		t.Errorf("vip by anonymous id: %v", d)
	}
	if d := decide("userId=free-1"); d["variant"] != "default" || d["content"].(map[string]any)["html"] != "<h1>Welcome friend</h1>" {
		t.Errorf("free by user id: %v", d)
	}
	if d := decide("anonymousId=never-seen"); d["variant"] != "default" {
		t.Errorf("unknown: %v", d)
	}
	_, _, ans := st.get(t, "/v1/personalize?writeKey="+st.writeKey+"&userId=vip-1")
	if segs, _ := ans["segments"].([]any); len(segs) != 1 || segs[0] != segID {
		t.Errorf("segments %v, want [%s]", ans["segments"], segID)
	}

	// Personal: the slot may name the person; their values are HTML-escaped inside html.
	code, _ = st.do(t, "PUT", "/v1/slots/"+slotID, tok, `{"name":"hero","personal":true,"holdout":0.5,
		"default":{"html":"hi"},
		"variants":[{"name":"vip","condition":"segment(\"VIP\")","content":{"html":"<b>{{ traits.firstName }}</b>","text":"{{traits.firstName}}"}}]}`)
	if code != 200 {
		t.Fatalf("update slot: %d", code)
	}
	st.track(t, `{"batch":[{"type":"identify","userId":"vip-1","traits":{"firstName":"<i>Ada</i>"}}]}`)
	waitFor(t, func() bool {
		_, p := st.do(t, "GET", "/v1/profiles/user_id:vip-1", tok, "")
		traits, _ := p["traits"].(map[string]any)
		return traits["firstName"] == "<i>Ada</i>"
	})
	d := decide("userId=vip-1")
	if d["control"] == true {
		if d["variant"] != "vip" || d["content"].(map[string]any)["html"] != "hi" {
			t.Errorf("control: %v, want the default content with the variant it stands for", d)
		}
	} else if c := d["content"].(map[string]any); c["html"] != "<b>&lt;i&gt;Ada&lt;/i&gt;</b>" || c["text"] != "<i>Ada</i>" {
		t.Errorf("personal content: %v", c)
	}
	for range 5 { // the control group is stable per person
		if again := decide("userId=vip-1"); again["control"] != d["control"] {
			t.Fatalf("control flipped: %v then %v", d, again)
		}
	}

	for _, c := range []struct {
		path string
		want int
	}{
		{"/v1/personalize?writeKey=nope&anonymousId=a", 401},
		{"/v1/personalize?writeKey=" + st.writeKey, 400},
		{"/analytics.js/v1/nope/analytics.min.js", 404},
		{"/v1/projects/nope/settings", 404},
	} {
		if code, _, e := st.get(t, c.path); code != c.want || e["error"] == nil {
			t.Errorf("%s: %d %v, want %d with an error", c.path, code, e, c.want)
		}
	}
	if code, e := st.do(t, "DELETE", "/v1/slots/"+slotID, tok, ""); code != 204 {
		t.Errorf("delete: %d %v", code, e)
	}
	code, _, ans = st.get(t, "/v1/personalize?writeKey="+st.writeKey+"&anonymousId=anon-vip")
	if code != 200 || len(ans["decisions"].(map[string]any)) != 0 {
		t.Errorf("after delete: %d %v", code, ans)
	}
}

// TestTagEndpoints: the tag is served with the source's settings, compressed, cacheable, and
// under its size budget; the settings document points analytics-next at this Kenner; tag
// settings are checked.
func TestTagEndpoints(t *testing.T) {
	st := newStack(t)
	admin := st.tokens[kenner.RoleAdmin]
	for _, bad := range []string{`{"consent":"maybe"}`, `{"tags":[{"name":"x","src":"http://ads.example/x.js","purpose":"marketing"}]}`,
		`{"tags":[{"name":"x","src":"https://ads.example/x.js"}]}`, `{"clicks":"yes"}`} {
		if code, e := st.do(t, "PUT", "/v1/sources/web/tag", admin, bad); code != 400 {
			t.Errorf("%s: %d %v", bad, code, e)
		}
	}
	code, set := st.do(t, "PUT", "/v1/sources/web/tag", admin, `{"consent":"required","clicks":true,"tags":[{"name":"Ads","src":"https://ads.example/x.js","purpose":"marketing"}]}`)
	if code != 200 || set["consent"] != "required" {
		t.Fatalf("put tag settings: %d %v", code, set)
	}
	if code, got := st.do(t, "GET", "/v1/sources/web/tag", admin, ""); code != 200 || got["clicks"] != true || got["page_views"] != false {
		t.Errorf("get tag settings: %d %v", code, got)
	}

	req, _ := http.NewRequest("GET", st.url+"/analytics.js/v1/"+st.writeKey+"/analytics.min.js", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	gz, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("script: %d %v", resp.StatusCode, resp.Header)
	}
	if len(gz) > 15<<10 {
		t.Errorf("the tag is %d bytes gzipped, over the 15 KB budget", len(gz))
	}
	zr, _ := gzip.NewReader(strings.NewReader(string(gz)))
	js, _ := io.ReadAll(zr)
	for _, want := range []string{`"writeKey":"` + st.writeKey + `"`, `"consent":"required"`, `"clicks":true`, `https://ads.example/x.js`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("the served tag lacks %s", want)
		}
	}
	if strings.Contains(string(js), "/*@config*/") {
		t.Error("the configuration was not put in")
	}
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	if resp, err := http.DefaultTransport.RoundTrip(req); err != nil || resp.StatusCode != 304 {
		t.Errorf("revalidation: %v %v", resp.StatusCode, err)
	}

	code, h, doc := st.get(t, "/v1/projects/"+st.writeKey+"/settings")
	seg, _ := doc["integrations"].(map[string]any)["Segment.io"].(map[string]any)
	if code != 200 || h.Get("Access-Control-Allow-Origin") != "*" || seg["apiKey"] != st.writeKey ||
		seg["apiHost"] != strings.TrimPrefix(st.url, "http://")+"/v1" || seg["protocol"] != "http" {
		t.Errorf("settings: %d %v", code, doc)
	}
	if m := doc["metrics"].(map[string]any); m["sampleRate"] != float64(0) {
		t.Errorf("metrics %v: analytics-next would report to Segment", m)
	}
}
