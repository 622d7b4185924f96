package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kenner-cdp/kenner"
)

func TestError(t *testing.T) {
	tests := []struct {
		err        error
		status     int
		code, msg  string
		retryAfter string
	}{
		{kenner.Errorf(kenner.EInvalid, "bad %s", "thing"), 400, "invalid", "bad thing", ""},
		{fmt.Errorf("wrapped: %w", kenner.Errorf(kenner.ENotFound, "gone")), 404, "not_found", "gone", ""},
		{kenner.Errorf(kenner.EUnauthorized, "who"), 401, "unauthorized", "who", ""},
		{kenner.Errorf(kenner.EForbidden, "no"), 403, "forbidden", "no", ""},
		{kenner.Errorf(kenner.EConflict, "twice"), 409, "conflict", "twice", ""},
		{kenner.Errorf(kenner.ETooLarge, "big"), 413, "too_large", "big", ""},
		{&RetryAfter{Err: kenner.Errorf(kenner.ERateLimited, "slow down"), Seconds: 3}, 429, "rate_limited", "slow down", "3"},
		{kenner.Errorf(kenner.EUnavailable, "later"), 503, "unavailable", "later", ""},
		{errors.New("secret path /etc/x"), 500, "internal", "internal error", ""},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		Error(rec, httptest.NewRequest("GET", "/", nil), nil, tc.err)
		var body struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%v: body %q", tc.err, rec.Body)
		}
		if rec.Code != tc.status || body.Error.Code != tc.code || body.Error.Message != tc.msg {
			t.Errorf("%v: got %d %q %q, want %d %q %q", tc.err, rec.Code, body.Error.Code, body.Error.Message, tc.status, tc.code, tc.msg)
		}
		if got := rec.Header().Get("Retry-After"); got != tc.retryAfter {
			t.Errorf("%v: Retry-After %q, want %q", tc.err, got, tc.retryAfter)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		body string
		code string
	}{
		{`{"Name":"x"}`, ""},
		{`{"Name":"x","Other":1}`, kenner.EInvalid},
		{`{"Name":`, kenner.EInvalid},
		{`{"Name":"` + strings.Repeat("x", 2000) + `"}`, kenner.ETooLarge},
	}
	for _, tc := range tests {
		var v struct{ Name string }
		r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
		if got := kenner.ErrorCode(Decode(r, 1000, &v)); got != tc.code {
			t.Errorf("Decode(%.20q) code %q, want %q", tc.body, got, tc.code)
		}
	}
}
