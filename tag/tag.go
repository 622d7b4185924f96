// Package tag is Kenner's presence on a website: the first-party browser tag (the analytics.js
// API, served at the path Segment's snippet loads), the settings document Segment's
// analytics-next library reads, and the personalization decision API the tag calls to fill
// slots on the page.
package tag

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/web"
)

//go:embed assets/tag.js
var script []byte

// configMark is where the served script receives its source's configuration.
var configMark = []byte("/*@config*/ null")

// Sources resolves a write key to its source.
type Sources interface {
	Source(ctx context.Context, writeKey string) (*kenner.Source, error)
}

// Normalizer brings identifiers to the form the identity graph stores.
type Normalizer interface {
	Normalize(kind, value string) (string, error)
}

// Config tunes the handler.
type Config struct {
	Version string // the tag reports it as context.library.version
	// TrustProxy reads the scheme from X-Forwarded-Proto (behind a TLS-terminating proxy).
	TrustProxy bool
}

// Handler serves the tag, its settings and the decision API.
type Handler struct {
	sources Sources
	decider *Decider
	norm    Normalizer
	logger  *slog.Logger
	cfg     Config

	mu      sync.Mutex
	scripts map[string]*builtScript // by source id + settings
}

type builtScript struct {
	plain, gz []byte
	etag      string
}

// New returns a Handler.
func New(sources Sources, decider *Decider, norm Normalizer, logger *slog.Logger, cfg Config) *Handler {
	return &Handler{sources: sources, decider: decider, norm: norm, logger: logger, cfg: cfg, scripts: map[string]*builtScript{}}
}

// Register adds the tag's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /analytics.js/v1/{writeKey}/analytics.min.js", h.serveScript)
	mux.HandleFunc("GET /analytics.js/v1/{writeKey}/analytics.js", h.serveScript)
	mux.HandleFunc("GET /v1/projects/{writeKey}/settings", h.cors(h.serveSettings))
	mux.HandleFunc("OPTIONS /v1/projects/{writeKey}/settings", h.cors(noContent))
	mux.HandleFunc("GET /v1/personalize", h.cors(h.servePersonalize))
	mux.HandleFunc("OPTIONS /v1/personalize", h.cors(noContent))
}

func noContent(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

// cors lets any site call these read-only endpoints; they take the (public) write key, never
// cookies.
func (h *Handler) cors(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", "*")
		hd.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
		hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		hd.Set("Access-Control-Max-Age", "86400")
		next(w, r)
	}
}

// source resolves the write key of a tag URL; an unknown key is 404 (there is no such tag).
func (h *Handler) source(r *http.Request, key string) (*kenner.Source, error) {
	src, err := h.sources.Source(r.Context(), key)
	if kenner.ErrorCode(err) == kenner.EUnauthorized {
		return nil, kenner.Errorf(kenner.ENotFound, "no source has this write key")
	}
	return src, err
}

// scriptConfig is what the served script knows of its source.
type scriptConfig struct {
	WriteKey string             `json:"writeKey"`
	Version  string             `json:"version"`
	Settings kenner.TagSettings `json:"settings"`
}

func (h *Handler) serveScript(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("writeKey")
	src, err := h.source(r, key)
	if err != nil {
		web.Error(w, r, h.logger, err)
		return
	}
	var set kenner.TagSettings
	if src.Settings.Tag != nil {
		set = *src.Settings.Tag
	}
	conf, _ := json.Marshal(scriptConfig{WriteKey: key, Version: h.cfg.Version, Settings: set})
	s := h.built(key, conf)
	hd := w.Header()
	hd.Set("Content-Type", "text/javascript; charset=utf-8")
	// Short enough that a changed setting reaches visitors within minutes, without a deploy.
	hd.Set("Cache-Control", "public, max-age=300")
	hd.Set("ETag", s.etag)
	hd.Set("Vary", "Accept-Encoding")
	hd.Set("X-Content-Type-Options", "nosniff")
	if r.Header.Get("If-None-Match") == s.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := s.plain
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		hd.Set("Content-Encoding", "gzip")
		body = s.gz
	}
	w.Write(body)
}

