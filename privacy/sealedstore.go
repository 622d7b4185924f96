package privacy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
)

// SealedStore is a store whose personal data is encrypted at rest with a FieldCipher: email
// and phone identifiers (deterministically, so lookups still work), PII traits, event bodies,
// change data and delivery payloads. It wraps any kenner.Store; callers see plain values.
type SealedStore struct {
	kenner.Store
	c *FieldCipher
}

// NewSealedStore wraps store.
func NewSealedStore(store kenner.Store, c *FieldCipher) *SealedStore {
	return &SealedStore{Store: store, c: c}
}

// Unwrap returns the store underneath.
func (s *SealedStore) Unwrap() kenner.Store { return s.Store }

func (c *FieldCipher) sealIDs(ids []kenner.Identifier) []kenner.Identifier {
	out := make([]kenner.Identifier, len(ids))
	for i, id := range ids {
		out[i] = c.SealIdentifier(id)
	}
	return out
}

func (c *FieldCipher) openIDs(ids []kenner.Identifier) []kenner.Identifier {
	for i, id := range ids {
		ids[i] = c.OpenIdentifier(id)
	}
	return ids
}

// sealProfile returns a copy of p with its PII traits encrypted.
func (c *FieldCipher) sealProfile(p *kenner.Profile) *kenner.Profile {
	q := *p
	q.Traits = make(map[string]kenner.Trait, len(p.Traits))
	for name, t := range p.Traits {
		t.Value = c.SealTrait(name, t.Value)
		if t.Original != nil {
			t.Original = c.SealTrait(name, t.Original)
		}
		q.Traits[name] = t
	}
	return &q
}

func (c *FieldCipher) openProfile(p *kenner.Profile) {
	if p == nil {
		return
	}
	for name, t := range p.Traits {
		t.Value = c.OpenTrait(t.Value)
		if t.Original != nil {
			t.Original = c.OpenTrait(t.Original)
		}
		p.Traits[name] = t
	}
	for i, id := range p.Identities {
		p.Identities[i].Identifier = c.OpenIdentifier(id.Identifier)
	}
}

func (c *FieldCipher) openEvents(es []kenner.Event) error {
	for i := range es {
		b, err := c.OpenBlob(es[i].Body)
		if err != nil {
			return err
		}
		es[i].Body = b
	}
	return nil
}

func (c *FieldCipher) openDeliveries(ds []kenner.Delivery) error {
	for i := range ds {
		b, err := c.OpenBlob(ds[i].Payload)
		if err != nil {
			return err
		}
		ds[i].Payload = json.RawMessage(b)
	}
	return nil
}

// Events implements kenner.EventStore.
func (s *SealedStore) Events(ctx context.Context, f kenner.EventFilter) ([]kenner.Event, string, error) {
	es, next, err := s.Store.Events(ctx, f)
	if err == nil {
		err = s.c.openEvents(es)
	}
	return es, next, err
}

// Profile implements kenner.ProfileStore.
func (s *SealedStore) Profile(ctx context.Context, ws string, id kenner.Identifier) (*kenner.Profile, error) {
	p, err := s.Store.Profile(ctx, ws, s.c.SealIdentifier(id))
	if kenner.ErrorCode(err) == kenner.ENotFound {
		// The store's message names the sealed form: name the one asked for instead.
		return nil, kenner.Errorf(kenner.ENotFound, "no profile has %s", id)
	}
	s.c.openProfile(p)
	return p, err
}

// ProfileState implements kenner.ProfileStore.
func (s *SealedStore) ProfileState(ctx context.Context, ws string, id kenner.Identifier) (*kenner.Profile, error) {
	p, err := s.Store.ProfileState(ctx, ws, s.c.SealIdentifier(id))
	if kenner.ErrorCode(err) == kenner.ENotFound {
		return nil, kenner.Errorf(kenner.ENotFound, "no profile has %s", id)
	}
	s.c.openProfile(p)
	return p, err
}

// Profiles implements kenner.AudienceStore.
func (s *SealedStore) Profiles(ctx context.Context, ws string, ids []string) (map[string]*kenner.Profile, error) {
	ps, err := s.Store.Profiles(ctx, ws, ids)
	for _, p := range ps {
		s.c.openProfile(p)
	}
	return ps, err
}

