// Package enrich is the enrichment destination: for new and changed profiles it asks an HTTP
// service the operator configures (a firmographics API, an in-house scoring service) what it
// knows about the person, and records the traits it answers as an identify call from a source
// of their own. Being a destination, it is rate-limited, retried with backoff and
// dead-lettered like any other, and a failing service never holds up processing; being an
// identify call, the traits carry their source in the provenance, source priority applies to
// them, and erasing the person removes them with the profile.
package enrich

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/egress"
)

// Type is the destination type name.
const Type = "enrichment"

// Config is an enrichment destination's config.
type Config struct {
	// URL receives POST {"profile": {"id", "identities", "traits"}} and answers
	// {"traits": {...}} (204 or 404: nothing known).
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"` // API keys (kept secret)
	Timeout kenner.Duration   `json:"timeout"`
	// Source names the source the traits are recorded from (create it first): their
	// provenance, and their rank under source priority.
	Source string `json:"source"`
	// Watch are the traits whose change asks the service again (default email); a profile that
	// gains an identifier (a new person, an email) always does. Watched traits the service
	// answers are not taken, so that an answer cannot ask again.
	Watch []string `json:"watch"`
	// Send are the traits sent besides the watched ones (default none).
	Send []string `json:"send"`
	// Traits, when set, are the only answered traits taken.
	Traits []string `json:"traits"`
	// CacheTTL is how long an answer is reused for the same question (default 24h; "0s"
	// asks every time).
	CacheTTL *kenner.Duration `json:"cache_ttl"`
}

// Accepter appends Kenner's own messages for a source (the ingest handler).
type Accepter interface {
	Accept(ctx context.Context, src *kenner.Source, raws [][]byte) error
}

// Sources finds the source the traits come from.
type Sources interface {
	SourceByName(ctx context.Context, workspaceID, name string) (*kenner.Source, error)
}

// ParseConfig reads and checks a config.
func ParseConfig(d kenner.Destination, policy egress.Policy) (Config, error) {
	var c Config
	if len(d.Config) == 0 {
		return c, activation.Invalid("config.url and config.source are required")
	}
	if err := activation.DecodeConfig(d.Config, &c); err != nil {
		return c, err
	}
	if err := activation.CheckURL("config.url", c.URL, policy); err != nil {
		return c, err
	}
	if strings.TrimSpace(c.Source) == "" {
		return c, activation.Invalid("config.source is required: the name of the source the traits come from (create one, e.g. kenner source create enrichment)")
	}
	if !d.Subscribe.Profiles {
		return c, activation.Invalid("an enrichment destination works on profile changes: set subscribe.profiles to true")
	}
	if len(c.Watch) == 0 {
		c.Watch = []string{"email"}
	}
	if c.Timeout <= 0 {
		c.Timeout = kenner.Duration(10 * time.Second)
	}
	if c.CacheTTL == nil {
		ttl := kenner.Duration(24 * time.Hour)
		c.CacheTTL = &ttl
	}
	return c, nil
}

