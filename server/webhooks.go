package server

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/inbound"
	"github.com/kenner-cdp/kenner/ingest"
	"github.com/kenner-cdp/kenner/internal/compiled"
	"github.com/kenner-cdp/kenner/web"
	"github.com/prometheus/client_golang/prometheus"
)

// maxWebhookBytes bounds a webhook payload. Senders post whole objects (a Shopify order with
// its line items), larger than one tracking event, but the messages made from them still
// keep the 32 KB event limit.
const maxWebhookBytes = 1 << 20

// webhooks receives payloads posted to webhook sources and keeps their compiled mappings.
type webhooks struct {
	mappings *compiled.Cache[kenner.WebhookMapping, *inbound.Mapping] // by source id
	requests *prometheus.CounterVec
	now      func() time.Time
}

func newWebhooks(reg prometheus.Registerer) *webhooks {
	w := &webhooks{mappings: compiled.New(inbound.Compile), now: time.Now,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kenner_webhook_requests_total",
			Help: "Webhook payloads received, by outcome (accepted, ignored: no mapping event matched, rejected, unauthorized).",
		}, []string{"outcome"})}
	reg.MustRegister(w.requests)
	return w
}

// mapping returns the compiled mapping of a source.
func (h *webhooks) mapping(src *kenner.Source) (*inbound.Mapping, error) {
	if src.Settings.Webhook == nil {
		return nil, kenner.Errorf(kenner.ENotFound, "source %s has no webhook mapping: set one with PUT /v1/sources/{id}/webhook", src.ID)
	}
	return h.mappings.Get(src.ID, src.Settings.Webhook)
}

// checkWebhook answers the GET (or HEAD) some senders make to check a webhook URL before they
// use it (Mailchimp, Mailchimp Transactional): 200 for a source that exists.
func (s *Server) checkWebhook(w http.ResponseWriter, r *http.Request) {
	if _, err := s.deps.Creds.SourceByID(r.Context(), r.PathValue("source")); err != nil {
		web.Error(w, r, s.deps.Logger, err)
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"success": true})
}

// receiveWebhook is POST /v1/webhooks/{source}: the payload is mapped to messages, which are
// accepted like tracking API events (validated, standardized, checked against the tracking
// plan, durably in the log before the 200). The sender proves itself by the signature the
// mapping verifies, or else by the source's write key (HTTP Basic user or ?writeKey=).
func (s *Server) receiveWebhook(w http.ResponseWriter, r *http.Request) {
	outcome, err := s.webhook(w, r)
	if err != nil {
		label := "rejected"
		if kenner.ErrorCode(err) == kenner.EUnauthorized {
			label = "unauthorized"
		}
		s.hooks.requests.WithLabelValues(label).Inc()
		web.Error(w, r, s.deps.Logger, err)
		return
	}
	s.hooks.requests.WithLabelValues(outcome.name).Inc()
	web.JSON(w, http.StatusOK, map[string]any{"success": true, "events": outcome.events})
}

type webhookOutcome struct {
	name   string
	events int
}

func (s *Server) webhook(w http.ResponseWriter, r *http.Request) (webhookOutcome, error) {
	ctx := r.Context()
	src, err := s.deps.Creds.SourceByID(ctx, r.PathValue("source"))
	if err != nil {
		return webhookOutcome{}, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return webhookOutcome{}, kenner.Errorf(kenner.ETooLarge, "webhook payload is more than the limit of 1 MB")
	}
	if err != nil {
		return webhookOutcome{}, kenner.Errorf(kenner.EInvalid, "read payload: %v", err)
	}
	m, err := s.hooks.mapping(src)
	if kenner.ErrorCode(err) == kenner.ENotFound {
		if err := s.webhookWriteKey(r, src); err != nil {
			return webhookOutcome{}, err
		}
	}
	if err != nil {
		return webhookOutcome{}, err
	}
	if m.Verifies() {
		if err := m.Verify(body, inbound.Request{Method: r.Method, URL: requestURL(r), Header: r.Header}, s.hooks.now()); err != nil {
			return webhookOutcome{}, err
		}
	} else if err := s.webhookWriteKey(r, src); err != nil {
		return webhookOutcome{}, err
	}
	msgs, err := m.Messages(src.ID, body, r.Header)
	if err != nil {
		return webhookOutcome{}, err
	}
	if len(msgs) == 0 {
		return webhookOutcome{name: "ignored"}, nil
	}
	raws := make([][]byte, len(msgs))
	for i, msg := range msgs {
		raws[i] = msg.Body
	}
	if err := s.deps.Ingest.Accept(ctx, src, raws); err != nil {
		var be *ingest.BatchError
		if errors.As(err, &be) {
			return webhookOutcome{}, kenner.Errorf(kenner.ErrorCode(be.Err), "mapping event %s made an invalid message: %s", msgs[be.Index].Rule, kenner.ErrorMessage(be.Err))
		}
		return webhookOutcome{}, err
	}
	return webhookOutcome{name: "accepted", events: len(msgs)}, nil
}

func (s *Server) webhookWriteKey(r *http.Request, src *kenner.Source) error {
	key, _, _ := r.BasicAuth()
	if key == "" {
		key = r.URL.Query().Get("writeKey")
	}
	if key == "" {
		return kenner.Errorf(kenner.EUnauthorized, "this webhook needs the source's write key (HTTP Basic user or ?writeKey=), or a mapping that verifies signatures")
	}
	got, err := s.deps.Creds.Source(r.Context(), key)
	if err != nil {
		return err
	}
	if got.ID != src.ID {
		return kenner.Errorf(kenner.EUnauthorized, "unknown webhook source or invalid credentials")
	}
	return nil
}

// requestURL is the URL a sender called, as this server received it: the schemes that sign
// the URL need it whole (a proxy in front that changes it calls for the mapping's verify.url).
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}
