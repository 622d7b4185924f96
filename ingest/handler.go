// Package ingest is the tracking API: the Segment/RudderStack-compatible HTTP endpoints through
// which events enter Kenner. A request is validated, enriched and appended to the log as a whole;
// 200 is answered only once the log holds it durably.
package ingest

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/kenner-cdp/kenner/geoip"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/jsonobj"
	"github.com/kenner-cdp/kenner/privacy"
	"github.com/kenner-cdp/kenner/profile"
	"github.com/kenner-cdp/kenner/standardize"
	"github.com/kenner-cdp/kenner/trackingplan"
	"github.com/kenner-cdp/kenner/web"
)

// Sources resolves a write key to its source.
type Sources interface {
	Source(ctx context.Context, writeKey string) (*kenner.Source, error)
}

// Config tunes the tracking API.
type Config struct {
	// RateLimit is the sustained number of events per second one source may send; 0 is no limit.
	RateLimit float64
	// Consent, when active, strips the personal data of events that themselves refuse consent
	// to one of its purposes before they reach the log; PII names what is stripped.
	Consent *privacy.ConsentPolicy
	PII     *privacy.PII
	// Standardize brings traits and properties to standard forms; nil leaves them as sent.
	Standardize *standardize.Rules
	// Burst is how many events above the rate a source may send at once (default: 10 s worth).
	Burst int
	// TrustProxy takes the client IP from X-Forwarded-For, for deployments behind a proxy.
	TrustProxy bool
	// Plans enforces sources' tracking plans; nil: plans are not enforced.
	Plans *trackingplan.Enforcer
	// BodyTimeout bounds how long a request's body may take to arrive once its headers have
	// (default 30 s); BudgetWait how long a request may wait for the memory budget of bodies
	// being read (default 5 s) before it is answered 503.
	BodyTimeout time.Duration
	BudgetWait  time.Duration
	// MaxFuture is how far past its receipt an event's time may lie before it is clamped
	// (0: DefaultMaxFuture, 1 h).
	MaxFuture time.Duration
	// GeoIP adds context.location from the event's IP (nil: no location).
	GeoIP Locator
}

// Locator finds where an IP address is (geoip.DB).
type Locator interface {
	Locate(ip string) (geoip.Location, bool)
}

// Handler serves the tracking endpoints.
type Handler struct {
	log     kenner.Log
	sources Sources
	metrics *Metrics
	logger  *slog.Logger
	cfg     Config
	now     func() time.Time

	uas     uaCache
	budget  *budget
	limiter *web.Limiter
}

// New returns a Handler appending to log.
func New(log kenner.Log, sources Sources, metrics *Metrics, logger *slog.Logger, cfg Config) *Handler {
	if cfg.PII == nil {
		cfg.PII = privacy.NewPII(nil)
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = defaultBodyReadDeadline
	}
	h := &Handler{log: log, sources: sources, metrics: metrics, logger: logger, cfg: cfg, now: time.Now,
		budget: newBudget(cfg.BudgetWait)}
	h.limiter = web.NewLimiter(cfg.RateLimit, cfg.Burst, "source", "events", func() time.Time { return h.now() })
	return h
}

// request is what the handler knows of a request received now from ip ("" for messages
// Kenner makes itself).
func (h *Handler) request(ip string) *requestInfo {
	return &requestInfo{ip: ip, receivedAt: h.now().UTC(), maxFuture: h.cfg.MaxFuture, geo: h.cfg.GeoIP}
}

