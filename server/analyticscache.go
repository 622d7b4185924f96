package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kenner-cdp/kenner"
)

// An analytics answer over a million people takes the projection up to seconds (attribution
// under every model, 2–3 s at 10M events); a dashboard shows the same reports again and
// again. Answers are kept for a while, and a request that accepts an answer up to max_age
// seconds old gets a kept one at once. Without max_age every request computes: the API's
// figures are as fresh as the projection (under a second behind the events).

// analyticsCacheSize bounds the answers kept (the least recently stored go first).
const analyticsCacheSize = 256

type cachedAnswer struct {
	at     time.Time
	status int
	header http.Header
	body   []byte
}

type analyticsCache struct {
	mu      sync.Mutex
	answers map[string]*cachedAnswer
}

func newAnalyticsCache() *analyticsCache {
	return &analyticsCache{answers: map[string]*cachedAnswer{}}
}

func (c *analyticsCache) get(key string, maxAge time.Duration, now time.Time) *cachedAnswer {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.answers[key]
	if a == nil || now.Sub(a.at) > maxAge {
		return nil
	}
	return a
}

func (c *analyticsCache) put(key string, a *cachedAnswer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.answers[key]; !ok && len(c.answers) >= analyticsCacheSize {
		oldest := ""
		for k, v := range c.answers {
			if oldest == "" || v.at.Before(c.answers[oldest].at) {
				oldest = k
			}
		}
		delete(c.answers, oldest)
	}
	c.answers[key] = a
}

// analyticsKey names an answer: the workspace, the report and its settings (max_age aside),
// and the format asked for.
// forget drops a workspace's kept answers.
func (c *analyticsCache) forget(ws string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.answers {
		if strings.HasPrefix(k, ws+" ") {
			delete(c.answers, k)
		}
	}
}

func analyticsKey(ws string, r *http.Request) string {
	q := r.URL.Query()
	q.Del("max_age")
	return ws + " " + r.URL.Path + "?" + q.Encode() + " " + strconv.FormatBool(wantsCSV(r))
}

// Workspaces lists the deployment's workspaces (for the console's background work).
func (s *Server) Workspaces(ctx context.Context) ([]kenner.Workspace, error) {
	return s.deps.Store.Workspaces(ctx)
}

// cachedAnalytics serves an analytics report from the kept answers when the request accepts
// one of its age (max_age, in seconds), and keeps what it computes.
func (s *Server) cachedAnalytics(h func(http.ResponseWriter, *http.Request, *kenner.Token) error) func(http.ResponseWriter, *http.Request, *kenner.Token) error {
	return func(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
		maxAge := time.Duration(0)
		if v := r.URL.Query().Get("max_age"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return kenner.Errorf(kenner.EInvalid, "max_age: a number of seconds, not %q", v)
			}
			maxAge = time.Duration(n) * time.Second
		}
		key := analyticsKey(tok.WorkspaceID, r)
		now := time.Now()
		if maxAge > 0 {
			if a := s.acache.get(key, maxAge, now); a != nil {
				writeAnswer(w, a, now)
				return nil
			}
		}
		rec := httptest.NewRecorder()
		if err := h(rec, r, tok); err != nil {
			return err
		}
		a := &cachedAnswer{at: now, status: rec.Code, header: rec.Header().Clone(), body: rec.Body.Bytes()}
		if rec.Code == http.StatusOK {
			s.acache.put(key, a)
		}
		writeAnswer(w, a, now)
		return nil
	}
}

func writeAnswer(w http.ResponseWriter, a *cachedAnswer, now time.Time) {
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.Header().Set("Age", strconv.Itoa(int(now.Sub(a.at).Seconds())))
	w.WriteHeader(a.status)
	w.Write(a.body)
}
