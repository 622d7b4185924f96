package server

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/web"
)

// Eraser forgets people (privacy.Eraser).
type Eraser interface {
	Erase(ctx context.Context, ws string, ref kenner.Identifier, requestedBy string) (*kenner.Erasure, error)
	// DeletionKey is the workspace's key of the identifier hashes in profile.deleted.
	DeletionKey(ws string) []byte
}

// getDeletionKey gives receivers of profile.deleted the key to hash their own identifiers
// with, to find the person a notice is about.
func (s *Server) getDeletionKey(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	if s.deps.Eraser == nil {
		return kenner.Errorf(kenner.ENotFound, "erasure is not available on this server")
	}
	web.JSON(w, http.StatusOK, map[string]string{"key": hex.EncodeToString(s.deps.Eraser.DeletionKey(tok.WorkspaceID)),
		"algorithm": "hex(HMAC-SHA256(hex-decoded key, identifier value as Kenner stores it: emails trimmed and lowercased, phones in E.164))"})
	return nil
}

// exportProfile answers a data subject access request: everything Kenner holds about the
// person, in one JSON document.
func (s *Server) exportProfile(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	p, err := s.lookupProfile(r, tok)
	if err != nil {
		return err
	}
	ctx, ws := r.Context(), tok.WorkspaceID
	noteAuditTarget(r, p.ID)
	eng, err := s.engine(ctx, ws)
	if err != nil {
		return err
	}
	ids := make([]kenner.Identifier, len(p.Identities))
	for i, id := range p.Identities {
		ids[i] = id.Identifier
	}
	orderKeys := kenner.PersonOrderKeys([]string{p.ID}, ids)
	events := []json.RawMessage{}
	f := kenner.EventFilter{WorkspaceID: ws, ProfileID: p.ID, Limit: 1000}
	for {
		page, next, err := s.deps.Store.Events(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range page {
			events = append(events, e.Body)
		}
		if next == "" {
			break
		}
		c, err := kenner.ParseEventCursor(next)
		if err != nil {
			return err
		}
		f.After = &c
	}
	var merges []kenner.Decision
	for after := int64(0); ; {
		page, next, err := s.deps.Store.Decisions(ctx, ws, p.ID, after, 1000)
		if err != nil {
			return err
		}
		merges = append(merges, page...)
		if next == 0 || len(page) == 0 {
			break
		}
		after = next
	}
	var history []kenner.MembershipEvent
	for after := int64(0); ; {
		page, next, err := s.deps.Store.MembershipHistory(ctx, ws, p.ID, after, 1000)
		if err != nil {
			return err
		}
		history = append(history, page...)
		if next == 0 || len(page) == 0 {
			break
		}
		after = next
	}
	var deliveries []kenner.Delivery
	for before := int64(0); ; {
		page, err := s.deps.Store.Deliveries(ctx, kenner.DeliveryFilter{WorkspaceID: ws, OrderKeys: orderKeys, Before: before, Limit: 1000})
		if err != nil {
			return err
		}
		deliveries = append(deliveries, page...)
		if len(page) < 1000 {
			break
		}
		before = page[len(page)-1].ID
	}
	if deliveries == nil {
		deliveries = []kenner.Delivery{}
	}
	journeys, err := s.personJourneys(ctx, ws, p.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+p.ID+`.json"`)
	web.JSON(w, http.StatusOK, map[string]any{
		"exported_at": time.Now().UTC(),
		"profile":     newProfileJSON(p, eng, nil),
		"traits":      traitsJSON(p, nil),
		"identities":  identitiesJSON(p, nil),
		"events":      events,
		"consent":     map[string]any{"current": currentConsentJSON(p), "history": consentHistoryJSON(p)},
		"segments":    map[string]any{"current": sortedIDs(p.Segments), "history": orEmpty(history)},
		"merges":      orEmpty(merges),
		"deliveries":  deliveries,
		"journeys":    journeys,
	})
	return nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// eraseProfile forgets a person; the answer is the erasure record.
func (s *Server) eraseProfile(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	if s.deps.Eraser == nil {
		return kenner.Errorf(kenner.EUnavailable, "erasure is not available on this server")
	}
	ref, err := s.profileRef(r)
	if err != nil {
		return err
	}
	e, err := s.deps.Eraser.Erase(r.Context(), tok.WorkspaceID, ref, tok.ID)
	if e != nil {
		noteAuditTarget(r, e.ProfileID+" "+e.ID)
	}
	if err != nil {
		return err
	}
	// 202 as the API contract says: an erasure is a request with a status (it is done by the
	// time this answers, but clients should read the status).
	web.JSON(w, http.StatusAccepted, e)
	return nil
}

func (s *Server) getErasure(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	e, err := s.deps.Store.Erasure(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, e)
	return nil
}

// listErasures answers the workspace's erasure requests, newest first.
func (s *Server) listErasures(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	limit, err := pageLimit(r.URL.Query().Get("limit"))
	if err != nil {
		return err
	}
	es, err := s.deps.Store.Erasures(r.Context(), tok.WorkspaceID, r.URL.Query().Get("after"), limit+1)
	if err != nil {
		return err
	}
	next := ""
	if len(es) > limit {
		es = es[:limit]
		next = kenner.ErasureCursor(es[limit-1])
	}
	if es == nil {
		es = []kenner.Erasure{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"erasures": es, "next": next})
	return nil
}

// listAudit answers the audit log, newest first; ?actor= and ?action= filter, ?after= pages.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	q := r.URL.Query()
	f := kenner.AuditFilter{WorkspaceID: tok.WorkspaceID, Actor: q.Get("actor"), Action: q.Get("action")}
	var err error
	if f.Limit, err = pageLimit(q.Get("limit")); err != nil {
		return err
	}
	if a := q.Get("after"); a != "" {
		if f.Before, err = strconv.ParseInt(a, 10, 64); err != nil || f.Before <= 0 {
			return kenner.Errorf(kenner.EInvalid, "after must be a cursor from a previous page")
		}
	}
	entries, err := s.deps.Store.Audit(r.Context(), f)
	if err != nil {
		return err
	}
	next := ""
	if len(entries) == f.Limit {
		next = strconv.FormatInt(entries[len(entries)-1].ID, 10)
	}
	web.JSON(w, http.StatusOK, map[string]any{"entries": orEmpty(entries), "next": next})
	return nil
}

// audited says which admin calls the audit log records: every change, and data subject
// access requests (reads of a whole person).
func audited(r *http.Request, pattern string) bool {
	if r.Method != http.MethodGet || strings.HasSuffix(pattern, "/export") {
		return true
	}
	// Reads of personal data: a person's profile and its parts, the event debugger, and a
	// segment's members with their identifiers.
	return strings.HasPrefix(pattern, "GET /v1/profiles/") || pattern == "GET /v1/events" ||
		(strings.HasSuffix(pattern, "/members") && wantsCSV(r))
}

// wantsCSV reports a request for the CSV form of a list.
func wantsCSV(r *http.Request) bool {
	f := r.URL.Query().Get("format")
	return f == "csv" || (f == "" && strings.Contains(r.Header.Get("Accept"), "text/csv"))
}

type auditNoteKey struct{}

type auditNote struct{ target string }

// noteAuditTarget names what a call acted on, for its audit record, when the path alone would
// not say it or would say it with personal data (profile references).
func noteAuditTarget(r *http.Request, target string) {
	if n, ok := r.Context().Value(auditNoteKey{}).(*auditNote); ok {
		n.target = target
	}
}

// auditTarget is the path of a call, with a profile reference reduced to its kind: the audit
// log must not keep the identifiers an erasure removes.
func auditTarget(r *http.Request) string {
	ref := r.PathValue("ref")
	if ref == "" {
		return r.URL.Path
	}
	kind, _, _ := strings.Cut(ref, ":")
	return strings.Replace(r.URL.Path, ref, kind+":…", 1)
}

func (s *Server) recordAudit(r *http.Request, pattern string, tok *kenner.Token, status int, note *auditNote) {
	e := &kenner.AuditEntry{At: time.Now().UTC(), Action: pattern, Target: auditTarget(r), Status: status, RemoteAddr: r.RemoteAddr}
	if note.target != "" {
		e.Target = note.target
	}
	if tok == nil {
		return // unauthenticated calls have no workspace to be recorded in; they are refused
	}
	e.WorkspaceID, e.Actor, e.Role = tok.WorkspaceID, tok.ID, tok.Role
	if err := s.deps.Store.AppendAudit(context.WithoutCancel(r.Context()), e); err != nil {
		s.deps.Logger.Error("audit log", "action", pattern, "err", err)
	}
}
