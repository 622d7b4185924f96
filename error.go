package kenner

import (
	"errors"
	"fmt"
)

// Error codes shared by every layer. The HTTP layer maps them to status codes in one place
// (package web); the CLI maps invalid to exit status 2.
const (
	EInvalid      = "invalid"
	ENotFound     = "not_found"
	EConflict     = "conflict"
	EUnauthorized = "unauthorized"
	EForbidden    = "forbidden"
	ERateLimited  = "rate_limited"
	ETooLarge     = "too_large"
	EUnavailable  = "unavailable"
	EInternal     = "internal"
	// EFenced is a write refused because the writer's lease on a partition was taken over
	// by a newer one (scale-out): the writer must stop.
	EFenced = "fenced"
	// EMethodNotAllowed is a known path called with a method it does not take.
	EMethodNotAllowed = "method_not_allowed"
)

// Error is an application error whose message is safe to show to the caller.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or EInternal for any other
// non-nil error. Unknown errors are internal so that their text never leaks to callers.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the caller-safe message of the first *Error in err's chain, or a generic
// text for internal errors.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