// ScanProfiles implements kenner.AudienceStore: only the traits read are opened.
func (s *SealedStore) ScanProfiles(ctx context.Context, ws, after, last string, fields *kenner.ProfileFields) ([]*kenner.Profile, error) {
	ps, err := s.Store.ScanProfiles(ctx, ws, after, last, fields)
	for _, p := range ps {
		s.c.openProfile(p)
	}
	return ps, err
}

// Decisions implements kenner.ProfileStore.
func (s *SealedStore) Decisions(ctx context.Context, ws, profileID string, after int64, limit int) ([]kenner.Decision, int64, error) {
	ds, next, err := s.Store.Decisions(ctx, ws, profileID, after, limit)
	for i := range ds {
		ds[i].Identifier = s.c.OpenIdentifier(ds[i].Identifier)
	}
	return ds, next, err
}

// Changes implements kenner.AudienceStore.
func (s *SealedStore) Changes(ctx context.Context, after int64, limit int) ([]kenner.Change, error) {
	cs, err := s.Store.Changes(ctx, after, limit)
	for i := range cs {
		if err != nil {
			break
		}
		var b []byte
		b, err = s.c.OpenBlob(cs[i].Data)
		cs[i].Data = b
	}
	return cs, err
}

// ClaimDeliveries implements kenner.DestinationStore.
func (s *SealedStore) ClaimDeliveries(ctx context.Context, destinationID string, now, lease time.Time, limit int) ([]kenner.Delivery, error) {
	ds, err := s.Store.ClaimDeliveries(ctx, destinationID, now, lease, limit)
	if err == nil {
		err = s.c.openDeliveries(ds)
	}
	return ds, err
}

// Deliveries implements kenner.DestinationStore.
func (s *SealedStore) Deliveries(ctx context.Context, f kenner.DeliveryFilter) ([]kenner.Delivery, error) {
	ds, err := s.Store.Deliveries(ctx, f)
	if err == nil {
		err = s.c.openDeliveries(ds)
	}
	return ds, err
}

// Delivery implements kenner.DestinationStore.
func (s *SealedStore) Delivery(ctx context.Context, ws string, id int64) (*kenner.Delivery, error) {
	d, err := s.Store.Delivery(ctx, ws, id)
	if err != nil {
		return d, err
	}
	b, err := s.c.OpenBlob(d.Payload)
	d.Payload = b
	return d, err
}

// ProfileFootprint implements kenner.PrivacyStore.
func (s *SealedStore) ProfileFootprint(ctx context.Context, ws, profileID string) ([]string, []kenner.Identifier, error) {
	ps, ids, err := s.Store.ProfileFootprint(ctx, ws, profileID)
	return ps, s.c.openIDs(ids), err
}

// Erase implements kenner.PrivacyStore.
func (s *SealedStore) Erase(ctx context.Context, ws string, plan kenner.ErasePlan) (map[string]int64, error) {
	plan.Identifiers = s.c.sealIDs(plan.Identifiers)
	return s.Store.Erase(ctx, ws, plan)
}

// Apply implements kenner.ProfileStore: fn sees a batch that encrypts what it writes and
// decrypts what it reads.
func (s *SealedStore) Apply(ctx context.Context, pos kenner.Position, fn kenner.ApplyFunc) error {
	return s.Store.Apply(ctx, pos, func(ctx context.Context, b kenner.Batch) error {
		return fn(ctx, &sealedBatch{Batch: b, c: s.c})
	})
}

type sealedBatch struct {
	kenner.Batch
	c *FieldCipher
}

func (b *sealedBatch) LoadGraph(ctx context.Context, ws string, ids []kenner.Identifier) (kenner.Graph, error) {
	g, err := b.Batch.LoadGraph(ctx, ws, b.c.sealIDs(ids))
	if err != nil {
		return g, err
	}
	owners := make(map[kenner.Identifier]string, len(g.Owners))
	for id, p := range g.Owners {
		owners[b.c.OpenIdentifier(id)] = p
	}
	g.Owners = owners
	for id, n := range g.Profiles {
		n.Identifiers = b.c.openIDs(n.Identifiers)
		g.Profiles[id] = n
	}
	for i := range g.Separations {
		b.c.openIDs(g.Separations[i].A)
		b.c.openIDs(g.Separations[i].B)
	}
	return g, nil
}

