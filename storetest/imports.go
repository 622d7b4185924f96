package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kenner-cdp/kenner"
)

func testImports(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws")
	wantCode(t, "unknown import", func() error { _, err := s.Import(ctx(t), "ws", "imp_none"); return err }(), kenner.ENotFound)
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 5 {
		im := &kenner.Import{ID: fmt.Sprintf("imp_%d", i), WorkspaceID: "ws", SourceID: "src", Type: "identify",
			Status: kenner.ImportRunning, Rejects: []kenner.ImportIssue{}, StartedAt: start.Add(time.Duration(i) * time.Minute)}
		if err := s.SaveImport(ctx(t), im); err != nil {
			t.Fatal(err)
		}
	}
	done := &kenner.Import{ID: "imp_1", WorkspaceID: "ws", SourceID: "src", Type: "identify", Status: kenner.ImportDone,
		Rows: 3, Imported: 1, Duplicates: 1, Rejected: 1, Rejects: []kenner.ImportIssue{{Line: 3, Reason: "no identifier"}},
		StartedAt: start.Add(time.Minute)}
	if err := s.SaveImport(ctx(t), done); err != nil {
		t.Fatal(err)
	}
	got, err := s.Import(ctx(t), "ws", "imp_1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(done, got); diff != "" {
		t.Errorf("Import (-want +got):\n%s", diff)
	}
	wantCode(t, "other workspace", func() error { _, err := s.Import(ctx(t), "ws2", "imp_1"); return err }(), kenner.ENotFound)

	// Newest first, two pages; an update keeps an import's place.
	var ids []string
	after := ""
	for page := 0; ; page++ {
		list, next, err := s.Imports(ctx(t), "ws", after, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range list {
			ids = append(ids, im.ID)
		}
		if next == "" {
			break
		}
		after = next
		if page > 3 {
			t.Fatal("paging does not end")
		}
	}
	if diff := cmp.Diff([]string{"imp_4", "imp_3", "imp_2", "imp_1", "imp_0"}, ids); diff != "" {
		t.Errorf("Imports (-want +got):\n%s", diff)
	}
}

func testImportKeys(t *testing.T, s kenner.Store) {
	mustWorkspace(t, s, "ws")
	key := func(i int) []byte { return []byte(fmt.Sprintf("key-%011d", i)) } // 16 bytes
	var first [][]byte
	for i := range 7000 { // more than one statement's worth
		first = append(first, key(i))
	}
	if err := s.AddImportKeys(ctx(t), "ws", first); err != nil {
		t.Fatal(err)
	}
	if err := s.AddImportKeys(ctx(t), "ws", first[:10]); err != nil {
		t.Fatalf("adding known keys again: %v", err)
	}
	probe := [][]byte{key(0), key(6999), key(7000), key(3), key(3), key(-1)}
	seen, err := s.ImportKeysSeen(ctx(t), "ws", probe)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]bool{true, true, false, true, true, false}, seen); diff != "" {
		t.Errorf("ImportKeysSeen (-want +got):\n%s", diff)
	}
	other, err := s.ImportKeysSeen(ctx(t), "ws2", probe[:1])
	if err != nil {
		t.Fatal(err)
	}
	if other[0] {
		t.Error("a key of one workspace is seen in another")
	}
}
