package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/privacy"
	"github.com/kenner-cdp/kenner/segment"
	"github.com/kenner-cdp/kenner/web"
)

// profileRef reads the {ref} of a profile URL: kind:value, the value normalized like the
// graph's (so email:Ada@Example.com finds ada@example.com).
func (s *Server) profileRef(r *http.Request) (kenner.Identifier, error) {
	ref := r.PathValue("ref")
	kind, value, ok := strings.Cut(ref, ":")
	if !ok || value == "" {
		return kenner.Identifier{}, kenner.Errorf(kenner.EInvalid, "profile reference %q: want kind:value, e.g. email:ada@example.com or id:prf_...", ref)
	}
	builtin := []string{kenner.KindProfileID, kenner.KindUserID, kenner.KindAnonymousID, kenner.KindEmail, kenner.KindPhone}
	if !slices.Contains(builtin, kind) && !slices.Contains(s.deps.ExternalIDs, kind) {
		return kenner.Identifier{}, kenner.Errorf(kenner.EInvalid, "profile reference %q: unknown kind %q (known: %s)",
			ref, kind, strings.Join(append(builtin, s.deps.ExternalIDs...), ", "))
	}
	if kind == kenner.KindProfileID {
		return kenner.Identifier{Kind: kind, Value: value}, nil
	}
	v, err := s.deps.Normalizer.Normalize(kind, value)
	if err != nil {
		return kenner.Identifier{}, kenner.Errorf(kenner.EInvalid, "profile reference %q: %v", ref, err)
	}
	return kenner.Identifier{Kind: kind, Value: v}, nil
}

func (s *Server) lookupProfile(r *http.Request, tok *kenner.Token) (*kenner.Profile, error) {
	ref, err := s.profileRef(r)
	if err != nil {
		return nil, err
	}
	if r.URL.Query().Get("consistent") == "true" {
		s.waitForProcessor(r.Context())
	}
	if ref.Kind != kenner.KindProfileID && !tok.Role.SeesPII() {
		// Otherwise a found/not-found answer would confirm a person's email to a role that is
		// not meant to see emails.
		return nil, kenner.Errorf(kenner.EForbidden, "the %s role sees masked personal data: look profiles up by id (id:prf_...)", tok.Role)
	}
	p, err := s.deps.Store.Profile(r.Context(), tok.WorkspaceID, ref)
	if kenner.ErrorCode(err) == kenner.ENotFound {
		// In the caller's words, not the normalized (or stored) form.
		return nil, kenner.Errorf(kenner.ENotFound, "no profile has %s", r.PathValue("ref"))
	}
	return p, err
}

// masker is the PII policy to mask answers to tok with, or nil when its role sees PII.
func (s *Server) masker(tok *kenner.Token) *privacy.PII {
	if tok.Role.SeesPII() {
		return nil
	}
	return s.deps.PII
}

func maskIdentifier(mask *privacy.PII, id kenner.Identifier) kenner.Identifier {
	if mask == nil {
		return id
	}
	return privacy.MaskIdentifier(id)
}

// maskAccountJSON masks a group's traits: an account's name is not personal data, a contact
// email on it may be.
func maskAccountJSON(mask *privacy.PII, raw json.RawMessage) json.RawMessage {
	if mask == nil || len(raw) == 0 {
		return raw
	}
	m := map[string]json.RawMessage{}
	if json.Unmarshal(raw, &m) != nil {
		return raw
	}
	mask.MaskAccountTraits(m)
	b, _ := json.Marshal(m)
	return b
}

// profileJSON is a profile as the API shows it.
type profileJSON struct {
	ID         string                     `json:"id"`
	Traits     map[string]json.RawMessage `json:"traits"`
	Identities []kenner.Identifier        `json:"identities"`
	Groups     []groupJSON                `json:"groups"`
	Computed   map[string]json.RawMessage `json:"computed"`
	// Predictions are the scores of the workspace's trained models, by model name.
	Predictions map[string]any         `json:"predictions"`
	Segments    []string               `json:"segments"`
	Consent     map[string]consentJSON `json:"consent"`
	FirstSeen   *time.Time             `json:"first_seen"`
	LastSeen    *time.Time             `json:"last_seen"`
	Version     int64                  `json:"version"`
	UpdatedAt   time.Time              `json:"updated_at"`
}

type groupJSON struct {
	ID     string          `json:"group_id"`
	Traits json.RawMessage `json:"traits,omitempty"`
	At     time.Time       `json:"timestamp"`
}

