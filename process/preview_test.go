package process_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/process"
	"github.com/prometheus/client_golang/prometheus"
)

// Preview runs pages of profiles on several workers: its count must be that of every
// profile, its sample the first members in profile order, and max must bound it, across
// page boundaries.
func TestPreviewPages(t *testing.T) {
	store := openStore(t)
	if err := store.CreateWorkspace(t.Context(), &kenner.Workspace{ID: "ws", Name: "ws"}); err != nil {
		t.Fatal(err)
	}
	proc := process.New(nil, store, process.DefaultConfig(), prometheus.NewRegistry(), discard)
	const people = 2500
	var rec kenner.LogRecord
	for i := range people {
		rec.Events = append(rec.Events, []byte(fmt.Sprintf(`{"type":"identify","messageId":"m%d","userId":"u%d","traits":{"n":%d},"timestamp":"2026-11-24T10:00:00.000Z","receivedAt":"2026-11-24T10:00:01.000Z"}`, i, i, i)))
	}
	rec.Seq, rec.WorkspaceID, rec.SourceID = 1, "ws", "src"
	if err := proc.Apply(t.Context(), 0, []kenner.LogRecord{rec}); err != nil {
		t.Fatal(err)
	}
	ids, err := store.ProfileIDs(t.Context(), "ws", "", people+1)
	if err != nil || len(ids) != people {
		t.Fatalf("ProfileIDs: %d, %v", len(ids), err)
	}
	profiles, err := store.Profiles(t.Context(), "ws", ids)
	if err != nil {
		t.Fatal(err)
	}
	even := func(limit, sample int) (count int64, first []string) {
		for i, id := range ids {
			if limit > 0 && i >= limit {
				break
			}
			var n int
			if err := json.Unmarshal(profiles[id].Traits["n"].Value, &n); err != nil {
				t.Fatal(err)
			}
			if n%2 == 0 {
				count++
				if len(first) < sample {
					first = append(first, id)
				}
			}
		}
		return count, first
	}
	tests := []struct {
		name        string
		max, sample int
	}{
		{"all", 0, 7},
		{"bounded mid-page", 1500, 3},
		{"one page", 1000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := proc.Preview(t.Context(), "ws", kenner.Segment{Condition: `int(traits.n) % 2 == 0`}, tt.max, tt.sample)
			if err != nil {
				t.Fatal(err)
			}
			wantCount, wantSample := even(tt.max, tt.sample)
			wantEvaluated := int64(people)
			if tt.max > 0 {
				wantEvaluated = int64(tt.max)
			}
			var sample []string
			for _, p := range got.Sample {
				sample = append(sample, p.ID)
			}
			if got.Count != wantCount || got.Evaluated != wantEvaluated || fmt.Sprint(sample) != fmt.Sprint(wantSample) {
				t.Errorf("Preview = count %d of %d, sample %v; want %d of %d, %v", got.Count, got.Evaluated, sample, wantCount, wantEvaluated, wantSample)
			}
		})
	}
	// A condition over identities reads each profile's identifiers on every worker.
	t.Run("identities", func(t *testing.T) {
		got, err := proc.Preview(t.Context(), "ws", kenner.Segment{Condition: `identities.user_id.exists(u, u.endsWith("7"))`}, 0, 2)
		if err != nil {
			t.Fatal(err)
		}
		if got.Count != people/10 || got.Evaluated != people || len(got.Sample) != 2 || len(got.Sample[0].Traits) == 0 {
			t.Errorf("Preview over identities = count %d of %d, sample %v; want %d of %d, two whole profiles", got.Count, got.Evaluated, got.Sample, people/10, people)
		}
	})
	t.Run("invalid condition", func(t *testing.T) {
		_, err := proc.Preview(t.Context(), "ws", kenner.Segment{Condition: `traits.n +`}, 0, 0)
		if kenner.ErrorCode(err) != kenner.EInvalid {
			t.Errorf("err = %v, want invalid", err)
		}
	})
}
