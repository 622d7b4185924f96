package privacy

import (
	"context"
	"fmt"
	"time"

	"github.com/kenner-cdp/kenner"
)

// A sync's credentials (a database URL with its password, a bucket's secret key) are sealed
// like a destination's; the identifiers its rows were imported under like the identity graph's.

func (c *FieldCipher) openSync(sy *kenner.Sync) error {
	cfg, err := c.openSecrets(sy.Config)
	if err != nil {
		return fmt.Errorf("sync %s: %w", sy.ID, err)
	}
	sy.Config = cfg
	return nil
}

// SaveSync implements kenner.SyncStore.
func (s *SealedStore) SaveSync(ctx context.Context, sy *kenner.Sync) error {
	cfg, err := s.c.sealSecrets(sy.Config)
	if err != nil {
		return err
	}
	q := *sy
	q.Config = cfg
	return s.Store.SaveSync(ctx, &q)
}

// Sync implements kenner.SyncStore.
func (s *SealedStore) Sync(ctx context.Context, ws, id string) (*kenner.Sync, error) {
	sy, err := s.Store.Sync(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	return sy, s.c.openSync(sy)
}

func (s *SealedStore) openSyncs(list []kenner.Sync, err error) ([]kenner.Sync, error) {
	for i := 0; err == nil && i < len(list); i++ {
		err = s.c.openSync(&list[i])
	}
	return list, err
}

// Syncs implements kenner.SyncStore.
func (s *SealedStore) Syncs(ctx context.Context, ws string) ([]kenner.Sync, error) {
	return s.openSyncs(s.Store.Syncs(ctx, ws))
}

// SyncsDue implements kenner.SyncStore.
func (s *SealedStore) SyncsDue(ctx context.Context, now time.Time) ([]kenner.Sync, error) {
	return s.openSyncs(s.Store.SyncsDue(ctx, now))
}

// PutSyncItems implements kenner.SyncStore.
func (s *SealedStore) PutSyncItems(ctx context.Context, ws, syncID string, items []kenner.SyncItem) error {
	sealed := make([]kenner.SyncItem, len(items))
	for i, it := range items {
		sealed[i] = kenner.SyncItem{Key: it.Key, Ref: s.c.SealIdentifier(it.Ref)}
	}
	return s.Store.PutSyncItems(ctx, ws, syncID, sealed)
}

// SyncItems implements kenner.SyncStore.
func (s *SealedStore) SyncItems(ctx context.Context, ws, syncID, after string, limit int) ([]kenner.SyncItem, error) {
	items, err := s.Store.SyncItems(ctx, ws, syncID, after, limit)
	for i := range items {
		items[i].Ref = s.c.OpenIdentifier(items[i].Ref)
	}
	return items, err
}
