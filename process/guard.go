package process

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/identity"
)

// DefaultSharedLimit is how many people may present one email or phone before the guard
// stops using it: a family shares an address, a shop's own email typed at the till for every
// customer is no one's.
const DefaultSharedLimit = 10

// guardedKinds are the identifier kinds the guard watches: those people type for each other.
var guardedKinds = map[string]bool{kenner.KindEmail: true, kenner.KindPhone: true}

// guard is the shared-value guard's view of the blocked identifiers: the store's list,
// read again every guardRefresh (other nodes add to it, operators allow), and what this
// processor blocked since.
type guard struct {
	mu sync.Mutex // serializes writers; readers load blocked without it
	// blocked is workspace \x00 kind \x00 value, replaced whole on every change, so that
	// the check each event makes takes no lock.
	blocked atomic.Pointer[map[string]bool]
	loaded  time.Time
}

// add blocks more keys (copy on write).
func (g *guard) add(keys ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	next := map[string]bool{}
	if cur := g.blocked.Load(); cur != nil {
		maps.Copy(next, *cur)
	}
	for _, k := range keys {
		next[k] = true
	}
	g.blocked.Store(&next)
}

// remove unblocks a key (copy on write).
func (g *guard) remove(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	next := map[string]bool{}
	if cur := g.blocked.Load(); cur != nil {
		maps.Copy(next, *cur)
	}
	delete(next, key)
	g.blocked.Store(&next)
}

const guardRefresh = 10 * time.Second

func guardKey(ws, kind, value string) string { return ws + "\x00" + kind + "\x00" + value }

// refresh reloads the list when it is older than guardRefresh.
func (p *Processor) refreshGuard(ctx context.Context) error {
	if p.cfg.SharedLimit <= 0 {
		return nil
	}
	g := &p.guard
	g.mu.Lock()
	fresh := time.Since(g.loaded) < guardRefresh
	g.mu.Unlock()
	if fresh {
		return nil
	}
	list, err := p.store.BlockedIdentifiers(ctx, "")
	if err != nil {
		return err
	}
	m := make(map[string]bool, len(list))
	for _, b := range list {
		if !b.Allowed {
			m[guardKey(b.WorkspaceID, b.Kind, b.Value)] = true
		}
	}
	g.mu.Lock()
	g.blocked.Store(&m)
	g.loaded = time.Now()
	g.mu.Unlock()
	return nil
}

// unguarded returns ids without the blocked ones, and how many it left out.
func (p *Processor) unguarded(ws string, ids []identity.Identifier) ([]identity.Identifier, int) {
	if p.cfg.SharedLimit <= 0 {
		return ids, 0
	}
	blocked := p.guard.blocked.Load()
	if blocked == nil || len(*blocked) == 0 {
		return ids, 0
	}
	return without(ids, func(id identity.Identifier) bool { return (*blocked)[guardKey(ws, id.Kind, id.Value)] })
}

// checkShared blocks the identifiers that protect decisions of this batch named once more
// people than SharedLimit presented them: the people refused it, plus the one who holds it.
func (p *Processor) checkShared(ctx context.Context, b kenner.Batch, ws string, protected []kenner.Identifier) error {
	if p.cfg.SharedLimit <= 0 {
		return nil
	}
	seen := map[kenner.Identifier]bool{}
	for _, id := range protected {
		if !guardedKinds[id.Kind] || seen[id] {
			continue
		}
		seen[id] = true
		n, err := b.ProtectedProfiles(ctx, ws, id)
		if err != nil {
			return err
		}
		if n+1 <= p.cfg.SharedLimit {
			continue
		}
		if err := b.BlockIdentifier(ctx, ws, kenner.BlockedIdentifier{Identifier: id, Profiles: n + 1, CreatedAt: p.now().UTC()}); err != nil {
			return err
		}
		p.guard.add(guardKey(ws, id.Kind, id.Value))
		p.metrics.dropped.WithLabelValues("shared").Add(0) // the series exists from the first block
		p.logger.Warn("an identifier presented by too many people no longer identifies anyone (see GET /v1/identity/blocked)",
			"workspace", ws, "kind", id.Kind, "people", n+1, "limit", p.cfg.SharedLimit)
	}
	return nil
}

// Allow takes an identifier off this processor's blocked set at once (the store's list is
// changed by the caller; other nodes follow within guardRefresh).
func (p *Processor) Allow(ws string, id kenner.Identifier) {
	p.guard.remove(guardKey(ws, id.Kind, id.Value))
}
