package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/web"
)

// Activation checks destinations and puts their changes in effect (activation.Service).
type Activation interface {
	Validate(ctx context.Context, d *kenner.Destination) error
	Reload(ctx context.Context) error
	// Snapshot queues a full export of a destination's segments and returns its key.
	Snapshot(ctx context.Context, workspaceID, destinationID string) (string, error)
	// Test sends a test message to a destination now and says what happened.
	Test(ctx context.Context, workspaceID, destinationID string) (activation.TestResult, error)
	// SyncsByDefault says whether a new destination gets its segments' current members.
	SyncsByDefault(d kenner.Destination) bool
}

// testDestination sends one test message ({"type": "test"}) and answers what the receiver
// said, without queueing anything.
func (s *Server) testDestination(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	if s.deps.Activation == nil {
		return kenner.Errorf(kenner.EInternal, "activation is not running")
	}
	res, err := s.deps.Activation.Test(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, res)
	return nil
}

// destinationRequest is a destination as clients send it; fields they leave out keep their
// value on PUT. Read-only fields are accepted, so a GET's answer can be sent back edited.
type destinationRequest struct {
	Name        *string              `json:"name"`
	Type        *string              `json:"type"`
	Config      json.RawMessage      `json:"config"`
	Subscribe   *kenner.Subscription `json:"subscribe"`
	Mapping     map[string]string    `json:"mapping"`
	RateLimit   *float64             `json:"rate_limit"`
	BatchSize   *int                 `json:"batch_size"`
	Parallel    *int                 `json:"parallel"`
	MaxAttempts *int                 `json:"max_attempts"`
	Paused      *bool                `json:"paused"`
	Purposes    []string             `json:"purposes"`
	// SyncExisting sends the current members of the segments once, on creation (default:
	// true when the destination subscribes to segments).
	SyncExisting *bool `json:"sync_existing"`

	ID        any `json:"id"`
	SyncedAt  any `json:"synced_at"`
	CreatedAt any `json:"created_at"`
	UpdatedAt any `json:"updated_at"`
	Pending   any `json:"pending"`
}

func (req *destinationRequest) apply(d *kenner.Destination) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&d.Name, req.Name)
	set(&d.Type, req.Type)
	if req.Config != nil {
		d.Config = req.Config
	}
	if req.Subscribe != nil {
		d.Subscribe = *req.Subscribe
	}
	if req.Mapping != nil {
		d.Mapping = req.Mapping
	}
	if req.RateLimit != nil {
		d.RateLimit = *req.RateLimit
	}
	for _, f := range []struct {
		dst *int
		v   *int
	}{{&d.BatchSize, req.BatchSize}, {&d.Parallel, req.Parallel}, {&d.MaxAttempts, req.MaxAttempts}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	if req.Paused != nil {
		d.Paused = *req.Paused
	}
	if req.Purposes != nil {
		d.Purposes = req.Purposes
	}
}

// destinationView is a destination with its queue depth.
type destinationView struct {
	kenner.Destination
	Pending int64 `json:"pending"`
}

func (s *Server) viewDestination(ctx context.Context, d kenner.Destination) (destinationView, error) {
	n, err := s.deps.Store.QueueDepth(ctx, d.ID)
	d.Config = kenner.HideSecrets(d.Config)
	return destinationView{Destination: d, Pending: n}, err
}

