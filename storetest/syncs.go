package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
)

// testSyncs: syncs are saved and listed by name, names are unique per workspace, the due list
// holds unpaused syncs whose time has come, one run at a time per sync (unless the running one
// went silent), the state is the runs' alone, items page in key order, and deleting a sync
// deletes its runs and items; all of it survives ResetDerived.
func testSyncs(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws_y")
	mustWorkspace(t, s, "ws_z")
	now := time.Now().UTC().Truncate(time.Millisecond)
	past, later := now.Add(-time.Minute), now.Add(time.Hour)
	a := &kenner.Sync{ID: "syn_a", WorkspaceID: "ws_y", Name: "crm", Kind: kenner.SyncDatabase, SourceID: "src_1", Type: "identify",
		Schedule: "every 5m", Config: json.RawMessage(`{"table":"customers","cursor":"updated_at"}`), OnDelete: kenner.DeleteMark,
		NextRunAt: &past, State: json.RawMessage(`{"value":"1"}`), CreatedAt: now, UpdatedAt: now}
	b := &kenner.Sync{ID: "syn_b", WorkspaceID: "ws_y", Name: "bucket", Kind: kenner.SyncS3, SourceID: "src_1", Config: json.RawMessage(`{"bucket":"drop"}`),
		NextRunAt: &later, CreatedAt: now, UpdatedAt: now}
	c := &kenner.Sync{ID: "syn_c", WorkspaceID: "ws_y", Name: "paused", Kind: kenner.SyncS3, Paused: true, NextRunAt: &past, Config: json.RawMessage(`{}`)}
	for _, sy := range []*kenner.Sync{a, b, c} {
		if err := s.SaveSync(ctx(t), sy); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, "a name twice", s.SaveSync(ctx(t), &kenner.Sync{ID: "syn_d", WorkspaceID: "ws_y", Name: "crm", Kind: kenner.SyncS3, Config: json.RawMessage(`{}`)}), kenner.EConflict)
	if err := s.SaveSync(ctx(t), &kenner.Sync{ID: "syn_e", WorkspaceID: "ws_z", Name: "crm", Kind: kenner.SyncS3, Config: json.RawMessage(`{}`)}); err != nil {
		t.Errorf("the same name in another workspace: %v", err)
	}
	if err := s.ResetDerived(ctx(t)); err != nil {
		t.Fatal(err)
	}
	list, err := s.Syncs(ctx(t), "ws_y")
	if err != nil || len(list) != 3 || list[0].Name != "bucket" || list[1].Name != "crm" || list[1].OnDelete != kenner.DeleteMark ||
		string(list[1].State) != `{"value":"1"}` || !list[1].NextRunAt.Equal(past) || !list[2].Paused {
		t.Fatalf("syncs %+v %v", list, err)
	}
	due, err := s.SyncsDue(ctx(t), now)
	if err != nil || len(due) != 1 || due[0].ID != "syn_a" || due[0].WorkspaceID != "ws_y" {
		t.Fatalf("due %+v %v", due, err)
	}
	wantCode(t, "another workspace's sync", func() error { _, err := s.Sync(ctx(t), "ws_z", "syn_a"); return err }(), kenner.ENotFound)

	// Saving settings keeps the state; the runs move it.
	a.State = nil
	a.Schedule = "@hourly"
	if err := s.SaveSync(ctx(t), a); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSyncState(ctx(t), "ws_y", "syn_a", json.RawMessage(`{"value":"2"}`)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Sync(ctx(t), "ws_y", "syn_a")
	if err != nil || got.Schedule != "@hourly" || string(got.State) != `{"value":"2"}` {
		t.Fatalf("sync %+v %v", got, err)
	}

	run := &kenner.SyncRun{ID: "run_1", SyncID: "syn_a", WorkspaceID: "ws_y", Trigger: "schedule", Status: kenner.SyncRunning, StartedAt: now, UpdatedAt: now}
	if err := s.StartSyncRun(ctx(t), run, &later, now.Add(-kenner.SyncRunStaleAfter)); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.SyncsDue(ctx(t), now); len(due) != 0 {
		t.Errorf("starting a run moves the next run: %+v", due)
	}
	second := &kenner.SyncRun{ID: "run_2", SyncID: "syn_a", WorkspaceID: "ws_y", Trigger: "manual", Status: kenner.SyncRunning, StartedAt: now.Add(time.Second), UpdatedAt: now.Add(time.Second)}
	wantCode(t, "a second run while one runs", s.StartSyncRun(ctx(t), second, nil, now.Add(-kenner.SyncRunStaleAfter)), kenner.EConflict)
	wantCode(t, "a run of no sync", s.StartSyncRun(ctx(t), &kenner.SyncRun{ID: "run_x", SyncID: "nope", WorkspaceID: "ws_y", Status: kenner.SyncRunning}, nil, now), kenner.ENotFound)
	// A run that went silent does not hold the sync.
	if err := s.StartSyncRun(ctx(t), second, nil, now.Add(time.Millisecond)); err != nil {
		t.Fatalf("a run after a silent one: %v", err)
	}
	fin := now.Add(2 * time.Second)
	second.Status, second.Rows, second.Files, second.UpdatedAt, second.FinishedAt = kenner.SyncDone, 12, []string{"a.csv"}, fin, &fin
	if err := s.SaveSyncRun(ctx(t), second); err != nil {
		t.Fatal(err)
	}
	runs, err := s.SyncRuns(ctx(t), "ws_y", "syn_a", 10)
	if err != nil || len(runs) != 2 || runs[0].ID != "run_2" || runs[0].Rows != 12 || runs[0].Files[0] != "a.csv" || runs[0].Status != kenner.SyncDone || runs[1].Status != kenner.SyncRunning {
		t.Fatalf("runs %+v %v", runs, err)
	}

	var items []kenner.SyncItem
	for i := range 7 {
		items = append(items, kenner.SyncItem{Key: fmt.Sprintf("k%02d", i), Ref: kenner.Identifier{Kind: kenner.KindEmail, Value: fmt.Sprintf("p%d@example.com", i)}})
	}
	items = append(items, kenner.SyncItem{Key: "k03", Ref: kenner.Identifier{Kind: kenner.KindUserID, Value: "u3"}})
	if err := s.PutSyncItems(ctx(t), "ws_y", "syn_a", items); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for after := ""; ; {
		page, err := s.SyncItems(ctx(t), "ws_y", "syn_a", after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, it := range page {
			keys = append(keys, it.Key)
			if it.Key == "k03" && it.Ref.Value != "u3" {
				t.Errorf("a key put again keeps the last ref: %+v", it)
			}
			if it.Key == "k01" && it.Ref.Value != "p1@example.com" {
				t.Errorf("item %+v", it)
			}
		}
		after = page[len(page)-1].Key
	}
	if fmt.Sprint(keys) != "[k00 k01 k02 k03 k04 k05 k06]" {
		t.Errorf("items in key order: %v", keys)
	}
	if err := s.DeleteSyncItems(ctx(t), "ws_y", "syn_a", []string{"k00", "k06", "nope"}); err != nil {
		t.Fatal(err)
	}
	if page, _ := s.SyncItems(ctx(t), "ws_y", "syn_a", "", 100); len(page) != 5 {
		t.Errorf("after deleting two: %+v", page)
	}
	if page, _ := s.SyncItems(ctx(t), "ws_z", "syn_a", "", 100); len(page) != 0 {
		t.Errorf("another workspace sees %+v", page)
	}

	if err := s.DeleteSync(ctx(t), "ws_y", "syn_a"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "deleting twice", s.DeleteSync(ctx(t), "ws_y", "syn_a"), kenner.ENotFound)
	if runs, _ := s.SyncRuns(ctx(t), "ws_y", "syn_a", 10); len(runs) != 0 {
		t.Errorf("runs left %+v", runs)
	}
	if page, _ := s.SyncItems(ctx(t), "ws_y", "syn_a", "", 100); len(page) != 0 {
		t.Errorf("items left %+v", page)
	}
}
