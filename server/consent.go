package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/privacy"
	"github.com/kenner-cdp/kenner/profile"
	"github.com/kenner-cdp/kenner/web"
)

// APISourceID is the source of events the admin API makes.
const APISourceID = "api"

// consentJSON is one purpose's answer as the API shows it.
type consentJSON struct {
	Granted   bool      `json:"granted"`
	SourceID  string    `json:"source_id"`
	MessageID string    `json:"message_id"`
	Timestamp time.Time `json:"timestamp"`
}

type consentChangeJSON struct {
	Purpose string `json:"purpose"`
	consentJSON
}

func currentConsentJSON(p *kenner.Profile) map[string]consentJSON {
	out := make(map[string]consentJSON, len(p.Consent))
	for purpose, c := range p.Consent {
		out[purpose] = consentJSON{Granted: c.Granted, SourceID: c.SourceID, MessageID: c.MessageID, Timestamp: c.Timestamp}
	}
	return out
}

func consentHistoryJSON(p *kenner.Profile) []consentChangeJSON {
	out := make([]consentChangeJSON, 0, len(p.ConsentHistory))
	for _, h := range p.ConsentHistory {
		out = append(out, consentChangeJSON{Purpose: h.Purpose, consentJSON: consentJSON{Granted: h.Granted, SourceID: h.SourceID, MessageID: h.MessageID, Timestamp: h.Timestamp}})
	}
	return out
}

func (s *Server) getConsent(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	p, err := s.lookupProfile(r, tok)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, map[string]any{"id": p.ID, "consent": currentConsentJSON(p), "history": consentHistoryJSON(p)})
	return nil
}

// putConsent records a person's answers given outside the tracking API (a preference center, a
// support desk, a signed form). It appends a consent event for the person to the log and, once
// the processor has applied it, answers the profile's consent; 202 with the message id when
// the processor is behind.
func (s *Server) putConsent(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	var req struct {
		Purposes  map[string]bool `json:"purposes"`
		Source    string          `json:"source"`
		Timestamp *time.Time      `json:"timestamp"`
	}
	if err := web.Decode(r, 64<<10, &req); err != nil {
		return err
	}
	if len(req.Purposes) == 0 {
		return kenner.Errorf(kenner.EInvalid, `purposes is required: {"purposes": {"marketing": true, "analytics": false}}`)
	}
	names := make([]string, 0, len(req.Purposes))
	for p := range req.Purposes {
		names = append(names, p)
	}
	if _, err := privacy.CheckPurposes(names); err != nil {
		return err
	}
	if len(req.Source) > 200 {
		return kenner.Errorf(kenner.EInvalid, "source is at most 200 characters")
	}
	ref, err := s.profileRef(r)
	if err != nil {
		return err
	}
	ctx, ws := r.Context(), tok.WorkspaceID
	userID, anonID := "", ""
	switch ref.Kind {
	case kenner.KindUserID:
		userID = ref.Value
	case kenner.KindAnonymousID:
		anonID = ref.Value
	default:
		// Other identifiers are not event ids: the event names the person by an id their
		// profile already has, as of the events acknowledged before this request.
		s.waitForProcessor(ctx)
		p, err := s.deps.Store.Profile(ctx, ws, ref)
		if err != nil {
			return err
		}
		for _, i := range p.Identities {
			if i.Kind == kenner.KindUserID && userID == "" {
				userID = i.Value
			}
			if i.Kind == kenner.KindAnonymousID && anonID == "" {
				anonID = i.Value
			}
		}
		if userID != "" {
			anonID = ""
		}
		if userID == "" && anonID == "" {
			return kenner.Errorf(kenner.EConflict, "profile %s has no user_id or anonymous_id to record consent with", p.ID)
		}
	}
	prefs := map[string]bool{}
	for p, v := range req.Purposes {
		prefs[profile.Purpose(p)] = v
	}
	source := req.Source
	if source == "" {
		source = "api"
	}
	at := time.Now().UTC()
	if req.Timestamp != nil {
		at = req.Timestamp.UTC()
	}
	msgID := kenner.NewID("consent")
	msg := map[string]any{"type": kenner.TypeTrack, "event": kenner.ConsentEvent, "messageId": msgID, "timestamp": at.Format(time.RFC3339Nano),
		"properties": map[string]any{"source": source, "token_id": tok.ID},
		"context":    map[string]any{"consent": map[string]any{"categoryPreferences": prefs}}}
	if userID != "" {
		msg["userId"] = userID
	} else {
		msg["anonymousId"] = anonID
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	// A source the body names (by name or id) is where the answer came from; free text (a
	// "support desk") stays a property of an event from the API.
	src := &kenner.Source{ID: APISourceID, WorkspaceID: ws}
	if req.Source != "" {
		named, err := s.sourceByRef(ctx, ws, req.Source)
		switch {
		case err == nil:
			src = named
		case kenner.ErrorCode(err) != kenner.ENotFound:
			return err
		}
	}
	if err := s.deps.Ingest.Accept(ctx, src, [][]byte{body}); err != nil {
		return err
	}
	s.waitForProcessor(ctx)
	p, err := s.deps.Store.Profile(ctx, ws, ref)
	applied := err == nil && (consentMatches(p, prefs, msgID) ||
		slices.ContainsFunc(p.ConsentHistory, func(h kenner.ConsentChange) bool { return h.MessageID == msgID }))
	if applied {
		web.JSON(w, http.StatusOK, map[string]any{"id": p.ID, "message_id": msgID, "consent": currentConsentJSON(p)})
		return nil
	}
	web.JSON(w, http.StatusAccepted, map[string]any{"message_id": msgID, "status": "queued"})
	return nil
}

// consentMatches reports whether the profile's answers come from message msgID (an answer that
// repeats the current one adds no history entry).
func consentMatches(p *kenner.Profile, prefs map[string]bool, msgID string) bool {
	for purpose := range prefs {
		if c, ok := p.Consent[purpose]; !ok || c.MessageID != msgID {
			return false
		}
	}
	return true
}
