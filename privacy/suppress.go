package privacy

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/kenner-cdp/kenner"
)

// Suppressor answers whether an identifier was erased, from an in-memory copy of the
// suppression list that follows the store.
type Suppressor struct {
	store  kenner.PrivacyStore
	keys   *Keys
	logger *slog.Logger

	mu     sync.RWMutex
	hashes map[string]bool // workspace \x00 hash
	cursor int64
}

// NewSuppressor returns a Suppressor; call Refresh (or Run) to load the list.
func NewSuppressor(store kenner.PrivacyStore, keys *Keys, logger *slog.Logger) *Suppressor {
	return &Suppressor{store: store, keys: keys, logger: logger, hashes: map[string]bool{}}
}

// Refresh reads the suppressions added since the last refresh.
func (s *Suppressor) Refresh(ctx context.Context) error {
	s.mu.RLock()
	cursor := s.cursor
	s.mu.RUnlock()
	for {
		page, next, err := s.store.Suppressions(ctx, cursor, 5000)
		if err != nil {
			return err
		}
		s.mu.Lock()
		for _, sp := range page {
			s.hashes[sp.WorkspaceID+"\x00"+sp.Hash] = true
		}
		if next > s.cursor {
			s.cursor = next
		}
		s.mu.Unlock()
		if len(page) < 5000 {
			return nil
		}
		cursor = next
	}
}

// Run refreshes every interval until ctx is done, for suppressions other nodes add; every
// reloadEvery-th time it reads the whole list again, for the ones other nodes lift.
func (s *Suppressor) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			refresh := s.Refresh
			if i%reloadEvery == 0 {
				refresh = s.reload
			}
			if err := refresh(ctx); err != nil && ctx.Err() == nil {
				s.logger.Error("refresh suppression list", "err", err)
			}
		}
	}
}

// reloadEvery is how many refreshes pass between two full reloads (a minute at serve's 5 s).
const reloadEvery = 12

// reload reads the whole list into a fresh copy, then swaps it in.
func (s *Suppressor) reload(ctx context.Context) error {
	fresh := &Suppressor{store: s.store, keys: s.keys, logger: s.logger, hashes: map[string]bool{}}
	if err := fresh.Refresh(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.hashes, s.cursor = fresh.hashes, max(s.cursor, fresh.cursor)
	s.mu.Unlock()
	return nil
}

// Hash is the suppression hash of an identifier (normalized) in a workspace.
func (s *Suppressor) Hash(workspaceID, kind, value string) string {
	return s.keys.SuppressionHash(workspaceID, kind, value)
}

// Lift takes an identifier off the suppression list, in the store and at once in this
// node's copy (others follow within their reload interval): a person who signs up again
// after an erasure is let back in.
func (s *Suppressor) Lift(ctx context.Context, workspaceID, kind, value string) error {
	h := s.Hash(workspaceID, kind, value)
	if err := s.store.LiftSuppression(ctx, workspaceID, h); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.hashes, workspaceID+"\x00"+h)
	s.mu.Unlock()
	return nil
}

// Empty reports that nothing was ever erased, so that callers can skip extracting identifiers.
func (s *Suppressor) Empty() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.hashes) == 0
}

// Suppressed reports whether an identifier (normalized) was erased in the workspace.
func (s *Suppressor) Suppressed(workspaceID, kind, value string) bool {
	s.mu.RLock()
	empty := len(s.hashes) == 0
	s.mu.RUnlock()
	if empty || value == "" {
		return false
	}
	h := s.keys.SuppressionHash(workspaceID, kind, value)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.hashes[workspaceID+"\x00"+h]
}

// normalEmail is the email normalization identity resolution applies, for checks made
// before it (at append).
func normalEmail(v string) string { return strings.ToLower(strings.TrimSpace(v)) }
