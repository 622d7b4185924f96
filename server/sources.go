package server

import (
	"context"
	"net/http"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/inbound"
	"github.com/kenner-cdp/kenner/web"
)

// secretShown stands for a webhook secret in answers: secrets are write-only.
const secretShown = "(set)"

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
