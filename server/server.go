// Package server assembles Kenner's HTTP API: the tracking endpoints of package ingest, the
// admin API behind bearer tokens, health, metrics and the OpenAPI document. Every admin route
// is declared with the least role that may call it, in one table (Routes), so that the
// authorization test can walk all of them.
package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/auth"
	"github.com/kenner-cdp/kenner/identity"
	"github.com/kenner-cdp/kenner/ingest"
	"github.com/kenner-cdp/kenner/privacy"
	"github.com/kenner-cdp/kenner/tag"
	"github.com/kenner-cdp/kenner/trackingplan"
	"github.com/kenner-cdp/kenner/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Deps are the server's collaborators.
type Deps struct {
	Store    kenner.Store
	Log      kenner.Log
	Creds    *auth.Service
	Ingest   *ingest.Handler
	Registry *prometheus.Registry
	Logger   *slog.Logger
	// Consumer is the name of the log consumer whose progress /v1/events waits for.
	Consumer string
	// Splitter splits profiles (the processor: a split resolves events again).
	Splitter Splitter
	// Normalizer brings identifiers in profile URLs to the form the graph stores.
	Normalizer identity.Normalizer
	// ExternalIDs are the configured identifier kinds besides the built-in ones.
	ExternalIDs []string
	// Rules and SharedLimit are the identity resolution settings in force, shown to admins.
	Rules       identity.Rules
	SharedLimit int
	// Audience compiles definitions and previews segments (the processor).
	Audience Audience
	// Builder is woken when definitions change (process.Builder); nil: none.
	Builder Waker
	// Activation validates destinations and applies their changes; nil: destinations
	// cannot be saved.
	Activation Activation
	// PII names the personal data fields masked for roles without PII access (nil: the
	// defaults).
	PII *privacy.PII
	// TokenLimiter limits admin requests per token (nil: no limit).
	TokenLimiter *web.Limiter
	// Plans enforces tracking plans (the one ingest uses); nil: none.
	Plans *trackingplan.Enforcer
	// Eraser carries out erasure requests (privacy.Eraser); nil: none are possible.
	Eraser Eraser
	// Suppressions lifts erased identifiers off the suppression list; nil: not possible.
	Suppressions Suppressions
	// Guard hears of identifiers an operator allows again (the processor); nil: none.
	Guard Guard
	// Users are the console's users (required for the users API).
	Users *auth.Users
	// Tag serves the browser tag, its settings and the decision API; Decider decides slots
	// (nil: personalization is not available).
	Tag     *tag.Handler
	Decider *tag.Decider
	// Progress tells how far processing has got (the processor); nil: /v1/stats says only
	// which partitions are behind.
	Progress Progress
	// Trainer trains prediction models (process.Trainer); nil: POST /v1/models/{id}/train
	// answers unavailable.
	Trainer Trainer
	// Journeys checks and runs journeys (journey.Runner); nil: journeys can be drafted but
	// not published.
	Journeys Journeys
	// Matcher runs probabilistic matching (matchrun.Runner); nil: runs and accepting reviews
	// answer unavailable.
	Matcher Matcher
	// Syncs checks, tests and starts scheduled syncs (syncrun.Runner); nil: syncs can be
	// listed but not saved or run.
	Syncs Syncs
	// Analytics answers trends, funnels, retention and attribution (the analytics
	// projection); nil: they answer unavailable.
	Analytics Analytics
	// Cluster says which node holds which partitions (nil: GET /v1/cluster answers
	// unavailable).
	Cluster Cluster
	// Forget are told when a workspace is deleted, to drop what they keep of it in memory.
	Forget []Forgetter
}

// Progress is how far the processor has got; see process.Processor.AppliedUntil.
type Progress interface {
	AppliedUntil(partition int) (time.Time, bool)
}

// Splitter moves identifiers out of a profile; see process.Processor.Split.
type Splitter interface {
	Split(ctx context.Context, ws string, ref kenner.Identifier, out []kenner.Identifier) (kept, moved string, err error)
}

// Route is one admin endpoint and the least role allowed to call it.
type Route struct {
	Pattern string
	MinRole kenner.Role
}

// Server is the HTTP API.
type Server struct {
	deps    Deps
	mux     *http.ServeMux
	public  *http.ServeMux
	routes  []Route
	latency *prometheus.HistogramVec
	hooks   *webhooks
	acache  *analyticsCache
}

