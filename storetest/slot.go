package storetest

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kenner-cdp/kenner"
)

// testSlots: a slot's definition comes back as stored, names are unique per workspace, and
// updates and deletes of what is not there are ENotFound.
func testSlots(t *testing.T, s kenner.Store) {
	for _, ws := range []string{"ws_s", "ws_t"} {
		if err := s.CreateWorkspace(ctx(t), &kenner.Workspace{ID: ws, Name: ws}); err != nil && kenner.ErrorCode(err) != kenner.EConflict {
			t.Fatal(err)
		}
	}
	hero := &kenner.Slot{WorkspaceID: "ws_s", Name: "hero", Holdout: 0.1, Personal: true,
		Default: json.RawMessage(`{"html":"<h1>Welcome</h1>"}`),
		Variants: []kenner.Variant{{Name: "vip", Condition: `segment("VIP")`, Content: json.RawMessage(`{"html":"<h1>Hi {{ traits.firstName }}</h1>"}`), Priority: 2},
			{Name: "pro", Condition: `traits.plan == "pro"`, Content: json.RawMessage(`"plain"`)}}}
	if err := s.CreateSlot(ctx(t), hero); err != nil {
		t.Fatal(err)
	}
	if hero.ID == "" || hero.CreatedAt.IsZero() {
		t.Fatalf("created %+v", hero)
	}
	if err := s.CreateSlot(ctx(t), &kenner.Slot{WorkspaceID: "ws_s", Name: "hero"}); kenner.ErrorCode(err) != kenner.EConflict {
		t.Errorf("same name twice: %v, want conflict", err)
	}
	if err := s.CreateSlot(ctx(t), &kenner.Slot{WorkspaceID: "ws_t", Name: "hero"}); err != nil {
		t.Errorf("same name in another workspace: %v", err)
	}
	got, err := s.Slot(ctx(t), "ws_s", hero.ID)
	if err != nil {
		t.Fatal(err)
	}
	opt := cmp.Transformer("json", func(r json.RawMessage) string {
		var v any
		json.Unmarshal(r, &v)
		b, _ := json.Marshal(v)
		return string(b)
	})
	if d := cmp.Diff(got, hero, opt, cmp.Comparer(func(a, b interface{ Unix() int64 }) bool { return a.Unix() == b.Unix() })); d != "" {
		t.Errorf("slot read back (-got +want):\n%s", d)
	}
	other := &kenner.Slot{WorkspaceID: "ws_s", Name: "banner"}
	if err := s.CreateSlot(ctx(t), other); err != nil {
		t.Fatal(err)
	}
	other.Name = "hero"
	if err := s.UpdateSlot(ctx(t), other); kenner.ErrorCode(err) != kenner.EConflict {
		t.Errorf("renaming onto a taken name: %v, want conflict", err)
	}
	other.Name, other.Holdout = "footer", 0.2
	if err := s.UpdateSlot(ctx(t), other); err != nil {
		t.Fatal(err)
	}
	list, err := s.Slots(ctx(t), "ws_s")
	if err != nil || len(list) != 2 || list[0].Name != "footer" || list[0].Holdout != 0.2 || list[0].Variants == nil || list[1].Name != "hero" {
		t.Fatalf("list %+v %v", list, err)
	}
	if _, err := s.Slot(ctx(t), "ws_t", hero.ID); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("another workspace's slot: %v, want not found", err)
	}
	if err := s.DeleteSlot(ctx(t), "ws_s", hero.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSlot(ctx(t), "ws_s", hero.ID); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("deleting twice: %v", err)
	}
	if err := s.UpdateSlot(ctx(t), hero); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("updating a deleted slot: %v", err)
	}
}