func (b *sealedBatch) LoadProfiles(ctx context.Context, ws string, ids []string) (map[string]*kenner.Profile, error) {
	ps, err := b.Batch.LoadProfiles(ctx, ws, ids)
	for _, p := range ps {
		b.c.openProfile(p)
	}
	return ps, err
}

func (b *sealedBatch) WriteGraph(ctx context.Context, ws string, c kenner.GraphChanges) error {
	out := kenner.GraphChanges{Merges: c.Merges, Identities: make(map[string][]kenner.Identity, len(c.Identities))}
	for _, n := range c.Created {
		n.Identifiers = b.c.sealIDs(n.Identifiers)
		out.Created = append(out.Created, n)
	}
	for p, ids := range c.Identities {
		sealed := make([]kenner.Identity, len(ids))
		for i, id := range ids {
			id.Identifier = b.c.SealIdentifier(id.Identifier)
			sealed[i] = id
		}
		out.Identities[p] = sealed
	}
	out.Decisions = b.sealDecisions(c.Decisions)
	return b.Batch.WriteGraph(ctx, ws, out)
}

func (b *sealedBatch) sealDecisions(ds []kenner.Decision) []kenner.Decision {
	out := make([]kenner.Decision, len(ds))
	for i, d := range ds {
		d.Identifier = b.c.SealIdentifier(d.Identifier)
		out[i] = d
	}
	return out
}

func (b *sealedBatch) AddDecisions(ctx context.Context, ws string, ds []kenner.Decision) error {
	return b.Batch.AddDecisions(ctx, ws, b.sealDecisions(ds))
}

func (b *sealedBatch) AddSeparation(ctx context.Context, ws string, sep kenner.Separation) error {
	return b.Batch.AddSeparation(ctx, ws, kenner.Separation{A: b.c.sealIDs(sep.A), B: b.c.sealIDs(sep.B)})
}

func (b *sealedBatch) SaveProfiles(ctx context.Context, ps []*kenner.Profile) error {
	sealed := make([]*kenner.Profile, len(ps))
	for i, p := range ps {
		sealed[i] = b.c.sealProfile(p)
	}
	err := b.Batch.SaveProfiles(ctx, sealed)
	for i, p := range ps {
		p.Version, p.UpdatedAt = sealed[i].Version, sealed[i].UpdatedAt // set by the store
	}
	return err
}

func (b *sealedBatch) InsertEvents(ctx context.Context, es []kenner.Event) (int, error) {
	sealed := make([]kenner.Event, len(es))
	for i, e := range es {
		e.Body = b.c.SealBlob(e.Body)
		sealed[i] = e
	}
	return b.Batch.InsertEvents(ctx, sealed)
}

func (b *sealedBatch) ResetProfile(ctx context.Context, ws, id string) ([]kenner.Event, error) {
	es, err := b.Batch.ResetProfile(ctx, ws, id)
	if err == nil {
		err = b.c.openEvents(es)
	}
	return es, err
}

func (b *sealedBatch) ProfileEvents(ctx context.Context, ws string, ids []string) (map[string][]kenner.Event, error) {
	m, err := b.Batch.ProfileEvents(ctx, ws, ids)
	for _, es := range m {
		if err != nil {
			break
		}
		err = b.c.openEvents(es)
	}
	return m, err
}

func (b *sealedBatch) AddChanges(ctx context.Context, cs []kenner.Change) error {
	sealed := make([]kenner.Change, len(cs))
	for i, c := range cs {
		c.Data = b.c.SealBlob(c.Data)
		sealed[i] = c
	}
	return b.Batch.AddChanges(ctx, sealed)
}