func (s *Server) listDestinations(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	ds, err := s.deps.Store.Destinations(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	out := make([]destinationView, 0, len(ds))
	for _, d := range ds {
		v, err := s.viewDestination(r.Context(), d)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	web.JSON(w, http.StatusOK, map[string]any{"destinations": out, "next": ""})
	return nil
}

func (s *Server) getDestination(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	d, err := s.deps.Store.Destination(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.respondDestination(w, r, *d, http.StatusOK)
}

func (s *Server) respondDestination(w http.ResponseWriter, r *http.Request, d kenner.Destination, status int) error {
	v, err := s.viewDestination(r.Context(), d)
	if err != nil {
		return err
	}
	web.JSON(w, status, v)
	return nil
}

func (s *Server) createDestination(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	var req destinationRequest
	if err := web.Decode(r, 1<<20, &req); err != nil {
		return err
	}
	d := kenner.Destination{WorkspaceID: tok.WorkspaceID}
	req.apply(&d)
	if s.deps.Activation != nil {
		d.SyncExisting = s.deps.Activation.SyncsByDefault(d)
	}
	if req.SyncExisting != nil {
		d.SyncExisting = *req.SyncExisting
	}
	var err error
	if d.Config, err = kenner.KeepSecrets(d.Config, nil); err != nil {
		return err
	}
	if err := s.saveDestination(r.Context(), &d, true); err != nil {
		return err
	}
	return s.respondDestination(w, r, d, http.StatusCreated)
}

func (s *Server) updateDestination(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	d, err := s.deps.Store.Destination(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	var req destinationRequest
	if err := web.Decode(r, 1<<20, &req); err != nil {
		return err
	}
	old := d.Config
	req.apply(d)
	if d.Config, err = kenner.KeepSecrets(d.Config, old); err != nil {
		return err
	}
	if err := s.saveDestination(r.Context(), d, false); err != nil {
		return err
	}
	return s.respondDestination(w, r, *d, http.StatusOK)
}

func (s *Server) saveDestination(ctx context.Context, d *kenner.Destination, create bool) error {
	if s.deps.Activation == nil {
		return kenner.Errorf(kenner.EInternal, "activation is not running")
	}
	if err := s.deps.Activation.Validate(ctx, d); err != nil {
		return err
	}
	var err error
	if create {
		err = s.deps.Store.CreateDestination(ctx, d)
	} else {
		err = s.deps.Store.UpdateDestination(ctx, d)
	}
	if err != nil {
		return err
	}
	return s.deps.Activation.Reload(ctx)
}

func (s *Server) deleteDestination(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	if err := s.deps.Store.DeleteDestination(r.Context(), tok.WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	if s.deps.Activation != nil {
		if err := s.deps.Activation.Reload(r.Context()); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listDeliveries is the delivery log (?status= pending, delivered, dead), newest first.
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	return s.pageDeliveries(w, r, tok, r.URL.Query().Get("status"))
}

func (s *Server) listDeadLetters(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	return s.pageDeliveries(w, r, tok, kenner.DeliveryDead)
}

func (s *Server) pageDeliveries(w http.ResponseWriter, r *http.Request, tok *kenner.Token, status string) error {
	switch status {
	case "", kenner.DeliveryPending, kenner.DeliveryDelivered, kenner.DeliveryDead:
	default:
		return kenner.Errorf(kenner.EInvalid, "status must be pending, delivered or dead")
	}
	d, err := s.deps.Store.Destination(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := pageLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	var before int64
	if a := q.Get("after"); a != "" {
		if before, err = strconv.ParseInt(a, 10, 64); err != nil || before <= 0 {
			return kenner.Errorf(kenner.EInvalid, "after must be a cursor from a previous page")
		}
	}
	ds, err := s.deps.Store.Deliveries(r.Context(), kenner.DeliveryFilter{WorkspaceID: tok.WorkspaceID, DestinationID: d.ID,
		Status: status, Before: before, Limit: limit + 1})
	if err != nil {
		return err
	}
	next := ""
	if len(ds) > limit {
		ds = ds[:limit]
		next = strconv.FormatInt(ds[limit-1].ID, 10)
	}
	if ds == nil {
		ds = []kenner.Delivery{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"deliveries": ds, "next": next})
	return nil
}

// getDelivery shows one delivery with every attempt (status, latency, response excerpt).
func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	id, err := strconv.ParseInt(r.PathValue("delivery"), 10, 64)
	if err != nil {
		return kenner.Errorf(kenner.ENotFound, "no delivery %q", r.PathValue("delivery"))
	}
	d, err := s.deps.Store.Delivery(r.Context(), tok.WorkspaceID, id)
	if err != nil {
		return err
	}
	if d.DestinationID != r.PathValue("id") {
		return kenner.Errorf(kenner.ENotFound, "no delivery %d for destination %q", id, r.PathValue("id"))
	}
	attempts, err := s.deps.Store.Attempts(r.Context(), id)
	if err != nil {
		return err
	}
	if attempts == nil {
		attempts = []kenner.Attempt{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"delivery": d, "attempts": attempts})
	return nil
}

// replayDeadLetters queues dead deliveries again: {"ids": [...]}, or all without ids.
func (s *Server) replayDeadLetters(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	d, err := s.deps.Store.Destination(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	var req struct {
		IDs []int64 `json:"ids"`
	}
	if r.ContentLength != 0 {
		if err := web.Decode(r, 1<<20, &req); err != nil {
			return err
		}
	}
	n, err := s.deps.Store.Requeue(r.Context(), tok.WorkspaceID, d.ID, req.IDs)
	if err != nil {
		return err
	}
	if s.deps.Activation != nil {
		if err := s.deps.Activation.Reload(r.Context()); err != nil {
			return err
		}
	}
	web.JSON(w, http.StatusOK, map[string]any{"requeued": n})
	return nil
}

// snapshotDestination queues a full export now (audience file exports).
func (s *Server) snapshotDestination(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	if s.deps.Activation == nil {
		return kenner.Errorf(kenner.EUnavailable, "activation is not running")
	}
	key, err := s.deps.Activation.Snapshot(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusAccepted, map[string]any{"queued": true, "key": key})
	return nil
}
