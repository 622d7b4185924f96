package server

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/internal/csvcell"
	"github.com/kenner-cdp/kenner/privacy"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/segment"
	"github.com/kenner-cdp/kenner/web"
)

// Audience compiles a workspace's definitions and previews segments (the processor).
type Audience interface {
	Engine(ctx context.Context, ws string) (*segment.Engine, error)
	Preview(ctx context.Context, ws string, seg kenner.Segment, max, sample int) (process.Preview, error)
}

// Waker is told when definitions change, to build the new ones now (process.Builder).
type Waker interface{ Wake() }

func (s *Server) wake() {
	if s.deps.Builder != nil {
		s.deps.Builder.Wake()
	}
}

// check compiles the workspace's definitions as they would be after a change; a set that does
// not compile is refused with the compiler's message (position and problem).
func (s *Server) check(ctx context.Context, traits []kenner.ComputedTrait, segs []kenner.Segment, code string) error {
	if _, err := segment.Compile(traits, segs, segment.Options{}); err != nil {
		if code != kenner.EInvalid {
			return kenner.Errorf(code, "%s", strings.TrimPrefix(err.Error(), "invalid: "))
		}
		return err
	}
	return nil
}

func (s *Server) definitions(ctx context.Context, ws string) ([]kenner.ComputedTrait, []kenner.Segment, error) {
	traits, err := s.deps.Store.ComputedTraits(ctx, ws)
	if err != nil {
		return nil, nil, err
	}
	segs, err := s.deps.Store.Segments(ctx, ws)
	return traits, segs, err
}

