package syncrun

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/dbsync"
)

// itemPage is how many seen rows are compared at a time.
const itemPage = 5000

// detectDeletes finds the rows seen before that the source no longer holds and acts on
// their people. More than the sync's delete limit at once fails the run and acts on none:
// an empty answer from a wrong table or a lost permission must not erase a customer base.
func (r *Runner) detectDeletes(ctx context.Context, sy *kenner.Sync, src *dbsync.Source, p *progress) error {
	present, err := src.Keys(ctx)
	if err != nil {
		return err
	}
	var gone []kenner.SyncItem
	seen := 0
	if err := r.eachItem(ctx, sy, func(it kenner.SyncItem) {
		seen++
		if _, ok := present[it.Key]; !ok {
			gone = append(gone, it)
		}
	}); err != nil {
		return err
	}
	if len(gone) == 0 {
		return nil
	}
	limit := sy.DeleteLimit
	if limit == 0 {
		limit = kenner.DefaultDeleteLimit
	}
	if len(gone)*100 > seen*limit {
		return kenner.Errorf(kenner.EConflict, "%d of the %d rows seen before are gone from the source, more than the sync's delete limit (%d%%): nothing was %s; "+
			"if the rows really were deleted, raise delete_limit_percent for one run", len(gone), seen, limit, map[string]string{
			kenner.DeleteMark: "marked", kenner.DeleteSuppress: "suppressed", kenner.DeleteErase: "erased"}[sy.OnDelete])
	}
	for start := 0; start < len(gone); start += 500 {
		batch := gone[start:min(start+500, len(gone))]
		if err := r.actOnDeleted(ctx, sy, batch); err != nil {
			return err
		}
		keys := make([]string, len(batch))
		for i, it := range batch {
			keys[i] = it.Key
		}
		if err := r.cfg.Store.DeleteSyncItems(ctx, sy.WorkspaceID, sy.ID, keys); err != nil {
			return err
		}
		p.update(func(run *kenner.SyncRun) { run.Deleted += len(batch) })
	}
	return nil
}

// eachItem calls fn with every item the sync has seen, in key order, a page at a time.
func (r *Runner) eachItem(ctx context.Context, sy *kenner.Sync, fn func(kenner.SyncItem)) error {
	for after := ""; ; {
		page, err := r.cfg.Store.SyncItems(ctx, sy.WorkspaceID, sy.ID, after, itemPage)
		if err != nil || len(page) == 0 {
			return err
		}
		for _, it := range page {
			fn(it)
		}
		after = page[len(page)-1].Key
	}
}

// actOnDeleted marks, suppresses or erases the people of deleted rows. Marks and consent
// go through the log as the sync source's messages, like the rows did (so replays and every
// node see them); erasure is a request like the API's.
func (r *Runner) actOnDeleted(ctx context.Context, sy *kenner.Sync, items []kenner.SyncItem) error {
	if sy.OnDelete == kenner.DeleteErase {
		for _, it := range items {
			if it.Ref.Value == "" {
				continue
			}
			if _, err := r.cfg.Eraser.Erase(ctx, sy.WorkspaceID, it.Ref, "sync:"+sy.Name); err != nil && kenner.ErrorCode(err) != kenner.ENotFound {
				return fmt.Errorf("erase the person of deleted row %s: %w", it.Key, err)
			}
		}
		return nil
	}
	src, err := r.cfg.Store.SourceByID(ctx, sy.SourceID)
	if err != nil {
		return err
	}
	now := r.cfg.Now().UTC()
	var raws [][]byte
	for _, it := range items {
		msg, ok, err := r.deleteMessage(ctx, sy, it, now)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		raw, err := json.Marshal(msg)
		if err != nil {
			return err
		}
		raws = append(raws, raw)
	}
	if len(raws) == 0 {
		return nil
	}
	return r.cfg.Ingest.Accept(ctx, src, raws)
}

// deleteMessage is the message that marks or suppresses a deleted row's person, addressed by
// the row's user or anonymous id, or by one of the profile's own when the row named the person
// by email or phone. A person no profile holds (never processed, erased since) is skipped.
func (r *Runner) deleteMessage(ctx context.Context, sy *kenner.Sync, it kenner.SyncItem, now time.Time) (map[string]any, bool, error) {
	if it.Ref.Value == "" {
		return nil, false, nil
	}
	msg := map[string]any{"messageId": fmt.Sprintf("sync-%s-deleted-%s-%d", sy.ID, it.Key, now.UnixMilli()), "timestamp": now.Format(time.RFC3339Nano)}
	switch it.Ref.Kind {
	case kenner.KindUserID:
		msg["userId"] = it.Ref.Value
	case kenner.KindAnonymousID:
		msg["anonymousId"] = it.Ref.Value
	default:
		prof, err := r.cfg.Store.Profile(ctx, sy.WorkspaceID, it.Ref)
		if kenner.ErrorCode(err) == kenner.ENotFound {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		for _, id := range prof.Identities {
			if id.Kind == kenner.KindUserID && msg["userId"] == nil {
				msg["userId"] = id.Value
			}
			if id.Kind == kenner.KindAnonymousID && msg["anonymousId"] == nil {
				msg["anonymousId"] = id.Value
			}
		}
		if msg["userId"] == nil && msg["anonymousId"] == nil {
			return nil, false, nil
		}
		if msg["userId"] != nil {
			delete(msg, "anonymousId")
		}
	}
	switch sy.OnDelete {
	case kenner.DeleteMark:
		msg["type"] = kenner.TypeIdentify
		msg["traits"] = map[string]any{"deleted_in_source": true, "deleted_in_source_at": now.Format(time.RFC3339)}
	case kenner.DeleteSuppress:
		prefs := map[string]bool{}
		for _, purpose := range sy.SuppressPurposes {
			prefs[purpose] = false
		}
		msg["type"] = kenner.TypeTrack
		msg["event"] = kenner.ConsentEvent
		msg["properties"] = map[string]any{"source": "sync:" + sy.Name, "reason": "deleted in source"}
		msg["context"] = map[string]any{"consent": map[string]any{"categoryPreferences": prefs}}
	}
	return msg, true, nil
}
