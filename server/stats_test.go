package server_test

import (
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
)

// TestStats: the overview's figures: profiles and identified profiles as the builder counts
// them, and whether processing has caught up with the log.
func TestStats(t *testing.T) {
	st := newStack(t)
	viewer := st.tokens[kenner.RoleViewer]
	now := time.Now().UTC().Format(time.RFC3339)
	st.track(t, `{"batch":[
		{"type":"identify","userId":"u1","anonymousId":"a1","traits":{"plan":"pro"},"timestamp":"`+now+`"},
		{"type":"page","anonymousId":"a2","name":"Home","timestamp":"`+now+`"},
		{"type":"page","anonymousId":"a3","name":"Home","timestamp":"`+now+`"}]}`)
	// The builder counts at start (before these events) and again a hundred times the count's
	// duration later, at least a second here: on a loaded machine a count of this small store
	// can take a tenth of a second, so the wait is long.
	var stats map[string]any
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var code int
		code, stats = st.do(t, "GET", "/v1/stats", viewer, "")
		p, _ := stats["profiles"].(map[string]any)
		i, _ := stats["identified"].(map[string]any)
		if code == 200 && p != nil && p["count"] == float64(3) && i != nil && i["count"] == float64(1) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never counted the 3 profiles: %d %v", code, stats)
		}
	}
	if day := stats["profiles"].(map[string]any)["day"]; day != time.Now().UTC().Format(time.DateOnly) {
		t.Errorf("profiles counted on %v, want today", day)
	}
	proc := stats["processing"].(map[string]any)
	parts, _ := proc["partitions"].([]any)
	if len(parts) == 0 || proc["behind"] != false || proc["lag_seconds"] != float64(0) {
		t.Errorf("processing after the events were counted: %v", proc)
	}
	if d := stats["destinations"].(map[string]any); d["count"] != float64(0) || d["pending"] != float64(0) {
		t.Errorf("destinations: %v", d)
	}
	// Segment members as last recorded: a new segment's count is recorded once it is built.
	if code, seg := st.do(t, "POST", "/v1/segments", st.tokens[kenner.RoleMarketer], `{"name":"Pro","condition":"has(traits.plan) && traits.plan == \"pro\""}`); code != 201 {
		t.Fatalf("create segment: %d %v", code, seg)
	}
	waitFor(t, func() bool {
		_, stats = st.do(t, "GET", "/v1/stats", viewer, "")
		segs, _ := stats["segments"].(map[string]any)
		return segs != nil && segs["count"] == float64(1) && segs["members"] == float64(1)
	})
	if code, _ := st.do(t, "GET", "/v1/stats", "", ""); code != 401 {
		t.Errorf("stats without a token: %d, want 401", code)
	}
}