// New builds the API's routes.
func New(deps Deps) *Server {
	if deps.PII == nil {
		deps.PII = privacy.NewPII(nil)
	}
	if deps.Users == nil {
		deps.Users = auth.NewUsers(deps.Store, deps.Creds.Hasher())
	}
	if deps.Decider == nil && deps.Audience != nil {
		deps.Decider = tag.NewDecider(deps.Store, deps.Audience, deps.Store, deps.PII)
	}
	if deps.Tag == nil && deps.Decider != nil {
		deps.Tag = tag.New(deps.Creds, deps.Decider, deps.Normalizer, deps.Logger, tag.Config{})
	}
	s := &Server{deps: deps, mux: http.NewServeMux(), public: http.NewServeMux()}
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "kenner_http_request_seconds", Help: "HTTP request latency by route and status class.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"route", "code"})
	deps.Registry.MustRegister(s.latency)
	s.hooks = newWebhooks(deps.Registry)
	s.acache = newAnalyticsCache()

	deps.Ingest.Register(s.mux)
	deps.Ingest.Register(s.public)
	for _, m := range []*http.ServeMux{s.mux, s.public} {
		if deps.Tag != nil {
			deps.Tag.Register(m)
		}
		m.HandleFunc("GET /healthz", s.healthz)
		m.HandleFunc("GET /readyz", s.readyz)
		m.HandleFunc("POST /v1/webhooks/{source}", s.receiveWebhook)
		m.HandleFunc("GET /v1/webhooks/{source}", s.checkWebhook)
		m.HandleFunc("GET /v1/unsubscribe", s.unsubscribePage)
		m.HandleFunc("POST /v1/unsubscribe", s.unsubscribe)
		m.HandleFunc("GET /v1/email/open", s.emailOpened)
		m.HandleFunc("GET /v1/email/click", s.emailClicked)
	}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(deps.Registry, promhttp.HandlerOpts{Registry: deps.Registry}))
	s.mux.HandleFunc("GET /openapi.json", serveOpenAPI)

	s.admin("GET /v1/events", kenner.RoleAnalyst, s.listEvents)
	s.admin("GET /v1/profiles/{ref}", kenner.RoleViewer, s.getProfile)
	s.admin("GET /v1/profiles/{ref}/traits", kenner.RoleViewer, s.getProfileTraits)
	s.admin("GET /v1/profiles/{ref}/identities", kenner.RoleViewer, s.getProfileIdentities)
	s.admin("GET /v1/profiles/{ref}/events", kenner.RoleViewer, s.getProfileEvents)
	s.admin("GET /v1/profiles/{ref}/merges", kenner.RoleViewer, s.getProfileMerges)
	s.admin("GET /v1/profiles/{ref}/segments", kenner.RoleViewer, s.getProfileSegments)
	s.admin("GET /v1/profiles/{ref}/consent", kenner.RoleViewer, s.getConsent)
	s.admin("PUT /v1/profiles/{ref}/consent", kenner.RoleMarketer, s.putConsent)
	s.admin("POST /v1/profiles/{ref}/split", kenner.RoleAdmin, s.splitProfile)
	s.admin("GET /v1/profiles/{ref}/export", kenner.RoleAdmin, s.exportProfile)
	s.admin("DELETE /v1/profiles/{ref}", kenner.RoleAdmin, s.eraseProfile)
	s.admin("GET /v1/erasures", kenner.RoleAdmin, s.listErasures)
	s.admin("GET /v1/erasures/{id}", kenner.RoleAdmin, s.getErasure)
	s.admin("GET /v1/audit", kenner.RoleAdmin, s.listAudit)
	s.admin("GET /v1/privacy/deletion-key", kenner.RoleAdmin, s.getDeletionKey)
	s.admin("GET /v1/suppressions", kenner.RoleAdmin, s.listSuppressions)
	s.admin("DELETE /v1/suppressions/{ref}", kenner.RoleOwner, s.liftSuppression)
	s.admin("GET /v1/stats", kenner.RoleViewer, s.getStats)
	s.admin("GET /v1/identity/rules", kenner.RoleViewer, s.getIdentityRules)
	s.admin("GET /v1/identity/blocked", kenner.RoleAdmin, s.listBlockedIdentifiers)
	s.admin("DELETE /v1/identity/blocked/{ref}", kenner.RoleAdmin, s.allowBlockedIdentifier)
	s.admin("GET /v1/computed-traits", kenner.RoleViewer, s.listComputedTraits)
	s.admin("POST /v1/computed-traits", kenner.RoleMarketer, s.putComputedTrait)
	s.admin("GET /v1/computed-traits/{name}", kenner.RoleViewer, s.getComputedTrait)
	s.admin("PUT /v1/computed-traits/{name}", kenner.RoleMarketer, s.putComputedTrait)
	s.admin("DELETE /v1/computed-traits/{name}", kenner.RoleMarketer, s.deleteComputedTrait)
	s.admin("GET /v1/segments", kenner.RoleViewer, s.listSegments)
	s.admin("POST /v1/segments", kenner.RoleMarketer, s.createSegment)
	s.admin("POST /v1/segments/preview", kenner.RoleMarketer, s.previewSegment)
	s.admin("GET /v1/segments/{id}", kenner.RoleViewer, s.getSegment)
	s.admin("PUT /v1/segments/{id}", kenner.RoleMarketer, s.updateSegment)
	s.admin("DELETE /v1/segments/{id}", kenner.RoleMarketer, s.deleteSegment)
	s.admin("GET /v1/segments/{id}/members", kenner.RoleAnalyst, s.listMembers)
	s.admin("GET /v1/segments/{id}/trend", kenner.RoleViewer, s.getSegmentTrend)
	s.admin("GET /v1/destinations", kenner.RoleAdmin, s.listDestinations)
	s.admin("POST /v1/destinations", kenner.RoleAdmin, s.createDestination)
	s.admin("GET /v1/destinations/{id}", kenner.RoleAdmin, s.getDestination)
	s.admin("PUT /v1/destinations/{id}", kenner.RoleAdmin, s.updateDestination)
	s.admin("DELETE /v1/destinations/{id}", kenner.RoleAdmin, s.deleteDestination)
	s.admin("GET /v1/destinations/{id}/deliveries", kenner.RoleAdmin, s.listDeliveries)
	s.admin("GET /v1/destinations/{id}/deliveries/{delivery}", kenner.RoleAdmin, s.getDelivery)
	s.admin("GET /v1/destinations/{id}/dead-letters", kenner.RoleAdmin, s.listDeadLetters)
	s.admin("POST /v1/destinations/{id}/dead-letters/replay", kenner.RoleAdmin, s.replayDeadLetters)
	s.admin("POST /v1/destinations/{id}/snapshot", kenner.RoleAdmin, s.snapshotDestination)
	s.admin("POST /v1/destinations/{id}/test", kenner.RoleAdmin, s.testDestination)
	s.admin("GET /v1/sources", kenner.RoleAdmin, s.listSources)
	s.admin("POST /v1/sources", kenner.RoleAdmin, s.createSource)
	s.admin("GET /v1/sources/{id}", kenner.RoleAdmin, s.getSource)
	s.admin("PUT /v1/sources/{id}/webhook", kenner.RoleAdmin, s.putWebhook)
	s.admin("POST /v1/sources/{id}/webhook/preview", kenner.RoleAdmin, s.previewWebhook)
	s.admin("DELETE /v1/sources/{id}/webhook", kenner.RoleAdmin, s.deleteWebhook)
	s.admin("PUT /v1/sources/{id}/tracking-plan", kenner.RoleAdmin, s.putTrackingPlan)
	s.admin("DELETE /v1/sources/{id}/tracking-plan", kenner.RoleAdmin, s.deleteTrackingPlan)
	s.admin("GET /v1/sources/{id}/violations", kenner.RoleAdmin, s.listViolations)
	s.admin("GET /v1/sources/{id}/quarantine", kenner.RoleAdmin, s.listQuarantine)
	s.admin("POST /v1/sources/{id}/quarantine/replay", kenner.RoleAdmin, s.replayQuarantine)
	s.admin("POST /v1/sources/{id}/quarantine/discard", kenner.RoleAdmin, s.discardQuarantine)
	s.admin("GET /v1/sources/{id}/tag", kenner.RoleAdmin, s.getTagSettings)
	s.admin("PUT /v1/sources/{id}/tag", kenner.RoleAdmin, s.putTagSettings)
	s.admin("GET /v1/journeys", kenner.RoleViewer, s.listJourneys)
	s.admin("POST /v1/journeys", kenner.RoleMarketer, s.createJourney)
	s.admin("POST /v1/journeys/check", kenner.RoleMarketer, s.checkJourney)
	s.admin("GET /v1/journeys/{id}", kenner.RoleViewer, s.getJourney)
	s.admin("PUT /v1/journeys/{id}", kenner.RoleMarketer, s.updateJourney)
	s.admin("DELETE /v1/journeys/{id}", kenner.RoleMarketer, s.deleteJourney)
	s.admin("POST /v1/journeys/{id}/publish", kenner.RoleMarketer, s.publishJourney)
	s.admin("POST /v1/journeys/{id}/pause", kenner.RoleMarketer, s.setJourneyStatus(kenner.JourneyLive, kenner.JourneyPaused))
	s.admin("POST /v1/journeys/{id}/resume", kenner.RoleMarketer, s.setJourneyStatus(kenner.JourneyPaused, kenner.JourneyLive))
	s.admin("POST /v1/journeys/{id}/archive", kenner.RoleMarketer, s.archiveJourney)
	s.admin("GET /v1/journeys/{id}/versions", kenner.RoleViewer, s.journeyVersions)
	s.admin("GET /v1/journeys/{id}/report", kenner.RoleViewer, s.journeyReport)
	s.admin("POST /v1/journeys/{id}/preview", kenner.RoleMarketer, s.previewJourneyEmail)
	s.admin("POST /v1/journeys/{id}/test", kenner.RoleMarketer, s.testJourneyEmail)
	s.admin("GET /v1/profiles/{ref}/journeys", kenner.RoleViewer, s.profileJourneys)
	s.admin("GET /v1/reports", kenner.RoleViewer, s.listReports)
	s.admin("POST /v1/reports", kenner.RoleMarketer, s.saveReport)
	s.admin("DELETE /v1/reports/{id}", kenner.RoleMarketer, s.deleteReport)
	s.admin("GET /v1/catalog", kenner.RoleViewer, s.listCatalog)
	s.admin("GET /v1/catalog/{id}", kenner.RoleViewer, s.getConnector)
	s.admin("POST /v1/catalog/{id}/sample", kenner.RoleViewer, s.sampleConnector)
	s.admin("GET /v1/syncs", kenner.RoleAdmin, s.listSyncs)
	s.admin("POST /v1/syncs", kenner.RoleAdmin, s.createSync)
	s.admin("POST /v1/syncs/test", kenner.RoleAdmin, s.testSync)
	s.admin("GET /v1/syncs/{id}", kenner.RoleAdmin, s.getSync)
	s.admin("PATCH /v1/syncs/{id}", kenner.RoleAdmin, s.updateSync)
	s.admin("DELETE /v1/syncs/{id}", kenner.RoleAdmin, s.deleteSync)
	s.admin("POST /v1/syncs/{id}/run", kenner.RoleAdmin, s.runSync)
	s.admin("GET /v1/syncs/{id}/runs", kenner.RoleAdmin, s.listSyncRuns)
	s.admin("GET /v1/analytics/campaigns", kenner.RoleViewer, s.cachedAnalytics(s.analyticsCampaigns))
	s.admin("POST /v1/spend", kenner.RoleMarketer, s.putSpend)
	s.admin("GET /v1/spend", kenner.RoleViewer, s.listSpend)
	s.admin("PUT /v1/currency-rates", kenner.RoleMarketer, s.putCurrencyRates)
	s.admin("GET /v1/currency-rates", kenner.RoleViewer, s.getCurrencyRates)
	s.admin("GET /v1/analytics/trends", kenner.RoleViewer, s.cachedAnalytics(s.analyticsTrend))
	s.admin("GET /v1/analytics/funnels", kenner.RoleViewer, s.cachedAnalytics(s.analyticsFunnel))
	s.admin("GET /v1/analytics/retention", kenner.RoleViewer, s.cachedAnalytics(s.analyticsRetention))
	s.admin("GET /v1/analytics/revenue", kenner.RoleViewer, s.cachedAnalytics(s.analyticsRevenue))
	s.admin("GET /v1/analytics/attribution", kenner.RoleViewer, s.cachedAnalytics(s.analyticsAttribution))
	s.admin("POST /v1/match/runs", kenner.RoleAdmin, s.startMatchRun)
	s.admin("GET /v1/match/runs", kenner.RoleAnalyst, s.listMatchRuns)
	s.admin("GET /v1/match/runs/{id}", kenner.RoleAnalyst, s.getMatchRun)
	s.admin("GET /v1/match/reviews", kenner.RoleAnalyst, s.listMatchReviews)
	s.admin("GET /v1/match/reviews/{id}", kenner.RoleAnalyst, s.getMatchReview)
	s.admin("POST /v1/match/reviews/{id}/accept", kenner.RoleAdmin, s.decideMatchReview(kenner.ReviewAccepted))
	s.admin("POST /v1/match/reviews/{id}/reject", kenner.RoleAdmin, s.decideMatchReview(kenner.ReviewRejected))
	s.admin("GET /v1/slots", kenner.RoleViewer, s.listSlots)
	s.admin("POST /v1/slots", kenner.RoleMarketer, s.createSlot)
	s.admin("GET /v1/slots/{id}", kenner.RoleViewer, s.getSlot)
	s.admin("PUT /v1/slots/{id}", kenner.RoleMarketer, s.updateSlot)
	s.admin("DELETE /v1/slots/{id}", kenner.RoleMarketer, s.deleteSlot)
	s.admin("GET /v1/models", kenner.RoleViewer, s.listModels)
	s.admin("POST /v1/models", kenner.RoleMarketer, s.createModel)
	s.admin("GET /v1/models/{id}", kenner.RoleViewer, s.getModel)
	s.admin("PUT /v1/models/{id}", kenner.RoleMarketer, s.updateModel)
	s.admin("DELETE /v1/models/{id}", kenner.RoleMarketer, s.deleteModel)
	s.admin("POST /v1/models/{id}/train", kenner.RoleMarketer, s.trainModel)
	s.admin("GET /v1/models/{id}/versions", kenner.RoleViewer, s.listModelVersions)
	s.admin("POST /v1/imports", kenner.RoleAdmin, s.createImport)
	s.admin("GET /v1/imports", kenner.RoleAdmin, s.listImports)
	s.admin("GET /v1/imports/{id}", kenner.RoleAdmin, s.getImport)
	s.admin("GET /v1/tokens", kenner.RoleAdmin, s.listTokens)
	s.admin("POST /v1/tokens", kenner.RoleAdmin, s.createToken)
	s.admin("DELETE /v1/tokens/{id}", kenner.RoleAdmin, s.revokeToken)
	s.admin("GET /v1/cluster", kenner.RoleAdmin, s.getCluster)
	s.admin("GET /v1/workspaces", kenner.RoleOwner, s.listWorkspaces)
	s.admin("POST /v1/workspaces", kenner.RoleOwner, s.createWorkspace)
	s.admin("GET /v1/workspaces/{id}", kenner.RoleOwner, s.getWorkspace)
	s.admin("DELETE /v1/workspaces/{id}", kenner.RoleOwner, s.deleteWorkspace)
	s.admin("GET /v1/users", kenner.RoleAdmin, s.listUsers)
	s.admin("POST /v1/users", kenner.RoleAdmin, s.createUser)
	s.admin("DELETE /v1/users/{id}", kenner.RoleAdmin, s.deleteUser)
	s.admin("POST /v1/users/{id}/password", kenner.RoleAdmin, s.resetUserPassword)
	s.admin("POST /v1/account/password", kenner.RoleViewer, s.changeOwnPassword)
	return s
}

