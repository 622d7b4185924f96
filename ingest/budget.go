package ingest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/web"
	"golang.org/x/sync/semaphore"
)

// The memory of request bodies being read is bounded by a budget that requests take from as
// their bytes arrive, not by what they might send: a client that trickles a body (one byte
// every few seconds, Transfer-Encoding: chunked) holds only what it sent, so a few hundred of
// them cannot starve the requests that send their events at once. Requests that did not
// authenticate in a header (a write key in the body, as sendBeacon needs) also draw on a
// smaller budget of their own, so unauthenticated traffic never holds all of it.
const (
	maxInFlightBytes        = 64 << 20
	maxUnauthInFlightBytes  = 16 << 20
	budgetChunk             = 32 << 10
	defaultBudgetWait       = 5 * time.Second
	defaultBodyReadDeadline = 30 * time.Second
)

// budget is the two semaphores and how long a request may wait on them.
type budget struct {
	all, unauth *semaphore.Weighted
	wait        time.Duration
}

func newBudget(wait time.Duration) *budget {
	if wait <= 0 {
		wait = defaultBudgetWait
	}
	return &budget{all: semaphore.NewWeighted(maxInFlightBytes), unauth: semaphore.NewWeighted(maxUnauthInFlightBytes), wait: wait}
}

// errBusy answers a request that could not get budget in time: the server has more bodies in
// memory than it allows; SDKs retry 503 with backoff.
var errBusy = &web.RetryAfter{Err: kenner.Errorf(kenner.EUnavailable, "the server is busy reading other requests; retry shortly"), Seconds: 1}

// reader takes budget for each chunk before reading it, and gives it all back on release.
type budgetReader struct {
	r      io.Reader
	b      *budget
	ctx    context.Context
	authed bool
	held   int64
}

func (b *budget) reader(ctx context.Context, r io.Reader, authed bool) *budgetReader {
	return &budgetReader{r: r, b: b, ctx: ctx, authed: authed}
}

func (br *budgetReader) Read(p []byte) (int, error) {
	if len(p) > budgetChunk {
		p = p[:budgetChunk]
	}
	want := int64(len(p))
	if err := br.acquire(want); err != nil {
		return 0, err
	}
	n, err := br.r.Read(p)
	if unused := want - int64(n); unused > 0 {
		br.give(unused)
	}
	return n, err
}

func (br *budgetReader) acquire(n int64) error {
	// The common case, memory to spare, takes no timer: a body is read in many small calls.
	if br.authed && br.b.all.TryAcquire(n) {
		br.held += n
		return nil
	}
	if !br.authed && br.b.unauth.TryAcquire(n) {
		if br.b.all.TryAcquire(n) {
			br.held += n
			return nil
		}
		br.b.unauth.Release(n)
	}
	ctx, cancel := context.WithTimeout(br.ctx, br.b.wait)
	defer cancel()
	if !br.authed {
		if err := br.b.unauth.Acquire(ctx, n); err != nil {
			return errBusy
		}
	}
	if err := br.b.all.Acquire(ctx, n); err != nil {
		if !br.authed {
			br.b.unauth.Release(n)
		}
		return errBusy
	}
	br.held += n
	return nil
}

func (br *budgetReader) give(n int64) {
	br.held -= n
	br.b.all.Release(n)
	if !br.authed {
		br.b.unauth.Release(n)
	}
}

// release returns everything the request holds; call it when its body is no longer needed.
func (br *budgetReader) release() {
	if br.held > 0 {
		br.give(br.held)
	}
}

// setReadDeadline bounds how long the rest of the request's body may take to arrive (the
// server's ReadHeaderTimeout bounds only the headers).
func setReadDeadline(w http.ResponseWriter, d time.Duration) {
	if w == nil || d <= 0 {
		return
	}
	// Not every ResponseWriter supports it (a recorder in a test): then nothing is bounded
	// here, as before, and the server's own timeouts apply.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
}

// slowBody reports a body read that hit its deadline.
func slowBody(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}
