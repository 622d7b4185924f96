package activation

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/kenner-cdp/kenner"
)

// worker sends one destination's queue.
type worker struct {
	s      *Service
	dest   kenner.Destination
	sender Sender
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	limiter *rate.Limiter // nil: no rate limit
	breaker breaker

	lastSnapshot time.Time // the period whose full export this worker queued
}

func (s *Service) startWorker(d kenner.Destination, snd Sender) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{s: s, dest: d, sender: snd, wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	if d.BatchSize <= 0 {
		w.dest.BatchSize = 1
	}
	if d.Parallel <= 0 {
		w.dest.Parallel = 4
	}
	if d.MaxAttempts <= 0 {
		w.dest.MaxAttempts = s.cfg.MaxAttempts
	}
	if d.RateLimit > 0 {
		w.limiter = rate.NewLimiter(rate.Limit(d.RateLimit), max(w.dest.BatchSize, int(d.RateLimit)/10, 1))
	}
	w.breaker = breaker{threshold: s.cfg.BreakerFailures, base: s.cfg.BackoffBase, max: min(s.cfg.BackoffMax, time.Minute)}
	go func() {
		defer close(w.done)
		defer snd.Close()
		w.run(ctx)
	}()
	return w
}

// stop ends the worker after its current round; what it claimed and did not settle becomes
// due again when the lease runs out.
func (w *worker) stop() {
	w.cancel()
	<-w.done
}

func (w *worker) wakeUp() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) run(ctx context.Context) {
	logger := w.s.logger.With("destination", w.dest.ID)
	for ctx.Err() == nil {
		now := w.s.now()
		w.scheduleSnapshot(ctx, now)
		// Several requests' worth per claim, so that claiming and settling (one store
		// transaction each) are shared by many deliveries.
		limit := w.dest.BatchSize * w.dest.Parallel * 4
		wait, probe := w.breaker.admit(now)
		if wait > 0 {
			w.sleep(ctx, wait, false)
			continue
		}
		if probe {
			limit = 1
		}
		claimed, err := w.s.store.ClaimDeliveries(ctx, w.dest.ID, now, now.Add(w.s.cfg.Lease), limit)
		if err != nil {
			if ctx.Err() == nil {
				logger.Error("claim deliveries", "err", err)
				w.sleep(ctx, w.s.cfg.Poll, false)
			}
			continue
		}
		if len(claimed) == 0 {
			w.sleep(ctx, w.s.cfg.Poll, true)
			continue
		}
		outcomes := w.deliver(ctx, claimed)
		// Settle even when stopping: the attempts happened.
		if err := w.s.store.Settle(context.WithoutCancel(ctx), outcomes); err != nil {
			logger.Error("settle deliveries; they will be sent again after the lease", "err", err)
			w.sleep(ctx, w.s.cfg.Poll, false)
		}
	}
}

// sleep waits for d, ctx, or (when wakeable) new deliveries.
func (w *worker) sleep(ctx context.Context, d time.Duration, wakeable bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	var wake chan struct{}
	if wakeable {
		wake = w.wake
	}
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
	}
}

// deliver sends claimed deliveries in requests of at most BatchSize, Parallel at once, and
// decides each one's outcome.
func (w *worker) deliver(ctx context.Context, claimed []kenner.Delivery) []kenner.Outcome {
	var chunks [][]kenner.Delivery
	for i := 0; i < len(claimed); i += w.dest.BatchSize {
		chunks = append(chunks, claimed[i:min(i+w.dest.BatchSize, len(claimed))])
	}
	outcomes := make([][]kenner.Outcome, len(chunks))
	var wg sync.WaitGroup
	slots := make(chan struct{}, w.dest.Parallel)
	for i, chunk := range chunks {
		if w.limiter != nil && w.limiter.WaitN(ctx, len(chunk)) != nil {
			// Stopping: leave the rest claimed; the lease brings them back.
			break
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			outcomes[i] = w.send(ctx, chunk)
		})
	}
	wg.Wait()
	var out []kenner.Outcome
	for _, o := range outcomes {
		out = append(out, o...)
	}
	return out
}

