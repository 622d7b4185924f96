package identity

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWorkingSetChanges resolves a batch against profiles loaded from a store and checks the
// changes it hands back for writing.
func TestWorkingSetChanges(t *testing.T) {
	rules := DefaultRules()
	view := View{
		Owners: map[Identifier]string{id(AnonymousID, "old-device"): "stored", id(UserID, "u9"): "other"},
		Profiles: map[string]Profile{
			"stored": {ID: "stored", Identifiers: []Identifier{id(AnonymousID, "old-device")}, Rank: 5},
			"other":  {ID: "other", Identifiers: []Identifier{id(UserID, "u9")}, Rank: 7},
		},
	}
	w := NewWorkingSet(rules, view, func(rank int64) string { return "new-" + string(rune('a'+rank-100)) })
	resolve := func(msg string, rank int64, raw ...Identifier) string {
		ids, drops := Prepare(rules, Normalizer{}, raw)
		p, _ := w.Resolve(msg, rank, ids, drops)
		return p
	}
	// A new device, then its login joins it to the stored profile, which is older and survives.
	if got := resolve("m1", 100, id(AnonymousID, "new-device")); got != "new-a" {
		t.Fatalf("first event went to %q", got)
	}
	if got := resolve("m2", 101, id(UserID, "u1"), id(AnonymousID, "new-device"), id(AnonymousID, "old-device"), id(Email, "A@x.com")); got != "stored" {
		t.Fatalf("joining event went to %q", got)
	}
	// u9's profile keeps its user_id; a second user_id on it is refused.
	if got := resolve("m3", 102, id(UserID, "u9"), id(UserID, "null"), id(AnonymousID, "old-device")); got != "other" {
		t.Fatalf("third event went to %q", got)
	}
	got := w.Changes()
	want := Changes{
		Created: []Profile{{ID: "new-a", Rank: 100}},
		Merges:  []MergeRecord{{Into: "stored", From: "new-a", Via: id(AnonymousID, "new-device"), MessageID: "m2", Rank: 101}},
		Owners: map[Identifier]string{
			id(UserID, "u1"):              "stored",
			id(AnonymousID, "new-device"): "stored",
			id(Email, "a@x.com"):          "stored",
		},
		Drops: []DropRecord{
			{Profile: "other", MessageID: "m3", Drop: Drop{Identifier: id(UserID, "null"), Reason: "blocked value"}},
			{Profile: "other", MessageID: "m3", Drop: Drop{Identifier: id(AnonymousID, "old-device"), Reason: "using it would put 2 user_id identifiers on one profile (limit 1)", Rule: true}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	stored := w.Profiles()["stored"]
	if len(stored.Identifiers) != 4 {
		t.Errorf("stored profile now holds %v", stored.Identifiers)
	}
}