func (b *sealedBatch) Enqueue(ctx context.Context, ds []kenner.Delivery) error {
	sealed := make([]kenner.Delivery, len(ds))
	for i, d := range ds {
		d.Payload = b.c.SealBlob(d.Payload)
		sealed[i] = d
	}
	return b.Batch.Enqueue(ctx, sealed)
}

// Quarantine implements kenner.SourceSettingsStore: blocked events are sealed like stored
// events.
func (s *SealedStore) Quarantine(ctx context.Context, es []kenner.QuarantinedEvent) error {
	sealed := make([]kenner.QuarantinedEvent, len(es))
	for i, e := range es {
		e.Body = s.c.SealBlob(e.Body)
		sealed[i] = e
	}
	if err := s.Store.Quarantine(ctx, sealed); err != nil {
		return err
	}
	for i := range es {
		es[i].ID = sealed[i].ID
	}
	return nil
}

// QuarantinedEvents implements kenner.SourceSettingsStore.
func (s *SealedStore) QuarantinedEvents(ctx context.Context, f kenner.QuarantineFilter) ([]kenner.QuarantinedEvent, error) {
	es, err := s.Store.QuarantinedEvents(ctx, f)
	for i := 0; err == nil && i < len(es); i++ {
		es[i].Body, err = s.c.OpenBlob(es[i].Body)
	}
	return es, err
}

// secretPrefix marks a destination's credential sealed with the store's data key. Only the
// secret values are sealed, in place, so the config stays JSON the stores can keep as it is.
const secretPrefix = "kenner-sealed:v1:"

func (c *FieldCipher) sealConfig(d *kenner.Destination) (*kenner.Destination, error) {
	cfg, err := c.sealSecrets(d.Config)
	if err != nil {
		return nil, err
	}
	q := *d
	q.Config = cfg
	return &q, nil
}

func (c *FieldCipher) openConfig(d *kenner.Destination) error {
	cfg, err := c.openSecrets(d.Config)
	if err != nil {
		return fmt.Errorf("destination %s: %w", d.ID, err)
	}
	d.Config = cfg
	return nil
}

// sealSecrets seals the credentials of a config (kenner.MapSecrets) in place.
func (c *FieldCipher) sealSecrets(cfg json.RawMessage) (json.RawMessage, error) {
	return kenner.MapSecrets(cfg, func(_, v string) (string, error) {
		if strings.HasPrefix(v, secretPrefix) {
			return v, nil
		}
		return secretPrefix + base64.RawStdEncoding.EncodeToString(c.SealBlob([]byte(v))), nil
	})
}

// openSecrets reverses sealSecrets.
func (c *FieldCipher) openSecrets(cfg json.RawMessage) (json.RawMessage, error) {
	return kenner.MapSecrets(cfg, func(_, v string) (string, error) {
		rest, ok := strings.CutPrefix(v, secretPrefix)
		if !ok {
			return v, nil // written before secrets were sealed
		}
		b, err := base64.RawStdEncoding.DecodeString(rest)
		if err != nil {
			return "", fmt.Errorf("sealed secret: %w", err)
		}
		plain, err := c.OpenBlob(b)
		if err != nil {
			return "", err
		}
		return string(plain), nil
	})
}

// CreateDestination implements kenner.DestinationStore with the config's secrets sealed.
func (s *SealedStore) CreateDestination(ctx context.Context, d *kenner.Destination) error {
	q, err := s.c.sealConfig(d)
	if err != nil {
		return err
	}
	if err := s.Store.CreateDestination(ctx, q); err != nil {
		return err
	}
	// The store fills in the id and times; the caller keeps its plain config.
	cfg := d.Config
	*d = *q
	d.Config = cfg
	return nil
}

// UpdateDestination implements kenner.DestinationStore with the config's secrets sealed.
func (s *SealedStore) UpdateDestination(ctx context.Context, d *kenner.Destination) error {
	q, err := s.c.sealConfig(d)
	if err != nil {
		return err
	}
	if err := s.Store.UpdateDestination(ctx, q); err != nil {
		return err
	}
	cfg := d.Config
	*d = *q
	d.Config = cfg
	return nil
}