func (w *worker) send(ctx context.Context, chunk []kenner.Delivery) []kenner.Outcome {
	msgs := make([]Message, 0, len(chunk))
	var results []Result
	for _, d := range chunk {
		payload := d.Payload
		if d.Type != DeliverySnapshot {
			if mapped, err := Map(w.dest.Mapping, d.Payload); err == nil {
				payload = mapped
			}
		}
		msgs = append(msgs, Message{ID: d.ID, Key: d.Key, OrderKey: d.OrderKey, Type: d.Type, Payload: payload, Attempt: d.Attempts + 1})
	}
	start := time.Now()
	// The request finishes even when the worker is stopping, so that its outcome is known.
	results = w.sender.Send(context.WithoutCancel(ctx), msgs)
	latency := time.Since(start)
	now := w.s.now()
	out := make([]kenner.Outcome, len(chunk))
	failed := false
	for i, d := range chunk {
		r := Result{Err: errors.New("sender returned no result")}
		if i < len(results) {
			r = results[i]
		}
		a := kenner.Attempt{DeliveryID: d.ID, At: now, Status: r.Status, LatencyMS: float64(latency.Microseconds()) / 1000, Response: r.Response}
		if d.Type == kenner.ChangeProfileDeleted {
			// The receiver's answer about an erased person may name them: not kept.
			a.Response = ""
		}
		o := kenner.Outcome{DeliveryID: d.ID, Attempt: a}
		switch {
		case r.Err == nil:
			o.Status = kenner.DeliveryDelivered
			w.s.metrics.delivered.WithLabelValues(w.dest.Type).Inc()
			w.s.metrics.latency.Observe(now.Sub(d.CreatedAt).Seconds())
		case r.Permanent || d.Attempts+1 >= w.dest.MaxAttempts:
			o.Status, o.Attempt.Error = kenner.DeliveryDead, r.Err.Error()
			w.s.metrics.dead.WithLabelValues(w.dest.Type).Inc()
			failed = failed || !r.Permanent
		default:
			o.Status, o.Attempt.Error = kenner.DeliveryPending, r.Err.Error()
			o.NextAt = now.Add(w.retryDelay(d.Attempts + 1))
			if r.RetryAfter > 0 {
				o.NextAt = now.Add(min(r.RetryAfter, time.Hour))
				w.breaker.holdUntil(o.NextAt)
			}
			w.s.metrics.retried.WithLabelValues(w.dest.Type).Inc()
			failed = true
		}
		out[i] = o
	}
	w.breaker.record(now, !failed)
	return out
}

// retryDelay is the wait before attempt n+1 of a delivery that failed: prompt (jittered, at
// most promptRetryMax) while the receiver answers most requests, since the failure says
// little about the next try; backoff otherwise.
func (w *worker) retryDelay(n int) time.Duration {
	if w.breaker.healthy() {
		d := min(w.s.cfg.BackoffBase<<min(n-1, 30), promptRetryMax, w.s.cfg.BackoffMax)
		if d <= 0 {
			d = promptRetryMax
		}
		return d/2 + rand.N(d/2+1)
	}
	return w.backoff(n)
}

// promptRetryMax bounds the prompt retries of a healthy destination.
const promptRetryMax = 2 * time.Second

// backoff is the delay before attempt n+1: exponential with full jitter, so that many
// deliveries failing together do not come back together.
func (w *worker) backoff(n int) time.Duration {
	d := w.s.cfg.BackoffBase << min(n-1, 30)
	if d <= 0 || d > w.s.cfg.BackoffMax {
		d = w.s.cfg.BackoffMax
	}
	return d/2 + rand.N(d/2+1)
}

// breaker tells a receiver that is down from one that is flaky, by the outcomes of its
// recent requests. Down: after threshold failed requests in a row, when most recent requests
// failed, it sends nothing for a cool-down that doubles each time a probe (one delivery)
// fails, and closes again when a probe succeeds. Flaky (failures among successes): it stays
// closed, and a failed delivery is retried promptly (healthy).
type breaker struct {
	mu        sync.Mutex
	threshold int
	base, max time.Duration
	failures  int
	open      bool
	cooldown  time.Duration
	until     time.Time
	probing   bool
	recent    [breakerWindow]bool // outcomes of the last requests, true for a failure
	seen, pos int
}

// breakerWindow is how many recent requests the failure rate is taken over.
const breakerWindow = 20

// failureRate is the share of failed requests among the recent ones (0 with none yet).
func (b *breaker) failureRate() float64 {
	n := min(b.seen, breakerWindow)
	if n == 0 {
		return 0
	}
	failed := 0
	for i := range n {
		if b.recent[i] {
			failed++
		}
	}
	return float64(failed) / float64(n)
}

// healthy reports that the receiver is not down (its breaker closed, and not nearly every
// recent request failed): a delivery that failed among successes is the receiver's bad
// luck, retried promptly rather than backed off.
func (b *breaker) healthy() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.open && b.failureRate() < downRate
}

// admit says how long to wait before sending, and whether the next round is a probe.
func (b *breaker) admit(now time.Time) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Before(b.until) {
		return b.until.Sub(now), false
	}
	if b.open {
		b.probing = true
		return 0, true
	}
	return 0, false
}

func (b *breaker) record(now time.Time, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recent[b.pos] = !ok
	b.pos, b.seen = (b.pos+1)%breakerWindow, b.seen+1
	if ok {
		b.failures, b.open, b.probing, b.cooldown = 0, false, false, 0
		return
	}
	b.failures++
	// Open on a failed probe, or on a run of failures when most recent requests failed: a
	// run among many successes (a flaky receiver: 40% failures give a run of five about once
	// in a hundred requests) is not a receiver that is down.
	if b.probing || (b.failures >= b.threshold && b.failureRate() >= downRate) {
		b.open, b.probing = true, false
		if b.cooldown == 0 {
			b.cooldown = b.base
		} else {
			b.cooldown = min(2*b.cooldown, b.max)
		}
		b.until = maxTime(b.until, now.Add(b.cooldown))
	}
}

// downRate is the share of recent requests that must have failed for a run of failures to
// open the breaker.
const downRate = 0.8

// holdUntil honours a receiver's Retry-After for the whole destination.
func (b *breaker) holdUntil(t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.until = maxTime(b.until, t)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
