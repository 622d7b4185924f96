// Package web holds what every HTTP handler of Kenner shares: JSON responses and the one place
// where error codes become HTTP status codes.
package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/kenner-cdp/kenner"
)

// Status maps an error code to its HTTP status.
func Status(code string) int {
	switch code {
	case kenner.EInvalid:
		return http.StatusBadRequest
	case kenner.EUnauthorized:
		return http.StatusUnauthorized
	case kenner.EForbidden:
		return http.StatusForbidden
	case kenner.ENotFound:
		return http.StatusNotFound
	case kenner.EConflict, kenner.EFenced:
		return http.StatusConflict
	case kenner.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case kenner.ERateLimited:
		return http.StatusTooManyRequests
	case kenner.EUnavailable:
		return http.StatusServiceUnavailable
	case kenner.EMethodNotAllowed:
		return http.StatusMethodNotAllowed
	default:
		return http.StatusInternalServerError
	}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// RetryAfter can be wrapped around an error to ask the client to wait before retrying.
type RetryAfter struct {
	Err     error
	Seconds int
}

func (r *RetryAfter) Error() string { return r.Err.Error() }
func (r *RetryAfter) Unwrap() error { return r.Err }

// Error writes err as {"error": {"code", "message"}} with the matching status. Internal errors
// are logged here, and only here, with the request they broke; their text is not shown.
func Error(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	code := kenner.ErrorCode(err)
	status := Status(code)
	// A request its client gave up on is not a server fault worth an error line.
	if status >= 500 && logger != nil && r.Context().Err() == nil {
		logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var ra *RetryAfter
	if errors.As(err, &ra) && ra.Seconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ra.Seconds))
		w.Header().Set("X-RateLimit-Reset", strconv.Itoa(ra.Seconds)) // what analytics.js reads
	}
	JSON(w, status, errorBody{Error: errorDetail{Code: code, Message: kenner.ErrorMessage(err)}})
}

// JSON writes v as a JSON response with the given status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// Decode reads a JSON request body of at most max bytes into v, rejecting unknown fields so that
// a typo in a request is an error rather than a silently ignored setting.
func Decode(r *http.Request, max int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, max))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return kenner.Errorf(kenner.ETooLarge, "request body is larger than %d bytes", max)
		}
		return kenner.Errorf(kenner.EInvalid, "request body: %v", err)
	}
	return nil
}