// newProfileJSON renders p; a non-nil mask hides its identifiers and PII traits.
func newProfileJSON(p *kenner.Profile, eng *segment.Engine, mask *privacy.PII) profileJSON {
	out := profileJSON{ID: p.ID, Traits: map[string]json.RawMessage{}, Identities: []kenner.Identifier{}, Groups: []groupJSON{},
		Computed: computedJSON(eng, p, mask), Segments: sortedIDs(p.Segments), Consent: currentConsentJSON(p),
		Version: p.Version, UpdatedAt: p.UpdatedAt, Predictions: map[string]any{}}
	if eng != nil {
		out.Predictions = eng.Predictions(p, time.Now())
	}
	for name, t := range p.Traits {
		out.Traits[name] = t.Value
	}
	for _, i := range p.Identities {
		out.Identities = append(out.Identities, maskIdentifier(mask, i.Identifier))
	}
	for _, g := range p.Groups {
		out.Groups = append(out.Groups, groupJSON{ID: g.ID, Traits: maskAccountJSON(mask, g.Traits), At: g.Timestamp})
	}
	if mask != nil {
		mask.MaskTraits(out.Traits)
	}
	slices.SortFunc(out.Groups, func(a, b groupJSON) int { return strings.Compare(a.ID, b.ID) })
	if !p.FirstSeen.IsZero() {
		out.FirstSeen, out.LastSeen = &p.FirstSeen, &p.LastSeen
	}
	return out
}

// engine returns the workspace's compiled definitions (nil without an Audience).
func (s *Server) engine(ctx context.Context, ws string) (*segment.Engine, error) {
	if s.deps.Audience == nil {
		return nil, nil
	}
	return s.deps.Audience.Engine(ctx, ws)
}

func sortedIDs(m map[string]time.Time) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// etag names a version of a profile; it changes with every change to the profile.
func etag(p *kenner.Profile) string { return `"` + p.ID + "." + strconv.FormatInt(p.Version, 10) + `"` }

func (s *Server) getProfile(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	p, err := s.lookupProfile(r, tok)
	if err != nil {
		return err
	}
	tag := etag(p)
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", "private, no-cache")
	if match := r.Header.Get("If-None-Match"); match != "" && (match == tag || match == "W/"+tag || match == "*") {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	eng, err := s.engine(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, newProfileJSON(p, eng, s.masker(tok)))
	return nil
}

func (s *Server) getProfileTraits(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	p, err := s.lookupProfile(r, tok)
	if err != nil {
		return err
	}
	out := traitsJSON(p, s.masker(tok))
	w.Header().Set("ETag", etag(p))
	web.JSON(w, http.StatusOK, map[string]any{"id": p.ID, "traits": out})
	return nil
}

func (s *Server) getProfileIdentities(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	p, err := s.lookupProfile(r, tok)
	if err != nil {
		return err
	}
	out := identitiesJSON(p, s.masker(tok))
	// A profile holds at most a few hundred identifiers (the limits), so one page holds them.
	web.JSON(w, http.StatusOK, map[string]any{"identities": out, "next": ""})
	return nil
}

func (s *Server) getProfileEvents(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	p, err := s.lookupProfile(r, tok)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := kenner.EventFilter{WorkspaceID: tok.WorkspaceID, ProfileID: p.ID, Type: q.Get("type"), Name: q.Get("event")}
	if f.Name == "" {
		f.Name = q.Get("name")
	}
	if f.Type != "" && !slices.Contains(kenner.EventTypes, f.Type) {
		return kenner.Errorf(kenner.EInvalid, "type must be one of %s", strings.Join(kenner.EventTypes, ", "))
	}
	if f.Limit, err = pageLimit(q.Get("limit")); err != nil {
		return err
	}
	if a := q.Get("after"); a != "" {
		c, err := kenner.ParseEventCursor(a)
		if err != nil {
			return err
		}
		f.After = &c
	}
	events, next, err := s.deps.Store.Events(r.Context(), f)
	if err != nil {
		return err
	}
	writeEvents(w, events, next, s.masker(tok))
	return nil
}

func (s *Server) getProfileMerges(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	p, limit, after, err := s.profilePage(r, tok)
	if err != nil {
		return err
	}
	ds, next, err := s.deps.Store.Decisions(r.Context(), tok.WorkspaceID, p.ID, after, limit)
	if err != nil {
		return err
	}
	type decisionJSON struct {
		Action     string            `json:"action"`
		From       string            `json:"from,omitempty"`
		Identifier kenner.Identifier `json:"identifier"`
		MessageID  string            `json:"message_id,omitempty"`
		Reason     string            `json:"reason"`
		At         time.Time         `json:"at"`
	}
	out := make([]decisionJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, decisionJSON{Action: d.Action, From: d.From, Identifier: maskIdentifier(s.masker(tok), d.Identifier), MessageID: d.MessageID, Reason: d.Reason, At: d.At})
	}
	nextCursor := idCursor(next)
	web.JSON(w, http.StatusOK, map[string]any{"merges": out, "next": nextCursor})
	return nil
}

