package privacy

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/kenner-cdp/kenner"
)

// IdentityOwners implements kenner.ProfileStore.
func (s *SealedStore) IdentityOwners(ctx context.Context, ws string, ids []kenner.Identifier) (map[kenner.Identifier]string, error) {
	sealed := s.c.sealIDs(ids)
	got, err := s.Store.IdentityOwners(ctx, ws, sealed)
	if err != nil {
		return nil, err
	}
	out := make(map[kenner.Identifier]string, len(got))
	for i, id := range sealed {
		if p, ok := got[id]; ok {
			out[ids[i]] = p
		}
	}
	return out, nil
}

// ScanIdentities implements kenner.ProfileStore. The order is the store's, of the sealed
// values: the cursor is sealed again, deterministically, to go on from it.
func (s *SealedStore) ScanIdentities(ctx context.Context, ws string, after kenner.Identifier, limit int) ([]kenner.IdentityOwner, error) {
	os, err := s.Store.ScanIdentities(ctx, ws, s.c.SealIdentifier(after), limit)
	for i := range os {
		os[i].Identifier = s.c.OpenIdentifier(os[i].Identifier)
	}
	return os, err
}

// sealReviewValue encrypts a compared value of a review when its trait is personal data (by
// its name, or the name of the object it is read from).
func (c *FieldCipher) sealReviewValue(field, v string) string {
	top, _, _ := strings.Cut(field, ".")
	last := field[strings.LastIndex(field, ".")+1:]
	if !c.pii.IsPII(top) && !c.pii.IsPII(last) {
		return v
	}
	raw, _ := json.Marshal(v)
	s, _ := jsonStringOf(c.SealTrait(last, raw))
	if !strings.HasPrefix(s, textPrefix) {
		s, _ = jsonStringOf(c.SealTrait("email", raw)) // a name the policy does not list: sealed all the same
	}
	return s
}

func (c *FieldCipher) openReviewValue(v string) string {
	if !strings.HasPrefix(v, textPrefix) {
		return v
	}
	raw, _ := json.Marshal(v)
	var out string
	if json.Unmarshal(c.OpenTrait(raw), &out) != nil {
		return v
	}
	return out
}

func jsonStringOf(raw json.RawMessage) (string, bool) {
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}

func (c *FieldCipher) sealReview(r kenner.MatchReview) kenner.MatchReview {
	for _, side := range []*kenner.MatchSide{&r.A, &r.B} {
		side.Identifiers = c.sealIDs(side.Identifiers)
		vals := make(map[string]string, len(side.Values))
		for k, v := range side.Values {
			vals[k] = c.sealReviewValue(k, v)
		}
		side.Values = vals
	}
	return r
}

func (c *FieldCipher) openReview(r *kenner.MatchReview) {
	for _, side := range []*kenner.MatchSide{&r.A, &r.B} {
		side.Identifiers = c.openIDs(side.Identifiers)
		for k, v := range side.Values {
			side.Values[k] = c.openReviewValue(v)
		}
	}
}

// AddMatchReviews implements kenner.MatchStore: the records side by side are personal data.
func (s *SealedStore) AddMatchReviews(ctx context.Context, ws string, rs []kenner.MatchReview) (int, error) {
	sealed := make([]kenner.MatchReview, len(rs))
	for i, r := range rs {
		sealed[i] = s.c.sealReview(r)
	}
	n, err := s.Store.AddMatchReviews(ctx, ws, sealed)
	for i := range rs {
		rs[i].ID, rs[i].WorkspaceID = sealed[i].ID, sealed[i].WorkspaceID
	}
	return n, err
}

// MatchReviews implements kenner.MatchStore.
func (s *SealedStore) MatchReviews(ctx context.Context, f kenner.MatchReviewFilter) ([]kenner.MatchReview, error) {
	rs, err := s.Store.MatchReviews(ctx, f)
	for i := range rs {
		s.c.openReview(&rs[i])
	}
	return rs, err
}

// MatchReview implements kenner.MatchStore.
func (s *SealedStore) MatchReview(ctx context.Context, ws string, id int64) (*kenner.MatchReview, error) {
	r, err := s.Store.MatchReview(ctx, ws, id)
	if r != nil {
		s.c.openReview(r)
	}
	return r, err
}

// EventBodies implements kenner.EventStore: the bodies are stored encrypted.
func (s *SealedStore) EventBodies(ctx context.Context, ws string, ranks []int64) (map[int64][]byte, error) {
	out, err := s.Store.EventBodies(ctx, ws, ranks)
	if err != nil {
		return nil, err
	}
	for k, b := range out {
		plain, err := s.c.OpenBlob(b)
		if err != nil {
			return nil, err
		}
		out[k] = plain
	}
	return out, nil
}
