package standardize

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

var dateTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	time.RFC1123Z,
	time.RFC1123,
}

var dateLayouts = []string{"2006-01-02", "2006/01/02", "20060102"}

// Time reads a date or date-time: ISO 8601 / RFC 3339 with or without a zone (UTC assumed),
// a date alone, RFC 1123, or Unix time in seconds or milliseconds. layout, when not empty, is
// a Go time layout that the value must match instead (for sources with their own format, such
// as "02.01.2006"). dateOnly reports that the value had no time of day.
func Time(s, layout string) (t time.Time, dateOnly bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false, errors.New("empty")
	}
	if layout != "" {
		t, err := time.Parse(layout, s)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("%q does not match the format %q", s, layout)
		}
		return t.UTC(), !hasTimeOfDay(layout), nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && len(s) >= 9 {
		if n > 1e11 {
			return time.UnixMilli(n).UTC(), false, nil
		}
		return time.Unix(n, 0).UTC(), false, nil
	}
	// Every date-time layout has a colon: a date alone skips them (each failed parse costs
	// an error allocation, and imports carry a date column per row).
	if strings.IndexByte(s, ':') >= 0 {
		for _, l := range dateTimeLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC(), false, nil
			}
		}
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("%q is not an ISO 8601 date", s)
}

// Date returns a date-time as RFC 3339 in UTC, or a date alone as YYYY-MM-DD (RFC 3339's
// full-date). See Time for what it reads.
func Date(s, layout string) (string, error) {
	t, dateOnly, err := Time(s, layout)
	if err != nil {
		return "", err
	}
	if dateOnly {
		return t.Format("2006-01-02"), nil
	}
	return t.Format(time.RFC3339Nano), nil
}

// hasTimeOfDay reports whether a Go layout has an hour, minute or second element.
func hasTimeOfDay(layout string) bool {
	for _, token := range []string{"15", "03", "04", "05", "PM", "pm", "Kitchen"} {
		if strings.Contains(layout, token) {
			return true
		}
	}
	return false
}