// Factory is the activation.Factory of enrichment destinations.
func Factory(policy egress.Policy, sources Sources, ingest Accepter) activation.Factory {
	return func(d kenner.Destination) (activation.Sender, error) {
		c, err := ParseConfig(d, policy)
		if err != nil {
			return nil, err
		}
		if ingest == nil {
			return nil, activation.Invalid("this server cannot record enriched traits (no ingest)")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := sources.SourceByName(ctx, d.WorkspaceID, c.Source); err != nil {
			return nil, activation.Invalid("config.source: %s (create the source first)", kenner.ErrorMessage(err))
		}
		return &sender{cfg: c, dest: d, sources: sources, ingest: ingest, client: policy.HTTPClient(time.Duration(c.Timeout), max(d.Parallel, 4)),
			cache: map[string]cached{}}, nil
	}
}

type cached struct {
	traits map[string]any
	at     time.Time
}

type sender struct {
	cfg     Config
	dest    kenner.Destination
	sources Sources
	ingest  Accepter
	client  *http.Client

	mu    sync.Mutex
	cache map[string]cached
}

// maxCache bounds the answers kept; the oldest go first when it is full.
const maxCache = 10000

// change is the part of a profile.updated delivery read.
type change struct {
	Type    string `json:"type"`
	Profile struct {
		ID         string              `json:"id"`
		Traits     map[string]any      `json:"traits"`
		Identities []kenner.Identifier `json:"identities"`
	} `json:"profile"`
	Changed struct {
		Traits     []string `json:"traits"`
		Identities bool     `json:"identities"`
		Merged     bool     `json:"merged"`
	} `json:"changed"`
}

func (s *sender) Close() error { return nil }

// Send asks the service about each changed profile, one request a profile.
func (s *sender) Send(ctx context.Context, msgs []activation.Message) []activation.Result {
	out := make([]activation.Result, len(msgs))
	for i, m := range msgs {
		out[i] = s.one(ctx, m)
	}
	return out
}

func (s *sender) one(ctx context.Context, m activation.Message) activation.Result {
	var c change
	if err := json.Unmarshal(m.Payload, &c); err != nil || c.Type != kenner.ChangeProfileUpdated || c.Profile.ID == "" {
		return activation.Result{Response: "skipped: not a profile change"}
	}
	if !c.Changed.Identities && !c.Changed.Merged && !slices.ContainsFunc(c.Changed.Traits, func(t string) bool { return slices.Contains(s.cfg.Watch, t) }) {
		return activation.Result{Response: "skipped: no watched trait changed"}
	}
	question := map[string]any{}
	for _, name := range append(append([]string(nil), s.cfg.Watch...), s.cfg.Send...) {
		if v, ok := c.Profile.Traits[name]; ok {
			question[name] = v
		}
	}
	ids := append([]kenner.Identifier(nil), c.Profile.Identities...)
	sort.Slice(ids, func(i, j int) bool { return ids[i].Kind+ids[i].Value < ids[j].Kind+ids[j].Value })
	body, _ := json.Marshal(map[string]any{"profile": map[string]any{"id": c.Profile.ID, "identities": ids, "traits": question}})
	// The cache is keyed by what is asked, without the profile id: a merged or re-created
	// profile with the same identifiers and traits gets the same answer.
	qkey, _ := json.Marshal(map[string]any{"identities": ids, "traits": question})
	sum := sha256.Sum256(qkey)
	key := hex.EncodeToString(sum[:])

	traits, hit := s.cached(key)
	if !hit {
		var res activation.Result
		traits, res = s.ask(ctx, body)
		if res.Err != nil {
			return res
		}
		s.remember(key, traits)
	}
	traits = s.keep(traits)
	if len(traits) == 0 {
		return activation.Result{Status: http.StatusOK, Response: "nothing to add"}
	}
	if err := s.record(ctx, c.Profile.ID, c.Profile.Identities, traits); err != nil {
		return activation.Result{Err: err}
	}
	names := make([]string, 0, len(traits))
	for k := range traits {
		names = append(names, k)
	}
	sort.Strings(names)
	how := "answered"
	if hit {
		how = "cached"
	}
	return activation.Result{Status: http.StatusOK, Response: how + ": " + strings.Join(names, ", ")}
}

// ask posts the question; a Result with Err when it failed (retried unless Permanent).
func (s *sender) ask(ctx context.Context, body []byte) (map[string]any, activation.Result) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return nil, activation.Result{Err: err, Permanent: true}
	}
	for k, v := range s.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Kenner-Enrichment/1")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, activation.Result{Err: egress.Generic(err)}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotFound:
		return map[string]any{}, activation.Result{}
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		res := activation.Result{Status: resp.StatusCode, Err: fmt.Errorf("enrichment service answered %d", resp.StatusCode), Response: activation.Excerpt(raw)}
		res.RetryAfter = activation.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return nil, res
	case resp.StatusCode >= 300:
		return nil, activation.Result{Status: resp.StatusCode, Err: fmt.Errorf("enrichment service answered %d", resp.StatusCode), Permanent: true, Response: activation.Excerpt(raw)}
	}
	var answer struct {
		Traits map[string]any `json:"traits"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return nil, activation.Result{Status: resp.StatusCode, Err: fmt.Errorf("the answer is not {\"traits\": {...}}: %v", err), Permanent: true, Response: activation.Excerpt(raw)}
	}
	if answer.Traits == nil {
		answer.Traits = map[string]any{}
	}
	return answer.Traits, activation.Result{}
}

// keep drops the answered traits the destination does not take: watched ones, and those not
// listed when a list is given.
func (s *sender) keep(traits map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range traits {
		if k == "" || slices.Contains(s.cfg.Watch, k) || (len(s.cfg.Traits) > 0 && !slices.Contains(s.cfg.Traits, k)) {
			continue
		}
		out[k] = v
	}
	return out
}

func (s *sender) cached(key string) (map[string]any, bool) {
	ttl := time.Duration(*s.cfg.CacheTTL)
	if ttl <= 0 {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cache[key]
	if !ok || time.Since(c.at) > ttl {
		return nil, false
	}
	return c.traits, true
}

func (s *sender) remember(key string, traits map[string]any) {
	if time.Duration(*s.cfg.CacheTTL) <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) >= maxCache {
		oldest, at := "", time.Now()
		for k, c := range s.cache {
			if c.at.Before(at) {
				oldest, at = k, c.at
			}
		}
		delete(s.cache, oldest)
	}
	s.cache[key] = cached{traits: traits, at: time.Now()}
}

// record appends the traits as an identify call from the enrichment's source, addressed by
// the profile's user id (or an anonymous id). Its message id derives from the profile and the
// traits, so the same answer recorded twice is one event.
func (s *sender) record(ctx context.Context, profileID string, ids []kenner.Identifier, traits map[string]any) error {
	msg := map[string]any{"type": kenner.TypeIdentify, "traits": traits, "timestamp": time.Now().UTC().Format(time.RFC3339Nano),
		"context": map[string]any{"enrichment": map[string]any{"destination_id": s.dest.ID, "destination": s.dest.Name}}}
	for _, id := range ids {
		if id.Kind == kenner.KindUserID && msg["userId"] == nil {
			msg["userId"] = id.Value
		}
	}
	if msg["userId"] == nil {
		for _, id := range ids {
			if id.Kind == kenner.KindAnonymousID {
				msg["anonymousId"] = id.Value
				break
			}
		}
	}
	if msg["userId"] == nil && msg["anonymousId"] == nil {
		return fmt.Errorf("profile %s has no user or anonymous id to record its traits under", profileID)
	}
	b, _ := json.Marshal(traits)
	sum := sha256.Sum256(append([]byte(s.dest.ID+"\x00"+profileID+"\x00"), b...))
	msg["messageId"] = "enrich-" + hex.EncodeToString(sum[:16])
	src, err := s.sources.SourceByName(ctx, s.dest.WorkspaceID, s.cfg.Source)
	if err != nil {
		return fmt.Errorf("the enrichment's source %q: %w", s.cfg.Source, err)
	}
	raw, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	return s.ingest.Accept(ctx, src, [][]byte{raw})
}
