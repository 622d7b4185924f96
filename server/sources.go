package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/inbound"
	"github.com/kenner-cdp/kenner/trackingplan"
	"github.com/kenner-cdp/kenner/web"
)

// secretShown stands for a webhook secret in answers: secrets are write-only.
const secretShown = kenner.SecretShown

// sourceJSON is a source as the API shows it, with its webhook secret hidden.
func sourceJSON(src *kenner.Source) *kenner.Source {
	out := *src
	if wh := src.Settings.Webhook; wh != nil && wh.Verify != nil {
		m, v := *wh, *wh.Verify
		v.Secret = secretShown
		m.Verify = &v
		out.Settings.Webhook = &m
	}
	return &out
}

// source finds the source named in the path ({id}: its id or name) in the token's workspace.
func (s *Server) source(r *http.Request, tok *kenner.Token) (*kenner.Source, error) {
	return s.sourceByRef(r.Context(), tok.WorkspaceID, r.PathValue("id"))
}

func (s *Server) getSource(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	src, err := s.source(r, tok)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, sourceJSON(src))
	return nil
}

// putWebhook sets a source's webhook mapping, after compiling it: a mapping that cannot run
// is refused when saved, not when the first payload arrives.
func (s *Server) putWebhook(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	src, err := s.source(r, tok)
	if err != nil {
		return err
	}
	var m kenner.WebhookMapping
	if err := web.Decode(r, maxAdminBody, &m); err != nil {
		return err
	}
	if m.Verify != nil && m.Verify.Secret == secretShown {
		// The console sends back what it was shown: keep the secret it stands for.
		if old := src.Settings.Webhook; old != nil && old.Verify != nil {
			m.Verify.Secret = old.Verify.Secret
		}
	}
	if _, err := inbound.Compile(m); err != nil {
		return err
	}
	src.Settings.Webhook = &m
	if err := s.updateSettings(r.Context(), src); err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, sourceJSON(src))
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	src, err := s.source(r, tok)
	if err != nil {
		return err
	}
	src.Settings.Webhook = nil
	if err := s.updateSettings(r.Context(), src); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) updateSettings(ctx context.Context, src *kenner.Source) error {
	if err := s.deps.Store.UpdateSourceSettings(ctx, src.WorkspaceID, src.ID, src.Settings); err != nil {
		return err
	}
	s.deps.Creds.SourceChanged()
	return nil
}

// putTrackingPlan sets a source's tracking plan, after compiling its schemas.
func (s *Server) putTrackingPlan(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	src, err := s.source(r, tok)
	if err != nil {
		return err
	}
	var p kenner.TrackingPlan
	if err := web.Decode(r, maxPlanBody, &p); err != nil {
		return err
	}
	if _, err := trackingplan.Compile(p); err != nil {
		return err
	}
	if p.Mode == "" {
		p.Mode = kenner.PlanAllow
	}
	src.Settings.TrackingPlan = &p
	if err := s.updateSettings(r.Context(), src); err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, sourceJSON(src))
	return nil
}

// maxPlanBody bounds a tracking plan: hundreds of event schemas fit.
const maxPlanBody = 4 << 20

func (s *Server) deleteTrackingPlan(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	src, err := s.source(r, tok)
	if err != nil {
		return err
	}
	src.Settings.TrackingPlan = nil
	if err := s.updateSettings(r.Context(), src); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listViolations(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	src, err := s.source(r, tok)
	if err != nil {
		return err
	}
	if s.deps.Plans != nil {
		// Counts are written once a second; an admin looking now sees this node's latest.
		if err := s.deps.Plans.Flush(r.Context()); err != nil {
			return err
		}
	}
	vs, err := s.deps.Store.Violations(r.Context(), tok.WorkspaceID, src.ID)
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []kenner.ViolationCount{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"violations": vs, "next": ""})
	return nil
}

func (s *Server) listQuarantine(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	src, err := s.source(r, tok)
	if err != nil {
		return err
	}
	limit, err := pageLimit(r.URL.Query().Get("limit"))
	if err != nil {
		return err
	}
	var after int64
	if a := r.URL.Query().Get("after"); a != "" {
		if after, err = strconv.ParseInt(a, 10, 64); err != nil {
			return kenner.Errorf(kenner.EInvalid, "bad cursor %q", a)
		}
	}
	es, err := s.deps.Store.QuarantinedEvents(r.Context(), kenner.QuarantineFilter{WorkspaceID: tok.WorkspaceID, SourceID: src.ID, After: after, Limit: limit + 1})
	if err != nil {
		return err
	}
	next := ""
	if len(es) > limit {
		es = es[:limit]
		next = strconv.FormatInt(es[limit-1].ID, 10)
	}
	if es == nil {
		es = []kenner.QuarantinedEvent{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"events": es, "next": next})
	return nil
}