// Destination implements kenner.DestinationStore with the config's secrets opened.
func (s *SealedStore) Destination(ctx context.Context, ws, id string) (*kenner.Destination, error) {
	d, err := s.Store.Destination(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	return d, s.c.openConfig(d)
}

// Destinations implements kenner.DestinationStore with the configs' secrets opened.
func (s *SealedStore) Destinations(ctx context.Context, ws string) ([]kenner.Destination, error) {
	ds, err := s.Store.Destinations(ctx, ws)
	if err != nil {
		return nil, err
	}
	for i := range ds {
		if err := s.c.openConfig(&ds[i]); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// SaveImport implements kenner.ImportStore with a dry run's sample messages sealed: they are
// whole events, personal data included.
func (s *SealedStore) SaveImport(ctx context.Context, im *kenner.Import) error {
	if len(im.Sample) == 0 {
		return s.Store.SaveImport(ctx, im)
	}
	q := *im
	q.Sample = make([]json.RawMessage, len(im.Sample))
	for i, m := range im.Sample {
		b, _ := json.Marshal(secretPrefix + base64.RawStdEncoding.EncodeToString(s.c.SealBlob(m)))
		q.Sample[i] = b
	}
	return s.Store.SaveImport(ctx, &q)
}

func (c *FieldCipher) openSample(im *kenner.Import) error {
	for i, m := range im.Sample {
		var str string
		if json.Unmarshal(m, &str) != nil {
			continue // an object: written before samples were sealed
		}
		rest, ok := strings.CutPrefix(str, secretPrefix)
		if !ok {
			continue
		}
		b, err := base64.RawStdEncoding.DecodeString(rest)
		if err != nil {
			return fmt.Errorf("import %s: sealed sample: %w", im.ID, err)
		}
		if im.Sample[i], err = c.OpenBlob(b); err != nil {
			return fmt.Errorf("import %s: %w", im.ID, err)
		}
	}
	return nil
}

// Import implements kenner.ImportStore with the sample opened.
func (s *SealedStore) Import(ctx context.Context, ws, id string) (*kenner.Import, error) {
	im, err := s.Store.Import(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	return im, s.c.openSample(im)
}

// Imports implements kenner.ImportStore with the samples opened.
func (s *SealedStore) Imports(ctx context.Context, ws, after string, limit int) ([]kenner.Import, string, error) {
	ims, next, err := s.Store.Imports(ctx, ws, after, limit)
	if err != nil {
		return nil, "", err
	}
	for i := range ims {
		if err := s.c.openSample(&ims[i]); err != nil {
			return nil, "", err
		}
	}
	return ims, next, nil
}

// ProtectedProfiles implements kenner.IdentityGuardBatch: decisions name sealed identifiers.
func (b *sealedBatch) ProtectedProfiles(ctx context.Context, ws string, id kenner.Identifier) (int, error) {
	return b.Batch.ProtectedProfiles(ctx, ws, b.c.SealIdentifier(id))
}

// BlockIdentifier implements kenner.IdentityGuardBatch with the value sealed.
func (b *sealedBatch) BlockIdentifier(ctx context.Context, ws string, bl kenner.BlockedIdentifier) error {
	bl.Identifier = b.c.SealIdentifier(bl.Identifier)
	return b.Batch.BlockIdentifier(ctx, ws, bl)
}

// BlockedIdentifiers implements kenner.IdentityGuardStore with the values opened.
func (s *SealedStore) BlockedIdentifiers(ctx context.Context, ws string) ([]kenner.BlockedIdentifier, error) {
	out, err := s.Store.BlockedIdentifiers(ctx, ws)
	for i := range out {
		out[i].Identifier = s.c.OpenIdentifier(out[i].Identifier)
	}
	return out, err
}

// AllowIdentifier implements kenner.IdentityGuardStore.
func (s *SealedStore) AllowIdentifier(ctx context.Context, ws string, id kenner.Identifier) error {
	if err := s.Store.AllowIdentifier(ctx, ws, s.c.SealIdentifier(id)); kenner.ErrorCode(err) == kenner.ENotFound {
		return kenner.Errorf(kenner.ENotFound, "%s is not on the guard's list", id)
	} else {
		return err
	}
}