// built returns the script for a configuration, compressed once: every page view of a site
// loads it.
func (h *Handler) built(key string, conf []byte) *builtScript {
	sum := sha256.Sum256(append([]byte(key+"\x00"), conf...))
	id := hex.EncodeToString(sum[:12])
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.scripts[id]; ok {
		return s
	}
	plain := bytes.Replace(script, configMark, conf, 1)
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(plain)
	zw.Close()
	if len(h.scripts) > 1000 { // settings changed many times: start afresh
		clear(h.scripts)
	}
	s := &builtScript{plain: plain, gz: gz.Bytes(), etag: `"` + id + `"`}
	h.scripts[id] = s
	return s
}

// Script returns the tag as served for a write key and settings, and its gzipped size (for
// the size budget's test and benchmark).
func Script(writeKey string, set kenner.TagSettings) (plain []byte, gzipped int) {
	conf, _ := json.Marshal(scriptConfig{WriteKey: writeKey, Settings: set})
	h := &Handler{scripts: map[string]*builtScript{}}
	s := h.built(writeKey, conf)
	return s.plain, len(s.gz)
}

// serveSettings answers the settings document of Segment's analytics-next: its Segment.io
// integration sends to this Kenner, with nothing else enabled and no metrics sent anywhere.
func (h *Handler) serveSettings(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("writeKey")
	if _, err := h.source(r, key); err != nil {
		web.Error(w, r, h.logger, err)
		return
	}
	// An https page may only send to https (mixed content is blocked), so a page asking over
	// https means Kenner is reached over https, whatever terminates the TLS in between.
	scheme := "http"
	if r.TLS != nil || h.cfg.TrustProxy && r.Header.Get("X-Forwarded-Proto") == "https" ||
		strings.HasPrefix(r.Header.Get("Origin"), "https://") || strings.HasPrefix(r.Header.Get("Referer"), "https://") {
		scheme = "https"
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	web.JSON(w, http.StatusOK, map[string]any{
		"integrations": map[string]any{
			"Segment.io": map[string]any{
				"apiKey":                key,
				"apiHost":               r.Host + "/v1",
				"protocol":              scheme,
				"unbundledIntegrations": []string{},
				"addBundledMetadata":    false,
				"maybeBundledConfigIds": map[string]any{},
				"versionSettings":       map[string]any{"componentTypes": []string{"browser"}},
			},
		},
		"plan": map[string]any{
			"track":    map[string]any{"__default": map[string]any{"enabled": true, "integrations": map[string]any{}}},
			"identify": map[string]any{"__default": map[string]any{"enabled": true}},
			"group":    map[string]any{"__default": map[string]any{"enabled": true}},
		},
		"edgeFunction":              map[string]any{},
		"analyticsNextEnabled":      true,
		"middlewareSettings":        map[string]any{},
		"enabledMiddleware":         map[string]any{},
		"metrics":                   map[string]any{"sampleRate": 0},
		"legacyVideoPluginsEnabled": false,
		"remotePlugins":             []any{},
		"consentSettings":           map[string]any{"allCategories": []string{}},
	})
}

// servePersonalize answers GET /v1/personalize?anonymousId=&userId= with the write key (HTTP
// Basic user, or writeKey in the query so that a browser needs no preflight).
func (h *Handler) servePersonalize(w http.ResponseWriter, r *http.Request) {
	if err := h.personalize(w, r); err != nil {
		web.Error(w, r, h.logger, err)
	}
}

func (h *Handler) personalize(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	key, _, _ := r.BasicAuth()
	if key == "" {
		key = q.Get("writeKey")
	}
	src, err := h.sources.Source(r.Context(), key)
	if err != nil {
		return err
	}
	var ids []kenner.Identifier
	for _, p := range []struct{ param, kind string }{{"userId", kenner.KindUserID}, {"anonymousId", kenner.KindAnonymousID}} {
		v := strings.TrimSpace(q.Get(p.param))
		if v == "" {
			continue
		}
		n, err := h.norm.Normalize(p.kind, v)
		if err != nil {
			return kenner.Errorf(kenner.EInvalid, "%s: %v", p.param, err)
		}
		ids = append(ids, kenner.Identifier{Kind: p.kind, Value: n})
	}
	if len(ids) == 0 {
		return kenner.Errorf(kenner.EInvalid, "name the visitor: ?anonymousId=... or ?userId=...")
	}
	ans, err := h.decider.Decide(r.Context(), src.WorkspaceID, ids)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	web.JSON(w, http.StatusOK, ans)
	return nil
}
