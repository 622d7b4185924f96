package web

import (
	"sync"
	"time"

	"github.com/kenner-cdp/kenner"
	"golang.org/x/time/rate"
)

// Limiter is a token bucket per key (a source, a token): rate units per second sustained, burst
// at once. A nil Limiter, or one with a rate of 0, allows everything.
type Limiter struct {
	rate  float64
	burst int
	what  string // the key's kind, for messages: "source", "token"
	unit  string // what is counted: "events", "requests"
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// NewLimiter returns a limiter of perSecond units per key, with burst (default: 10 s worth).
func NewLimiter(perSecond float64, burst int, what, unit string, now func() time.Time) *Limiter {
	if perSecond > 0 && burst <= 0 {
		burst = max(1, int(perSecond*10))
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: perSecond, burst: burst, what: what, unit: unit, now: now, buckets: map[string]*rate.Limiter{}}
}

// Burst is the most units one key may spend at once.
func (l *Limiter) Burst() int { return l.burst }

// Allow spends n units of key's bucket, or answers a rate-limited error saying when to retry.
func (l *Limiter) Allow(key string, n int) error {
	if l == nil || l.rate <= 0 {
		return nil
	}
	l.mu.Lock()
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(rate.Limit(l.rate), l.burst)
		l.buckets[key] = b
	}
	l.mu.Unlock()
	now := l.now()
	res := b.ReserveN(now, n)
	if !res.OK() {
		return kenner.Errorf(kenner.ERateLimited, "a request of %d %s is larger than this %s's burst limit of %d", n, l.unit, l.what, l.burst)
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return &RetryAfter{Err: kenner.Errorf(kenner.ERateLimited, "rate limit of %g %s/s exceeded for this %s", l.rate, l.unit, l.what), Seconds: int(d.Seconds()) + 1}
	}
	return nil
}
