package privacy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
)

// Eraser carries out erasure requests.
type Eraser struct {
	store    kenner.Store
	keys     *Keys
	suppress *Suppressor
	kinds    map[string]bool
	logger   *slog.Logger
	now      func() time.Time
}

// DefaultSuppressKinds are the identifier kinds an erasure suppresses by default: those that
// name one person. A phone (a shared landline) or an anonymous id (a shared device) may be
// another person's too, and suppressing it would drop them; configure them when they do not.
var DefaultSuppressKinds = []string{kenner.KindUserID, kenner.KindEmail}

// NewEraser returns an Eraser that suppresses the identifiers of the given kinds
// (DefaultSuppressKinds when empty).
func NewEraser(store kenner.Store, keys *Keys, suppress *Suppressor, kinds []string, logger *slog.Logger) *Eraser {
	if len(kinds) == 0 {
		kinds = DefaultSuppressKinds
	}
	e := &Eraser{store: store, keys: keys, suppress: suppress, kinds: map[string]bool{}, logger: logger, now: time.Now}
	for _, k := range kinds {
		e.kinds[k] = true
	}
	return e
}

// Erase forgets the person an identifier names: their profile (and the profiles merged into
// it), identities, events, memberships, changes and deliveries leave the store; their log
// keys are destroyed; their identifiers are suppressed; a profile.deleted change goes to the
// destinations. The request is recorded with its outcome under the returned id.
func (e *Eraser) Erase(ctx context.Context, ws string, ref kenner.Identifier, requestedBy string) (*kenner.Erasure, error) {
	p, err := e.store.Profile(ctx, ws, ref)
	if err != nil {
		return nil, err
	}
	rec := &kenner.Erasure{ID: kenner.NewID("era"), WorkspaceID: ws, ProfileID: p.ID, Status: kenner.ErasurePending,
		RequestedBy: requestedBy, CreatedAt: e.now().UTC(), Removed: map[string]int64{}}
	if err := e.store.SaveErasure(ctx, rec); err != nil {
		return nil, err
	}
	err = e.run(ctx, ws, p.ID, rec)
	done := e.now().UTC()
	rec.DoneAt = &done
	rec.Status = kenner.ErasureDone
	if err != nil {
		rec.Status, rec.Error = kenner.ErasureFailed, err.Error()
		e.logger.Error("erasure failed", "erasure", rec.ID, "profile", p.ID, "err", err)
	}
	if serr := e.store.SaveErasure(context.WithoutCancel(ctx), rec); serr != nil && err == nil {
		err = serr
	}
	return rec, err
}

func (e *Eraser) run(ctx context.Context, ws, profileID string, rec *kenner.Erasure) error {
	var all []kenner.Identifier
	// A processor may have attached an identifier, or recreated a profile from an event read
	// before the keys went, while the erasure ran: look again by every identifier until none
	// of them names a profile.
	pending := []string{profileID}
	for round := 0; len(pending) > 0; round++ {
		if round == 5 {
			return fmt.Errorf("profiles kept reappearing for the erased identifiers")
		}
		for _, pid := range pending {
			ids, idents, err := e.store.ProfileFootprint(ctx, ws, pid)
			if kenner.ErrorCode(err) == kenner.ENotFound {
				continue
			}
			if err != nil {
				return err
			}
			plan := kenner.ErasePlan{ProfileIDs: ids, Identifiers: idents}
			for _, id := range idents {
				if e.kinds[id.Kind] {
					plan.Suppress = append(plan.Suppress, kenner.Suppression{Kind: id.Kind, Hash: e.keys.SuppressionHash(ws, id.Kind, id.Value)})
				}
				if id.Kind == "user_id" || id.Kind == "anonymous_id" {
					plan.SubjectKeys = append(plan.SubjectKeys, e.keys.Subject(ws, id.Kind, id.Value))
				}
			}
			removed, err := e.store.Erase(ctx, ws, plan)
			if err != nil {
				return err
			}
			e.keys.Forget(ws, plan.SubjectKeys)
			for k, n := range removed {
				rec.Removed[k] += n
			}
			all = append(all, idents...)
		}
		if err := e.suppress.Refresh(ctx); err != nil {
			return err
		}
		pending = nil
		for _, id := range all {
			if p, err := e.store.Profile(ctx, ws, id); err == nil {
				pending = append(pending, p.ID)
			}
		}
	}
	if err := e.scrubImports(ctx, ws, all); err != nil {
		return err
	}
	return e.notify(ctx, ws, profileID, all)
}

// scrubImports removes the person from import records: a file name that names them (an
// export made for one customer, "zelda-quixote.csv") and the dry-run sample messages that
// carry one of their identifiers. The counts stay: they are about the file, not the person.
func (e *Eraser) scrubImports(ctx context.Context, ws string, idents []kenner.Identifier) error {
	var needles []string
	for _, id := range idents {
		v := strings.ToLower(strings.TrimSpace(id.Value))
		if len(v) < 4 {
			continue // too short to name anyone, and would match every file
		}
		needles = append(needles, v)
		if local, _, ok := strings.Cut(v, "@"); ok && len(local) >= 4 {
			needles = append(needles, local)
		}
	}
	if len(needles) == 0 {
		return nil
	}
	names := func(s string) bool {
		s = strings.ToLower(s)
		for _, n := range needles {
			if strings.Contains(s, n) {
				return true
			}
		}
		return false
	}
	after := ""
	for {
		page, next, err := e.store.Imports(ctx, ws, after, kenner.MaxPageLimit)
		if err != nil {
			return err
		}
		for i := range page {
			im := &page[i]
			changed := false
			if im.File != "" && names(im.File) {
				im.File, changed = erasedName, true
			}
			kept := im.Sample[:0]
			for _, m := range im.Sample {
				if names(string(m)) {
					changed = true
					continue
				}
				kept = append(kept, m)
			}
			im.Sample = kept
			if changed {
				if err := e.store.SaveImport(ctx, im); err != nil {
					return err
				}
			}
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// erasedName stands for an import's file name that named an erased person.
const erasedName = "(erased)"

// DeletionKey is the workspace's key of the identifier hashes in profile.deleted notices.
func (e *Eraser) DeletionKey(ws string) []byte { return e.keys.DeletionKey(ws) }

// notify puts profile.deleted on the changes stream.
func (e *Eraser) notify(ctx context.Context, ws, profileID string, idents []kenner.Identifier) error {
	type hashed struct {
		Kind string `json:"kind"`
		HMAC string `json:"hmac_sha256"`
	}
	var hs []hashed
	for _, id := range idents {
		hs = append(hs, hashed{Kind: id.Kind, HMAC: e.keys.DeletionHash(ws, id.Value)})
	}
	data, err := json.Marshal(map[string]any{"identities": hs})
	if err != nil {
		return err
	}
	c := kenner.Change{WorkspaceID: ws, Type: kenner.ChangeProfileDeleted, ProfileID: profileID, At: e.now().UTC(), Data: data}
	return e.store.Apply(ctx, kenner.Position{}, func(ctx context.Context, b kenner.Batch) error {
		return b.AddChanges(ctx, []kenner.Change{c})
	})
}
