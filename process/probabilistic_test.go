package process_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/process"
	"github.com/prometheus/client_golang/prometheus"
)

// TestProbabilisticMergeDecision: an identify call of the match source that joins two profiles
// is recorded as a probabilistic merge with its weight and fields; the same call from any
// other source is an ordinary merge, whatever it says in context.match.
func TestProbabilisticMergeDecision(t *testing.T) {
	store := openStore(t)
	if err := store.CreateWorkspace(t.Context(), &kenner.Workspace{ID: "ws", Name: "ws"}); err != nil {
		t.Fatal(err)
	}
	p := process.New(nil, store, process.DefaultConfig(), prometheus.NewRegistry(), discard)
	call := func(id, a, b string) []byte {
		return []byte(fmt.Sprintf(`{"type":"identify","messageId":%q,"anonymousId":%q,"traits":{},"timestamp":"2026-11-24T10:00:00.000Z","receivedAt":"2026-11-24T10:00:01.000Z",
			"context":{"externalIds":[{"id":%q,"type":"email"}],"match":{"how":"run mr_1","weight":21.5,"threshold":9.9,"fields":[{"field":"surname","level":"exact","contribution":8.2},{"field":"given_name","level":"close","contribution":5.1}]}}}`, id, a, b))
	}
	seq := uint64(0)
	apply := func(src string, events ...[]byte) {
		t.Helper()
		seq++
		if err := p.Apply(t.Context(), 0, []kenner.LogRecord{{Seq: seq, WorkspaceID: "ws", SourceID: src, Events: events}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, who := range []string{"a", "b", "c"} {
		apply("src", []byte(fmt.Sprintf(`{"type":"identify","messageId":"m-%s","anonymousId":"%s1","traits":{"email":"%s@example.com"},"timestamp":"2026-11-24T10:00:00.000Z","receivedAt":"2026-11-24T10:00:01.000Z"}`, who, who, who)))
	}
	apply(kenner.MatchSourceID, call("match-1", "a1", "b@example.com"))
	apply("src", call("fake-1", "a1", "c@example.com"))

	prof, err := store.Profile(t.Context(), "ws", kenner.Identifier{Kind: "anonymous_id", Value: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	ds, _, err := store.Decisions(t.Context(), "ws", prof.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("profile %s identities %+v; decisions: %+v", prof.ID, prof.Identities, ds)
	var prob, plain []kenner.Decision
	for _, d := range ds {
		switch {
		case d.Action == kenner.DecisionProbabilistic:
			prob = append(prob, d)
		case d.Action == kenner.DecisionMerge:
			plain = append(plain, d)
		}
	}
	if len(prob) != 1 || prob[0].MessageID != "match-1" || !strings.Contains(prob[0].Reason, "weight 21.5") ||
		!strings.Contains(prob[0].Reason, "surname exact +8.2") {
		t.Errorf("probabilistic decisions %+v, want one from match-1 with its weight and fields", prob)
	}
	if len(plain) != 1 || plain[0].MessageID != "fake-1" || strings.Contains(plain[0].Reason, "probabilistic") {
		t.Errorf("merge decisions %+v, want the other source's call as an ordinary merge", plain)
	}
}
