package activation

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// HTTPResult turns a receiver's answer (or the error of the request) into a Result the way
// HTTP destinations agree on: 2xx delivered; 408, 429 and 5xx retried (429 and 503 honouring
// Retry-After); any other status permanent; a request that got no answer retried. The
// delivery log keeps an excerpt of the answer only for 2xx and 4xx (what a receiver says about
// the request); redirects and server errors are where an internal service's page would show,
// so only their status is kept.
func HTTPResult(resp *http.Response, err error, now time.Time) Result {
	if err != nil {
		return Result{Err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // lets the connection be reused
	r := Result{Status: resp.StatusCode}
	if c := resp.StatusCode / 100; c == 2 || c == 4 {
		r.Response = Excerpt(body)
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return r
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		r.RetryAfter = RetryAfter(resp.Header.Get("Retry-After"), now)
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
	default:
		r.Permanent = true
	}
	r.Err = fmt.Errorf("receiver answered %s", resp.Status)
	return r
}

// RetryAfter reads a Retry-After header: seconds or an HTTP date (0 when absent or bad).
func RetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
