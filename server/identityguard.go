package server

import (
	"net/http"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/identity"
	"github.com/kenner-cdp/kenner/web"
)

// Guard is the processor's view of the shared-value guard (process.Processor).
type Guard interface {
	Allow(ws string, id kenner.Identifier)
}

// getIdentityRules answers the identity resolution settings in force (set by configuration:
// --identity-priority, --identity-limits, --identity-blocked, --external-ids,
// --identity-shared-limit, --default-region).
func (s *Server) getIdentityRules(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	rules := s.deps.Rules
	if rules.Priority == nil {
		rules = identity.DefaultRules()
	}
	web.JSON(w, http.StatusOK, map[string]any{
		"priority": rules.Priority, "limits": rules.Limits, "blocked": rules.Blocked,
		"external_ids": append([]string{}, s.deps.ExternalIDs...), "shared_limit": s.deps.SharedLimit,
		"default_region": s.deps.Normalizer.DefaultRegion,
	})
	return nil
}

// listBlockedIdentifiers lists what the shared-value guard stopped using: identifiers
// presented by more people than --identity-shared-limit, and those an operator let back.
func (s *Server) listBlockedIdentifiers(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	list, err := s.deps.Store.BlockedIdentifiers(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	if list == nil {
		list = []kenner.BlockedIdentifier{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"blocked": list, "next": ""})
	return nil
}

// allowBlockedIdentifier lets a blocked identifier identify again (a value that only looked
// shared); the guard does not block it a second time.
func (s *Server) allowBlockedIdentifier(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	ref, err := s.profileRef(r)
	if err != nil {
		return err
	}
	if err := s.deps.Store.AllowIdentifier(r.Context(), tok.WorkspaceID, ref); err != nil {
		if kenner.ErrorCode(err) == kenner.ENotFound {
			return kenner.Errorf(kenner.ENotFound, "%s is not on the guard's list", r.PathValue("ref"))
		}
		return err
	}
	if s.deps.Guard != nil {
		s.deps.Guard.Allow(tok.WorkspaceID, ref)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