// quarantineRequest selects quarantined events: the listed ids, or all of the source's.
type quarantineRequest struct {
	IDs   []int64 `json:"ids"`
	Force bool    `json:"force"`
}

// replayQuarantine sends quarantined events on to the log, checked against the plan as it is
// now (or not at all, with force). Those it still blocks stay in the quarantine.
func (s *Server) replayQuarantine(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	return s.eachQuarantined(w, r, tok, func(src *kenner.Source, in quarantineRequest, es []kenner.QuarantinedEvent) ([]int64, error) {
		bodies := make([][]byte, len(es))
		for i, e := range es {
			bodies[i] = e.Body
		}
		blocked, err := s.deps.Ingest.Replay(r.Context(), src, bodies, in.Force)
		if err != nil {
			return nil, err
		}
		still := map[int]bool{}
		for _, i := range blocked {
			still[i] = true
		}
		var released []int64
		for i, e := range es {
			if !still[i] {
				released = append(released, e.ID)
			}
		}
		return released, nil
	})
}

// discardQuarantine deletes quarantined events.
func (s *Server) discardQuarantine(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	return s.eachQuarantined(w, r, tok, func(_ *kenner.Source, _ quarantineRequest, es []kenner.QuarantinedEvent) ([]int64, error) {
		ids := make([]int64, len(es))
		for i, e := range es {
			ids[i] = e.ID
		}
		return ids, nil
	})
}

// eachQuarantined walks the selected quarantined events a page at a time; fn says which of a
// page to release from the quarantine.
func (s *Server) eachQuarantined(w http.ResponseWriter, r *http.Request, tok *kenner.Token,
	fn func(*kenner.Source, quarantineRequest, []kenner.QuarantinedEvent) ([]int64, error)) error {
	src, err := s.source(r, tok)
	if err != nil {
		return err
	}
	var in quarantineRequest
	if r.ContentLength != 0 {
		if err := web.Decode(r, maxAdminBody, &in); err != nil {
			return err
		}
	}
	want := map[int64]bool{}
	for _, id := range in.IDs {
		want[id] = true
	}
	var released, kept int64
	for after := int64(0); ; {
		page, err := s.deps.Store.QuarantinedEvents(r.Context(), kenner.QuarantineFilter{WorkspaceID: tok.WorkspaceID, SourceID: src.ID, After: after, Limit: 500})
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].ID
		var sel []kenner.QuarantinedEvent
		for _, e := range page {
			if len(want) == 0 || want[e.ID] {
				sel = append(sel, e)
			}
		}
		if len(sel) == 0 {
			continue
		}
		ids, err := fn(src, in, sel)
		if err != nil {
			return err
		}
		n, err := s.deps.Store.ReleaseQuarantined(r.Context(), tok.WorkspaceID, src.ID, ids)
		if err != nil {
			return err
		}
		released += n
		kept += int64(len(sel) - len(ids))
	}
	web.JSON(w, http.StatusOK, map[string]any{"released": released, "kept": kept})
	return nil
}

// previewWebhook maps a payload with a webhook mapping (the one sent, or the source's) and
// answers the messages it makes; nothing is stored and no signature is checked: how a mapping
// is tried before a sender calls it.
func (s *Server) previewWebhook(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	src, err := s.source(r, tok)
	if err != nil {
		return err
	}
	var req struct {
		Mapping     *kenner.WebhookMapping `json:"mapping"`
		Payload     json.RawMessage        `json:"payload"`
		ContentType string                 `json:"content_type"`
		Headers     map[string]string      `json:"headers"`
	}
	if err := web.Decode(r, maxAdminBody, &req); err != nil {
		return err
	}
	m := req.Mapping
	if m == nil {
		if m = src.Settings.Webhook; m == nil {
			return kenner.Errorf(kenner.EInvalid, "the source has no webhook mapping: send one as mapping")
		}
	}
	compiled, err := inbound.Compile(*m)
	if err != nil {
		return err
	}
	body := []byte(req.Payload)
	var text string
	if json.Unmarshal(req.Payload, &text) == nil {
		body = []byte(text) // a payload given as text: a form, or JSON as the sender writes it
	}
	if len(body) == 0 {
		return kenner.Errorf(kenner.EInvalid, "payload is required: what the sender posts")
	}
	h := http.Header{}
	for k, v := range req.Headers {
		h.Set(k, v)
	}
	if req.ContentType != "" {
		h.Set("Content-Type", req.ContentType)
	}
	msgs, err := compiled.Messages(src.ID, body, h)
	if err != nil {
		return err
	}
	out := make([]json.RawMessage, len(msgs))
	rules := make([]string, len(msgs))
	for i, msg := range msgs {
		out[i], rules[i] = msg.Body, msg.Rule
	}
	web.JSON(w, http.StatusOK, map[string]any{"messages": out, "events": rules})
	return nil
}