func (s *Server) splitProfile(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	ref, err := s.profileRef(r)
	if err != nil {
		return err
	}
	var req struct {
		Identifiers []kenner.Identifier `json:"identifiers"`
	}
	if err := web.Decode(r, 1<<20, &req); err != nil {
		return err
	}
	for i, id := range req.Identifiers {
		v, err := s.deps.Normalizer.Normalize(id.Kind, id.Value)
		if err != nil {
			return kenner.Errorf(kenner.EInvalid, "identifiers[%d]: %v", i, err)
		}
		req.Identifiers[i].Value = v
	}
	kept, moved, err := s.deps.Splitter.Split(r.Context(), tok.WorkspaceID, ref, req.Identifiers)
	if err != nil {
		return err
	}
	out := map[string]any{}
	for name, id := range map[string]string{"kept": kept, "moved": moved} {
		if id == "" {
			out[name] = nil // every event with these identifiers also held kept ones
			continue
		}
		p, err := s.deps.Store.Profile(r.Context(), tok.WorkspaceID, kenner.Identifier{Kind: kenner.KindProfileID, Value: id})
		if err != nil {
			return err
		}
		eng, err := s.engine(r.Context(), tok.WorkspaceID)
		if err != nil {
			return err
		}
		out[name] = newProfileJSON(p, eng, nil) // splitting needs the admin role
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

// profilePage reads the profile of a paged sub-resource and its limit and numeric cursor.
func (s *Server) profilePage(r *http.Request, tok *kenner.Token) (*kenner.Profile, int, int64, error) {
	p, err := s.lookupProfile(r, tok)
	if err != nil {
		return nil, 0, 0, err
	}
	q := r.URL.Query()
	limit, err := pageLimit(q.Get("limit"))
	if err != nil {
		return nil, 0, 0, err
	}
	var after int64
	if a := q.Get("after"); a != "" {
		if after, err = strconv.ParseInt(a, 10, 64); err != nil || after <= 0 {
			return nil, 0, 0, kenner.Errorf(kenner.EInvalid, "after: not a cursor returned by this API")
		}
	}
	return p, limit, after, nil
}

// idCursor is the next-page cursor of a list paged by a numeric id ("" on the last page).
func idCursor(next int64) string {
	if next <= 0 {
		return ""
	}
	return strconv.FormatInt(next, 10)
}

// traitJSON is a trait with its provenance.
type traitJSON struct {
	Value     json.RawMessage `json:"value"`
	Original  json.RawMessage `json:"original,omitempty"`
	SourceID  string          `json:"source_id"`
	MessageID string          `json:"message_id"`
	Timestamp time.Time       `json:"timestamp"`
}

func traitsJSON(p *kenner.Profile, mask *privacy.PII) map[string]traitJSON {
	out := make(map[string]traitJSON, len(p.Traits))
	for name, t := range p.Traits {
		v, orig := t.Value, t.Original
		if mask != nil {
			m := map[string]json.RawMessage{name: v}
			mask.MaskTraits(m)
			v = m[name]
			if orig != nil {
				m[name] = orig
				mask.MaskTraits(m)
				orig = m[name]
			}
		}
		out[name] = traitJSON{Value: v, Original: orig, SourceID: t.SourceID, MessageID: t.MessageID, Timestamp: t.Timestamp}
	}
	return out
}

// identityJSON is an identifier with the event that attached it.
type identityJSON struct {
	Kind      string    `json:"kind"`
	Value     string    `json:"value"`
	SourceID  string    `json:"source_id"`
	MessageID string    `json:"message_id"`
	FirstSeen time.Time `json:"first_seen"`
}

func identitiesJSON(p *kenner.Profile, mask *privacy.PII) []identityJSON {
	out := make([]identityJSON, 0, len(p.Identities))
	for _, i := range p.Identities {
		out = append(out, identityJSON{Kind: i.Kind, Value: maskIdentifier(mask, i.Identifier).Value, SourceID: i.SourceID, MessageID: i.MessageID, FirstSeen: i.At})
	}
	return out
}