// inProcessKey carries the token of an in-process call (Do).
type inProcessKey struct{}

// Do calls the admin API in process as tok (the console, for a signed-in user: the same
// routes, roles, masking and audit as a client with a token of that role) and returns the
// status and body of the answer.
func (s *Server) Do(ctx context.Context, tok *kenner.Token, method, path string, body []byte) (int, []byte) {
	if body == nil {
		return s.DoRaw(ctx, tok, method, path, "", nil)
	}
	return s.DoRaw(ctx, tok, method, path, "application/json", bytes.NewReader(body))
}

// DoRaw is Do with a body of any content type (a file to import).
func (s *Server) DoRaw(ctx context.Context, tok *kenner.Token, method, path, contentType string, body io.Reader) (int, []byte) {
	r := httptest.NewRequestWithContext(context.WithValue(ctx, inProcessKey{}, tok), method, path, body)
	r.RemoteAddr = "console"
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, r)
	return rec.Code, rec.Body.Bytes()
}

// Mount serves h under pattern on the admin listener (the console under /console/), and
// redirects / there.
func (s *Server) Mount(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.TrimSuffix(pattern, "/")+"/", http.StatusFound)
	})
}

// Public is the handler of the public listener when the admin API has its own
// (--admin-addr): the tracking API, webhook sources and health checks, nothing else.
func (s *Server) Public() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(s.public, w, r) })
}

