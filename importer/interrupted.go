package importer

import (
	"context"
	"time"

	"github.com/kenner-cdp/kenner"
)

// Store is what FailInterrupted needs of the store.
type Store interface {
	Imports(ctx context.Context, workspaceID, after string, limit int) ([]kenner.Import, string, error)
	Import(ctx context.Context, workspaceID, id string) (*kenner.Import, error)
	SaveImport(ctx context.Context, im *kenner.Import) error
}

// FailInterrupted marks the workspace's imports that were left running by a process that
// stopped (kenner.Import.Interrupted) as failed, with a message that says how far they got,
// and returns how many it marked. A server runs it at start, so that no import stays
// "running" for ever.
func FailInterrupted(ctx context.Context, store Store, ws string, now time.Time) (int, error) {
	n, after := 0, ""
	for {
		page, next, err := store.Imports(ctx, ws, after, kenner.MaxPageLimit)
		if err != nil {
			return n, err
		}
		for i := range page {
			im := &page[i]
			if !im.Interrupted(now) {
				continue
			}
			full, err := store.Import(ctx, ws, im.ID)
			if err != nil {
				return n, err
			}
			full.MarkInterrupted(now)
			if err := store.SaveImport(ctx, full); err != nil {
				return n, err
			}
			n++
		}
		if next == "" {
			return n, nil
		}
		after = next
	}
}
