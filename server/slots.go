package server

import (
	"net/http"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/web"
)

// maxSlotBody bounds a slot definition: 50 variants of 64 KB content at most.
const maxSlotBody = 4 << 20

// slotJSON is a slot as the API shows it: variants and default never absent.
func slotJSON(s *kenner.Slot) *kenner.Slot {
	out := *s
	if out.Variants == nil {
		out.Variants = []kenner.Variant{}
	}
	if len(out.Default) == 0 {
		out.Default = []byte("null")
	}
	return &out
}

func (s *Server) listSlots(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	slots, err := s.deps.Store.Slots(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	out := make([]*kenner.Slot, 0, len(slots))
	for i := range slots {
		out = append(out, slotJSON(&slots[i]))
	}
	web.JSON(w, http.StatusOK, map[string]any{"slots": out, "next": ""})
	return nil
}

func (s *Server) getSlot(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	sl, err := s.deps.Store.Slot(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, slotJSON(sl))
	return nil
}

// readSlot decodes a slot definition and checks that every variant's condition compiles
// against the workspace's segments and computed traits.
func (s *Server) readSlot(r *http.Request, tok *kenner.Token) (*kenner.Slot, error) {
	var sl kenner.Slot
	if err := web.Decode(r, maxSlotBody, &sl); err != nil {
		return nil, err
	}
	sl.WorkspaceID = tok.WorkspaceID
	if s.deps.Decider == nil {
		return nil, kenner.Errorf(kenner.EInternal, "personalization is not set up")
	}
	if err := s.deps.Decider.Check(r.Context(), &sl); err != nil {
		return nil, err
	}
	return &sl, nil
}

func (s *Server) createSlot(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	sl, err := s.readSlot(r, tok)
	if err != nil {
		return err
	}
	sl.ID = ""
	if err := s.deps.Store.CreateSlot(r.Context(), sl); err != nil {
		return err
	}
	s.deps.Decider.Changed(tok.WorkspaceID)
	noteAuditTarget(r, "/v1/slots/"+sl.ID)
	web.JSON(w, http.StatusCreated, slotJSON(sl))
	return nil
}

func (s *Server) updateSlot(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	old, err := s.deps.Store.Slot(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	sl, err := s.readSlot(r, tok)
	if err != nil {
		return err
	}
	sl.ID, sl.CreatedAt = old.ID, old.CreatedAt
	if err := s.deps.Store.UpdateSlot(r.Context(), sl); err != nil {
		return err
	}
	s.deps.Decider.Changed(tok.WorkspaceID)
	noteAuditTarget(r, "/v1/slots/"+sl.ID)
	web.JSON(w, http.StatusOK, slotJSON(sl))
	return nil
}

func (s *Server) deleteSlot(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	if err := s.deps.Store.DeleteSlot(r.Context(), tok.WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	if s.deps.Decider != nil {
		s.deps.Decider.Changed(tok.WorkspaceID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