// Routes lists every admin route with its least role.
func (s *Server) Routes() []Route { return s.routes }

// ServeHTTP implements http.Handler, timing every request by its route pattern.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.serve(s.mux, w, r) }

func (s *Server) serve(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	if h, pattern := mux.Handler(r); pattern == "" {
		unmatched(rec, r, h)
	} else {
		mux.ServeHTTP(rec, r)
	}
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	s.latency.WithLabelValues(route, strconv.Itoa(rec.status/100)+"xx").Observe(time.Since(start).Seconds())
}

// unmatched answers a request no route takes (404, or 405 with Allow for a known path) with
// the JSON error envelope, like every other error, instead of net/http's plain text.
func unmatched(w http.ResponseWriter, r *http.Request, h http.Handler) {
	probe := &headerProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if allow := probe.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	switch probe.status {
	case http.StatusMethodNotAllowed:
		web.Error(w, r, nil, kenner.Errorf(kenner.EMethodNotAllowed, "%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, probe.header.Get("Allow")))
	case http.StatusNotFound, 0:
		web.Error(w, r, nil, kenner.Errorf(kenner.ENotFound, "no such endpoint: %s %s (see /openapi.json)", r.Method, r.URL.Path))
	default: // a redirect the mux makes (a missing trailing slash): pass it on
		for k, v := range probe.header {
			w.Header()[k] = v
		}
		w.WriteHeader(probe.status)
	}
}

// headerProbe records what net/http's fallback handler would answer, without its body.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(code int)        { p.status = code }

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (read deadlines of the tracking
// API).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush lets streaming handlers flush through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// admin registers an admin route: a valid, active bearer token of at least role min is required.
func (s *Server) admin(pattern string, min kenner.Role, h func(http.ResponseWriter, *http.Request, *kenner.Token) error) {
	s.routes = append(s.routes, Route{Pattern: pattern, MinRole: min})
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		audit := audited(r, pattern)
		tok, err := s.authenticate(r)
		if err != nil {
			tok = nil
		}
		if err == nil {
			err = s.deps.TokenLimiter.Allow(tok.ID, 1)
		}
		if err == nil && !tok.Role.AtLeast(min) {
			err = kenner.Errorf(kenner.EForbidden, "this needs the %s role or higher; the token has %s", min, tok.Role)
		}
		var note *auditNote
		if audit {
			note = &auditNote{}
			r = r.WithContext(context.WithValue(r.Context(), auditNoteKey{}, note))
		}
		if err == nil {
			err = h(w, r, tok)
		}
		if err != nil {
			web.Error(w, r, s.deps.Logger, err)
		}
		if audit {
			status := http.StatusOK
			if rec, ok := w.(*statusRecorder); ok { // ServeHTTP's
				status = rec.status
			}
			s.recordAudit(r, pattern, tok, status, note)
		}
	})
}

func (s *Server) authenticate(r *http.Request) (*kenner.Token, error) {
	// The console's calls, made in process for a signed-in user (Do): the context carries
	// who it is, and nothing outside the process can put it there.
	if tok, ok := r.Context().Value(inProcessKey{}).(*kenner.Token); ok {
		return tok, nil
	}
	h := r.Header.Get("Authorization")
	scheme, secret, _ := strings.Cut(strings.TrimSpace(h), " ")
	if h == "" {
		return nil, kenner.Errorf(kenner.EUnauthorized, "missing token: send Authorization: Bearer <token>")
	}
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, kenner.Errorf(kenner.EUnauthorized, "Authorization must use the Bearer scheme")
	}
	return s.deps.Creds.Token(r.Context(), strings.TrimSpace(secret))
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	web.JSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when both the store and the log answer, so a load balancer stops
// sending events to a node that could not acknowledge them. It needs no token, so it says
// which part failed, not how: the error itself (addresses, SQL) goes to the server's log.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"store": "ok", "log": "ok"}
	status := http.StatusOK
	if err := s.deps.Store.Ping(ctx); err != nil {
		s.deps.Logger.Error("readiness: store", "err", err)
		checks["store"], status = "unavailable", http.StatusServiceUnavailable
	}
	if err := s.deps.Log.Ping(ctx); err != nil {
		s.deps.Logger.Error("readiness: log", "err", err)
		checks["log"], status = "unavailable", http.StatusServiceUnavailable
	}
	out := map[string]any{"status": map[bool]string{true: "ready", false: "unavailable"}[status == http.StatusOK], "checks": checks}
	if s.deps.Cluster != nil {
		// Which node answered, and what it processes: a load balancer's view of the cluster.
		st := s.deps.Cluster.Status()
		out["node"], out["partitions"], out["leader"] = st.Node, st.Held, st.Leader
	}
	web.JSON(w, status, out)
}