// Endpoints maps each tracking path to the message type it fixes ("" for batches).
var Endpoints = map[string]string{
	"/v1/identify": kenner.TypeIdentify,
	"/v1/track":    kenner.TypeTrack,
	"/v1/page":     kenner.TypePage,
	"/v1/screen":   kenner.TypeScreen,
	"/v1/group":    kenner.TypeGroup,
	"/v1/alias":    kenner.TypeAlias,
	"/v1/batch":    "",
	"/v1/import":   "",
	// The short paths analytics.js (Segment's browser library) posts to: the first letter of
	// the type, and b for its batching mode.
	"/v1/i": kenner.TypeIdentify,
	"/v1/t": kenner.TypeTrack,
	"/v1/p": kenner.TypePage,
	"/v1/s": kenner.TypeScreen,
	"/v1/g": kenner.TypeGroup,
	"/v1/a": kenner.TypeAlias,
	"/v1/b": "",
}

// Register adds the tracking endpoints and their CORS preflights to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	for path, typ := range Endpoints {
		mux.Handle("POST "+path, h.cors(func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, typ) }))
		mux.Handle("OPTIONS "+path, h.cors(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	}
}

// cors lets browser SDKs call the API from any origin. Credentials travel in the Authorization
// header or the body, never in cookies: the only cookie these endpoints touch is the anonymous
// id they set (setAnonymousCookie), and for a browser to keep it the request must be sent with
// credentials, which needs the origin named rather than a wildcard.
func (h *Handler) cors(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		if o := r.Header.Get("Origin"); o != "" {
			hd.Set("Access-Control-Allow-Origin", o)
			hd.Set("Access-Control-Allow-Credentials", "true")
			hd.Add("Vary", "Origin")
		} else {
			hd.Set("Access-Control-Allow-Origin", "*")
		}
		hd.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Content-Encoding, AnonymousId")
		hd.Set("Access-Control-Max-Age", "86400")
		hd.Set("Access-Control-Expose-Headers", "Retry-After, X-RateLimit-Reset")
		next(w, r)
	})
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, pathType string) {
	if err := h.accept(w, r, pathType); err != nil {
		h.metrics.rejected(err)
		web.Error(w, r, h.logger, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"success":true}` + "\n"))
}

func (h *Handler) accept(w http.ResponseWriter, r *http.Request, pathType string) error {
	// A key in the header is checked before the body is read, so that a client without a
	// valid key holds no memory for long and learns nothing from parse errors; a key in the
	// body needs the body read first, on the smaller budget of unauthenticated requests.
	var src *kenner.Source
	var err error
	writeKey, _, _ := r.BasicAuth()
	if writeKey != "" {
		if src, err = h.sources.Source(r.Context(), writeKey); err != nil {
			return err
		}
	}
	setReadDeadline(w, h.cfg.BodyTimeout)
	br := h.budget.reader(r.Context(), r.Body, src != nil)
	defer br.release()
	body, err := readBody(r, br)
	if err != nil {
		if slowBody(err) {
			return kenner.Errorf(kenner.EInvalid, "the request body did not arrive within %s", h.cfg.BodyTimeout)
		}
		return err
	}
	req := h.request(clientIP(r, h.cfg.TrustProxy))

	if !jsonobj.Valid(body) {
		var v any
		return kenner.Errorf(kenner.EInvalid, "body is not valid JSON: %v", jsonProblem(json.Unmarshal(body, &v)))
	}
	// The body is valid JSON from here on, so the rest is split with jsonobj, not decoded.
	top, err := jsonobj.Parse(body)
	if err != nil {
		return kenner.Errorf(kenner.EInvalid, "body is not a JSON object")
	}
	if writeKey == "" {
		if writeKey, err = stringField(top, "writeKey"); err != nil {
			return err
		}
	}
	var raws [][]byte
	if pathType == "" {
		if raws, err = jsonobj.Elements(top.Get("batch")); err != nil {
			return kenner.Errorf(kenner.EInvalid, "batch must be an array of events")
		}
		if len(raws) == 0 {
			return kenner.Errorf(kenner.EInvalid, "batch has no events")
		}
		if c := top.Get("context"); !jsonobj.IsNull(c) {
			if req.context, err = jsonobj.Parse(c); err != nil {
				return kenner.Errorf(kenner.EInvalid, "context must be an object")
			}
		}
		req.sentAt = top.Get("sentAt")
	} else {
		raws = [][]byte{body}
	}
	if src == nil {
		if src, err = h.sources.Source(r.Context(), writeKey); err != nil {
			return err
		}
	}
	if err := h.appendMessages(r.Context(), src, raws, pathType, req); err != nil {
		return err
	}
	setAnonymousCookie(w, r, raws, r.TLS != nil || h.cfg.TrustProxy && r.Header.Get("X-Forwarded-Proto") == "https")
	return nil
}

// Accept appends messages made by Kenner itself (an API call, an import) for a source, after
// the same checks and enrichment as the tracking API's. Each message must have a type.
func (h *Handler) Accept(ctx context.Context, src *kenner.Source, raws [][]byte) error {
	return h.appendMessages(ctx, src, raws, "", h.request(""))
}

// BatchError is a batch refused for one of its messages. It reads as "batch[i]: ..." to the
// caller; Index and Err let a caller that made the messages say which of its own inputs it was.
type BatchError struct {
	Index int
	Err   error
	batch *kenner.Error
}

func (e *BatchError) Error() string { return e.batch.Error() }
func (e *BatchError) Unwrap() error { return e.batch }

// Result is what became of one message given to Prepare: Err when it was refused, and the
// values that had no standard form (kept as sent).
type Result struct {
	Err      error
	Problems []standardize.Problem
	// Body is the message as it is appended (enriched and standardized).
	Body []byte
}

// Prepared is a batch of messages checked by Prepare and ready for AppendPrepared. Results
// has one entry per message given.
type Prepared struct {
	src     *kenner.Source
	msgs    []message
	Results []Result
}

// parallelMin is the batch size from which Prepare spreads the work over the cores.
const parallelMin = 512

// Prepare is Accept for bulk loads, without the append: each message is checked on its own,
// so that one bad row does not refuse the others, and a loader can prepare one batch while
// the previous one is appended (AppendPrepared). Per-source rate limits do not apply: an
// import is an admin's act.
func (h *Handler) Prepare(src *kenner.Source, raws [][]byte) *Prepared {
	req := h.request("")
	p := &Prepared{src: src, Results: make([]Result, len(raws))}
	parsed := make([]message, len(raws))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(raws)/parallelMin))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(raws); i += workers {
				p.Results[i].Err = h.prepareOne(src, raws[i], req, &parsed[i], &p.Results[i])
			}
		})
	}
	wg.Wait()
	for i := range parsed {
		if p.Results[i].Err == nil {
			p.msgs = append(p.msgs, parsed[i])
		}
	}
	return p
}

func (h *Handler) prepareOne(src *kenner.Source, raw []byte, req *requestInfo, m *message, res *Result) error {
	if !jsonobj.Valid(raw) {
		return kenner.Errorf(kenner.EInvalid, "not valid JSON")
	}
	var err error
	if *m, err = parseMessage(raw, "", req, &h.uas, h.cfg.Standardize); err != nil {
		return err
	}
	if h.cfg.Consent.Active() && h.cfg.Consent.StatedDenial(profile.StatedConsent(m.body)) {
		m.body = h.cfg.PII.StripEvent(m.body)
		h.metrics.consentStripped.Inc()
	}
	h.metrics.standardizeProblems(m.problems)
	v, err := h.planCheck(src, m, req.receivedAt)
	if err != nil {
		return err
	}
	if v.Action == kenner.PlanBlock {
		// An import's blocked rows are rejected rows, listed in its report with the reasons.
		return kenner.Errorf(kenner.EInvalid, "blocked by the tracking plan: %s", summary(v.Violations))
	}
	res.Problems, res.Body = m.problems, m.body
	return nil
}

// reserver is a log that can create the encryption keys of subjects ahead of an append
// (privacy.SealedLog).
type reserver interface {
	Reserve(ctx context.Context, ws string, subjects []kenner.Identifier) error
}

// ReservesInBulk reports whether reserving several batches in one Reserve call costs less
// than one call each: while the log is creating the keys of new people, which go into a
// B-tree of random keys where one commit rewrites the pages several would each rewrite.
func (h *Handler) ReservesInBulk() bool {
	c, ok := h.log.(interface{ CreatesKeys() bool })
	return ok && c.CreatesKeys()
}

// Reserve readies what appending prepared batches needs from the store (the keys that
// encrypt their messages in the log), so that it can run beside the append of the batch
// before (see ReservesInBulk).
func (h *Handler) Reserve(ctx context.Context, ps ...*Prepared) error {
	r, ok := h.log.(reserver)
	if !ok || len(ps) == 0 {
		return nil
	}
	var order []string
	subjects := map[string][]kenner.Identifier{}
	for _, p := range ps {
		ws := p.src.WorkspaceID
		if _, ok := subjects[ws]; !ok {
			order = append(order, ws)
		}
		for _, m := range p.msgs {
			subjects[ws] = append(subjects[ws], m.subject)
		}
	}
	for _, ws := range order {
		if len(subjects[ws]) == 0 {
			continue
		}
		if err := r.Reserve(ctx, ws, subjects[ws]); err != nil {
			return err
		}
	}
	return nil
}

// AppendPrepared appends the valid messages of a prepared batch to the log.
func (h *Handler) AppendPrepared(ctx context.Context, p *Prepared) error {
	if len(p.msgs) == 0 {
		return nil
	}
	start := time.Now()
	err := h.log.Append(ctx, h.batches(p.src, p.msgs))
	h.metrics.appendLatency.Observe(time.Since(start).Seconds())
	if err != nil {
		return err
	}
	h.metrics.accepted.Add(float64(len(p.msgs)))
	return nil
}

func (h *Handler) appendMessages(ctx context.Context, src *kenner.Source, raws [][]byte, pathType string, req *requestInfo) error {
	_, err := h.appendChecked(ctx, src, raws, pathType, req, false)
	return err
}

// appendChecked appends messages after the tracking API's checks and the source's tracking
// plan: blocked messages go to the quarantine (durably, before the answer), unless replay,
// when they are left out and reported (they are in the quarantine already).
func (h *Handler) appendChecked(ctx context.Context, src *kenner.Source, raws [][]byte, pathType string, req *requestInfo, replay bool) (blocked []int, err error) {
	if err := h.limiter.Allow(src.ID, len(raws)); err != nil {
		return nil, err
	}

	msgs := make([]message, 0, len(raws))
	var quarantined []kenner.QuarantinedEvent
	for i, raw := range raws {
		m, err := parseMessage(raw, pathType, req, &h.uas, h.cfg.Standardize)
		if err != nil {
			if pathType == "" {
				return nil, &BatchError{Index: i, Err: err, batch: kenner.Errorf(kenner.ErrorCode(err), "batch[%d]: %s", i, kenner.ErrorMessage(err))}
			}
			return nil, err
		}
		if h.cfg.Consent.Active() && h.cfg.Consent.StatedDenial(profile.StatedConsent(m.body)) {
			m.body = h.cfg.PII.StripEvent(m.body)
			h.metrics.consentStripped.Inc()
		}
		h.metrics.standardizeProblems(m.problems)
		v, err := h.planCheck(src, &m, req.receivedAt)
		if err != nil {
			return nil, err
		}
		if v.Action == kenner.PlanBlock {
			blocked = append(blocked, i)
			if !replay {
				quarantined = append(quarantined, quarantineOf(src, m, v, req.receivedAt))
			}
			continue
		}
		msgs = append(msgs, m)
	}
	if len(quarantined) > 0 {
		if err := h.cfg.Plans.Quarantine(ctx, quarantined); err != nil {
			return nil, err
		}
	}
	if len(msgs) == 0 {
		return blocked, nil
	}
	start := time.Now()
	err = h.log.Append(ctx, h.batches(src, msgs))
	h.metrics.appendLatency.Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, err
	}
	h.metrics.accepted.Add(float64(len(msgs)))
	return blocked, nil
}

// Replay appends messages released from a source's quarantine. They are checked against the
// plan again unless force; the indexes of those it still blocks are returned (they stay in
// the quarantine).
func (h *Handler) Replay(ctx context.Context, src *kenner.Source, raws [][]byte, force bool) ([]int, error) {
	if force {
		cp := *src
		cp.Settings.TrackingPlan = nil
		src = &cp
	}
	return h.appendChecked(ctx, src, raws, "", h.request(""), true)
}

// batches groups messages by partition, keeping their order within each. Duplicates (an SDK
// retrying a request it did not see acknowledged) are dropped downstream by messageId.
func (h *Handler) batches(src *kenner.Source, msgs []message) []kenner.LogBatch {
	n := h.log.Partitions()
	var out []kenner.LogBatch
	byPart := map[int]int{}
	for _, m := range msgs {
		p := kenner.PartitionOf(m.partitionKey, n)
		i, ok := byPart[p]
		if !ok {
			i = len(out)
			byPart[p] = i
			out = append(out, kenner.LogBatch{WorkspaceID: src.WorkspaceID, SourceID: src.ID, Partition: p})
		}
		out[i].Events = append(out[i].Events, m.body)
		out[i].Subjects = append(out[i].Subjects, m.subject)
	}
	return out
}

// readBody reads the whole request body from body (r.Body through the budget), gunzipping it
// when needed, within the request limit.
func readBody(r *http.Request, body *budgetReader) ([]byte, error) {
	if r.ContentLength > MaxRequestBytes {
		return nil, kenner.Errorf(kenner.ETooLarge, "request body is %d bytes, more than the limit of 500 KB", r.ContentLength)
	}
	var src io.Reader = body
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))) {
	case "", "identity":
	case "gzip":
		// The budget counts what is held: the compressed stream is read through a small
		// buffer, the decompressed body is what stays in memory.
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			if slowBody(err) {
				return nil, err
			}
			return nil, kenner.Errorf(kenner.EInvalid, "body is not valid gzip: %v", err)
		}
		defer zr.Close()
		body.r = zr
	default:
		return nil, kenner.Errorf(kenner.EInvalid, "unsupported Content-Encoding %q (gzip and identity are)", r.Header.Get("Content-Encoding"))
	}
	data, err := io.ReadAll(io.LimitReader(src, MaxRequestBytes+1))
	if err != nil {
		if slowBody(err) || errors.Is(err, errBusy) {
			return nil, err
		}
		var gzErr error = err
		if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, kenner.Errorf(kenner.EInvalid, "body is not valid gzip: %v", gzErr)
		}
		return nil, kenner.Errorf(kenner.EInvalid, "reading body: %v", err)
	}
	if len(data) > MaxRequestBytes {
		return nil, kenner.Errorf(kenner.ETooLarge, "request body is more than the limit of 500 KB")
	}
	if len(data) == 0 {
		return nil, kenner.Errorf(kenner.EInvalid, "body is empty")
	}
	return data, nil
}

func clientIP(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if f := r.Header.Get("X-Forwarded-For"); f != "" {
			first, _, _ := strings.Cut(f, ",")
			return strings.TrimSpace(first)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// jsonProblem shortens encoding/json's errors to what a client can act on.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("%s (at byte %d)", syn.Error(), syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		if typ.Field != "" {
			return fmt.Sprintf("%s must be %s, not %s", typ.Field, typ.Type, typ.Value)
		}
		return fmt.Sprintf("expected %s, found %s", typ.Type, typ.Value)
	}
	return err.Error()
}
