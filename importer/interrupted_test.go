package importer_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/importer"
	"github.com/kenner-cdp/kenner/sqlite"
)

// TestFailInterrupted: an import whose process died stays "running" in its record; the next
// start marks it failed with how far it got, and leaves live and finished imports alone.
func TestFailInterrupted(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, im := range []*kenner.Import{
		{ID: "imp_dead", Status: kenner.ImportRunning, Rows: 4200, StartedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-30 * time.Minute)},
		{ID: "imp_live", Status: kenner.ImportRunning, Rows: 10, StartedAt: now.Add(-time.Minute), UpdatedAt: now.Add(-2 * time.Second)},
		{ID: "imp_done", Status: kenner.ImportDone, Rows: 5, StartedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Hour)},
	} {
		im.WorkspaceID, im.SourceID, im.Type, im.Rejects = "ws", "src", "identify", []kenner.ImportIssue{}
		if err := store.SaveImport(t.Context(), im); err != nil {
			t.Fatal(err)
		}
	}
	n, err := importer.FailInterrupted(t.Context(), store, "ws", now)
	if err != nil || n != 1 {
		t.Fatalf("marked %d, %v; want 1", n, err)
	}
	for id, want := range map[string]string{"imp_dead": kenner.ImportFailed, "imp_live": kenner.ImportRunning, "imp_done": kenner.ImportDone} {
		im, err := store.Import(t.Context(), "ws", id)
		if err != nil {
			t.Fatal(err)
		}
		if im.Status != want {
			t.Errorf("%s: %s, want %s", id, im.Status, want)
		}
		if id == "imp_dead" && (!strings.Contains(im.Error, "4200 rows") || im.FinishedAt == nil) {
			t.Errorf("%s: error %q, finished %v", id, im.Error, im.FinishedAt)
		}
	}
}