func (s *Server) listComputedTraits(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	traits, err := s.deps.Store.ComputedTraits(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	if traits == nil {
		traits = []kenner.ComputedTrait{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"computed_traits": traits, "next": ""})
	return nil
}

func (s *Server) findComputedTrait(ctx context.Context, ws, name string) (*kenner.ComputedTrait, error) {
	traits, err := s.deps.Store.ComputedTraits(ctx, ws)
	if err != nil {
		return nil, err
	}
	for _, t := range traits {
		if t.Name == name {
			return &t, nil
		}
	}
	return nil, kenner.Errorf(kenner.ENotFound, "no computed trait %q", name)
}

func (s *Server) getComputedTrait(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	t, err := s.findComputedTrait(r.Context(), tok.WorkspaceID, r.PathValue("name"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, t)
	return nil
}

// putComputedTrait serves POST (create; 409 when the name is taken) and PUT /{name} (create
// or replace). Saving starts a build that computes the trait from the stored events.
func (s *Server) putComputedTrait(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	var t kenner.ComputedTrait
	if err := web.Decode(r, 1<<20, &t); err != nil {
		return err
	}
	name := r.PathValue("name")
	if name != "" {
		if t.Name != "" && t.Name != name {
			return kenner.Errorf(kenner.EInvalid, "name %q does not match the URL's %q", t.Name, name)
		}
		t.Name = name
	}
	t.WorkspaceID = tok.WorkspaceID
	traits, segs, err := s.definitions(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	status := http.StatusOK
	old, err := s.findComputedTrait(r.Context(), tok.WorkspaceID, t.Name)
	switch {
	case err == nil && name == "":
		return kenner.Errorf(kenner.EConflict, "a computed trait named %q exists; PUT /v1/computed-traits/%s replaces it", t.Name, t.Name)
	case err == nil:
		t.CreatedAt = old.CreatedAt
	case kenner.ErrorCode(err) == kenner.ENotFound:
		status = http.StatusCreated
	default:
		return err
	}
	if err := s.check(r.Context(), segment.WithTrait(traits, t), segs, kenner.EInvalid); err != nil {
		return err
	}
	if err := s.deps.Store.PutComputedTrait(r.Context(), &t); err != nil {
		return err
	}
	s.wake()
	web.JSON(w, status, t)
	return nil
}

func (s *Server) deleteComputedTrait(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	name := r.PathValue("name")
	traits, segs, err := s.definitions(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	var rest []kenner.ComputedTrait
	for _, t := range traits {
		if t.Name != name {
			rest = append(rest, t)
		}
	}
	if len(rest) == len(traits) {
		return kenner.Errorf(kenner.ENotFound, "no computed trait %q", name)
	}
	if err := s.check(r.Context(), rest, segs, kenner.EConflict); err != nil {
		return err
	}
	if err := s.deps.Store.DeleteComputedTrait(r.Context(), tok.WorkspaceID, name); err != nil {
		return err
	}
	s.wake()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type segmentRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Condition   string `json:"condition"`
}

// listedSegment is a segment in the list: its members as the builder last recorded them
// (MembersAsOf, the day; every 10 s to 10 minutes), or counted now with ?live=true.
type listedSegment struct {
	kenner.Segment
	MembersAsOf string `json:"members_as_of,omitempty"`
}

func (s *Server) listSegments(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	ctx, ws := r.Context(), tok.WorkspaceID
	segs, err := s.deps.Store.Segments(ctx, ws)
	if err != nil {
		return err
	}
	out := make([]listedSegment, len(segs))
	live := r.URL.Query().Get("live") == "true"
	var members map[string]int64
	if live {
		if members, err = s.deps.Store.CountMembers(ctx, ws); err != nil {
			return err
		}
	}
	from := time.Now().UTC().AddDate(0, 0, -7).Format(time.DateOnly)
	for i, seg := range segs {
		out[i].Segment = seg
		if live {
			out[i].Members = members[seg.ID]
			continue
		}
		counts, err := s.deps.Store.SegmentCounts(ctx, ws, seg.ID, from)
		if err != nil {
			return err
		}
		if n := len(counts); n > 0 {
			out[i].Members, out[i].MembersAsOf = counts[n-1].Members, counts[n-1].Day
		}
	}
	web.JSON(w, http.StatusOK, map[string]any{"segments": out, "next": ""})
	return nil
}

func (s *Server) getSegment(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	seg, err := s.deps.Store.Segment(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, seg)
	return nil
}

// getSegmentTrend answers a segment's member count per day over the last ?days= (default 30,
// at most 366), as recorded once a day (the day's last count; today's so far). It does not
// count the members now: a caller that wants that has GET /v1/segments/{id}.
func (s *Server) getSegmentTrend(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	days := 30
	if d := r.URL.Query().Get("days"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 366 {
			return kenner.Errorf(kenner.EInvalid, "days must be a number from 1 to 366")
		}
		days = n
	}
	id := r.PathValue("id")
	from := time.Now().UTC().AddDate(0, 0, 1-days).Format(time.DateOnly)
	counts, err := s.deps.Store.SegmentCounts(r.Context(), tok.WorkspaceID, id, from)
	if err != nil {
		return err
	}
	if len(counts) == 0 { // a segment not counted yet, or none at all
		if _, err := s.deps.Store.Segment(r.Context(), tok.WorkspaceID, id); err != nil {
			return err
		}
		counts = []kenner.SegmentCount{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"id": id, "days": counts})
	return nil
}

func (s *Server) createSegment(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	var req segmentRequest
	if err := web.Decode(r, 1<<20, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Name) == "" {
		return kenner.Errorf(kenner.EInvalid, "name is required")
	}
	seg := kenner.Segment{WorkspaceID: tok.WorkspaceID, ID: kenner.NewID("seg"), Name: req.Name, Description: req.Description, Condition: req.Condition}
	traits, segs, err := s.definitions(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	if err := s.check(r.Context(), traits, segment.WithSegment(segs, seg), kenner.EInvalid); err != nil {
		return err
	}
	if err := s.deps.Store.CreateSegment(r.Context(), &seg); err != nil {
		return err
	}
	s.wake()
	return s.respondSegment(w, r, tok, seg.ID, http.StatusCreated)
}

func (s *Server) respondSegment(w http.ResponseWriter, r *http.Request, tok *kenner.Token, id string, status int) error {
	seg, err := s.deps.Store.Segment(r.Context(), tok.WorkspaceID, id)
	if err != nil {
		return err
	}
	web.JSON(w, status, seg)
	return nil
}

func (s *Server) updateSegment(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	cur, err := s.deps.Store.Segment(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	req := segmentRequest{Name: cur.Name, Description: cur.Description, Condition: cur.Condition}
	if err := web.Decode(r, 1<<20, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Name) == "" {
		return kenner.Errorf(kenner.EInvalid, "name must not be empty")
	}
	seg := kenner.Segment{WorkspaceID: tok.WorkspaceID, ID: cur.ID, Name: req.Name, Description: req.Description, Condition: req.Condition}
	traits, segs, err := s.definitions(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	if err := s.check(r.Context(), traits, segment.WithSegment(segs, seg), kenner.EInvalid); err != nil {
		return err
	}
	if err := s.deps.Store.UpdateSegment(r.Context(), &seg); err != nil {
		return err
	}
	s.wake()
	return s.respondSegment(w, r, tok, seg.ID, http.StatusOK)
}

func (s *Server) deleteSegment(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	id := r.PathValue("id")
	traits, segs, err := s.definitions(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	var rest []kenner.Segment
	for _, seg := range segs {
		if seg.ID != id {
			rest = append(rest, seg)
		}
	}
	if len(rest) == len(segs) {
		return kenner.Errorf(kenner.ENotFound, "no segment %q", id)
	}
	if err := s.check(r.Context(), traits, rest, kenner.EConflict); err != nil {
		return err
	}
	if err := s.deps.Store.DeleteSegment(r.Context(), tok.WorkspaceID, id); err != nil {
		return err
	}
	s.wake()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listMembers pages through a segment's members; ?format=csv exports them all with their
// identifiers (which needs the marketer role: identifiers are personal data).
func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	ctx := r.Context()
	seg, err := s.deps.Store.Segment(ctx, tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if wantsCSV(r) {
		if !tok.Role.AtLeast(kenner.RoleMarketer) {
			return kenner.Errorf(kenner.EForbidden, "exporting members with their identifiers needs the marketer role or higher")
		}
		return s.exportMembers(w, r, tok, seg)
	}
	if f := q.Get("format"); f != "" && f != "json" && f != "csv" {
		return kenner.Errorf(kenner.EInvalid, "format must be json or csv")
	}
	limit, err := pageLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	ms, next, err := s.deps.Store.SegmentMembers(ctx, tok.WorkspaceID, seg.ID, q.Get("after"), limit)
	if err != nil {
		return err
	}
	type memberJSON struct {
		ProfileID string    `json:"profile_id"`
		Since     time.Time `json:"since"`
	}
	out := make([]memberJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, memberJSON{ProfileID: m.ProfileID, Since: m.Since})
	}
	web.JSON(w, http.StatusOK, map[string]any{"members": out, "next": next})
	return nil
}

func (s *Server) exportMembers(w http.ResponseWriter, r *http.Request, tok *kenner.Token, seg *kenner.Segment) error {
	ctx := r.Context()
	kinds := append([]string{kenner.KindUserID, kenner.KindEmail, kenner.KindPhone, kenner.KindAnonymousID}, s.deps.ExternalIDs...)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+seg.ID+`.csv"`)
	cw := csv.NewWriter(w)
	cw.Write(append([]string{"profile_id", "since"}, kinds...))
	after := ""
	for {
		ms, next, err := s.deps.Store.SegmentMembers(ctx, tok.WorkspaceID, seg.ID, after, kenner.MaxPageLimit)
		if err != nil {
			return err // before the first flush this is still a JSON error; after, the CSV is cut short
		}
		for _, m := range ms {
			row := []string{m.ProfileID, m.Since.Format(time.RFC3339)}
			p, err := s.deps.Store.Profile(ctx, tok.WorkspaceID, kenner.Identifier{Kind: kenner.KindProfileID, Value: m.ProfileID})
			vals := map[string][]string{}
			if err == nil {
				for _, i := range p.Identities {
					vals[i.Kind] = append(vals[i.Kind], i.Value)
				}
			}
			for _, k := range kinds {
				row = append(row, strings.Join(vals[k], " "))
			}
			cw.Write(csvcell.Row(row))
		}
		cw.Flush()
		if err := cw.Error(); err != nil || next == "" {
			return nil
		}
		after = next
	}
}

func (s *Server) previewSegment(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	var req struct {
		Condition string `json:"condition"`
		Limit     int    `json:"limit"`  // profiles to evaluate at most (0: all)
		Sample    *int   `json:"sample"` // members to return (default 10, at most 100)
	}
	if err := web.Decode(r, 1<<20, &req); err != nil {
		return err
	}
	sample := 10
	if req.Sample != nil {
		sample = *req.Sample
	}
	if sample < 0 || sample > 100 || req.Limit < 0 {
		return kenner.Errorf(kenner.EInvalid, "sample must be 0..100 and limit not negative")
	}
	if s.deps.Audience == nil {
		return kenner.Errorf(kenner.EInternal, "segments are not available on this server")
	}
	seg := kenner.Segment{WorkspaceID: tok.WorkspaceID, Name: "preview", Condition: req.Condition}
	p, err := s.deps.Audience.Preview(r.Context(), tok.WorkspaceID, seg, req.Limit, sample)
	if err != nil {
		return err
	}
	eng, err := s.deps.Audience.Engine(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	out := make([]profileJSON, 0, len(p.Sample))
	for _, prof := range p.Sample {
		out = append(out, newProfileJSON(prof, eng, s.masker(tok)))
	}
	msgs := p.ErrorMessages
	if msgs == nil {
		msgs = []string{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"count": p.Count, "evaluated": p.Evaluated, "errors": p.Errors,
		"error_messages": msgs, "took_ms": float64(p.Took.Microseconds()) / 1000, "sample": out})
	return nil
}

// getProfileSegments lists the segments a profile is in and its entries and exits, newest
// first (paged by ?after).
func (s *Server) getProfileSegments(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	p, limit, after, err := s.profilePage(r, tok)
	if err != nil {
		return err
	}
	hist, next, err := s.deps.Store.MembershipHistory(r.Context(), tok.WorkspaceID, p.ID, after, limit)
	if err != nil {
		return err
	}
	type current struct {
		ID    string    `json:"id"`
		Name  string    `json:"name"`
		Since time.Time `json:"since"`
	}
	// Names from the compiled definitions the processor keeps: Store.Segment would also count
	// each segment's members, a tenth of a second at a million profiles.
	names := map[string]string{}
	if eng, err := s.engine(r.Context(), tok.WorkspaceID); err == nil && eng != nil {
		for _, seg := range eng.Segments() {
			names[seg.ID] = seg.Name
		}
	}
	segs := []current{}
	for _, id := range sortedIDs(p.Segments) {
		c := current{ID: id, Since: p.Segments[id], Name: names[id]}
		if c.Name == "" {
			if seg, err := s.deps.Store.Segment(r.Context(), tok.WorkspaceID, id); err == nil {
				c.Name = seg.Name
			}
		}
		segs = append(segs, c)
	}
	if hist == nil {
		hist = []kenner.MembershipEvent{}
	}
	nextCursor := idCursor(next)
	web.JSON(w, http.StatusOK, map[string]any{"id": p.ID, "segments": segs, "history": hist, "next": nextCursor})
	return nil
}

// computedJSON renders computed values as JSON for the profile document.
// computedJSON renders a profile's computed traits; with a mask, the values derived from
// personal data (segment.Engine.Personal) are masked like the fields they come from.
func computedJSON(eng *segment.Engine, p *kenner.Profile, mask *privacy.PII) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	if eng == nil {
		return out
	}
	var personal map[string]bool
	if mask != nil {
		personal = eng.Personal(mask.IsPII)
	}
	for k, v := range eng.Computed(p, time.Now()) {
		b, err := json.Marshal(v)
		if err != nil {
			continue
		}
		if personal[k] {
			b = privacy.MaskTraitValue(k, b)
		}
		out[k] = b
	}
	return out
}
