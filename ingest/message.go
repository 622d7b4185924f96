package ingest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/jsonobj"
	"github.com/kenner-cdp/kenner/standardize"
)

// Limits of the tracking API, the same as Segment's.
const (
	MaxEventBytes   = 32 << 10
	MaxRequestBytes = 500 << 10
	maxIDLength     = 256
)

// requestInfo is what a message takes from the HTTP request that carried it.
type requestInfo struct {
	ip         string
	receivedAt time.Time
	// maxFuture is how far past receivedAt an event's time may lie (0: DefaultMaxFuture).
	maxFuture time.Duration
	// Batch-level fields apply to every message of a batch that lacks its own.
	sentAt  []byte
	context jsonobj.Object
	// geo locates the client's IP (nil: no location is added).
	geo Locator
}

// message is one validated, enriched Segment message, encoded for the log.
type message struct {
	id           string
	partitionKey string
	subject      kenner.Identifier // whose key encrypts it in the log
	body         []byte
	// problems are values that have no standard form (kept as sent).
	problems []standardize.Problem
}

// parseMessage validates one Segment message and enriches it the way Segment's and
// RudderStack's servers do. raw must be valid JSON (the caller checked the whole body once).
// pathType is the type fixed by the endpoint, or "" for batch/import.
func parseMessage(raw []byte, pathType string, req *requestInfo, uas *uaCache, rules *standardize.Rules) (message, error) {
	if len(raw) > MaxEventBytes {
		return message{}, kenner.Errorf(kenner.EInvalid, "event is %d bytes, more than the limit of 32 KB", len(raw))
	}
	m, err := jsonobj.Parse(raw)
	if err != nil {
		return message{}, kenner.Errorf(kenner.EInvalid, "event is not a JSON object")
	}
	typ := pathType
	if typ == "" {
		t, err := stringField(m, "type")
		if err != nil {
			return message{}, err
		}
		typ = strings.ToLower(t)
		if typ == "" {
			return message{}, kenner.Errorf(kenner.EInvalid, "type is required in a batch (one of %s)", strings.Join(kenner.EventTypes, ", "))
		}
		if !slices.Contains(kenner.EventTypes, typ) {
			return message{}, kenner.Errorf(kenner.EInvalid, "unknown type %q (want one of %s)", t, strings.Join(kenner.EventTypes, ", "))
		}
	}
	m = m.SetString("type", typ)

	var userID, anonymousID string
	if m, userID, err = idField(m, "userId"); err != nil {
		return message{}, err
	}
	if m, anonymousID, err = idField(m, "anonymousId"); err != nil {
		return message{}, err
	}
	if userID == "" && anonymousID == "" {
		return message{}, kenner.Errorf(kenner.EInvalid, "userId or anonymousId is required")
	}
	if m, err = checkType(m, typ); err != nil {
		return message{}, err
	}
	for _, f := range []string{"properties", "traits", "context", "integrations"} {
		if v := m.Get(f); !jsonobj.IsNull(v) && !jsonobj.IsObject(v) {
			return message{}, kenner.Errorf(kenner.EInvalid, "%s must be an object", f)
		}
	}

	msg := message{partitionKey: anonymousID}
	if msg.partitionKey == "" {
		msg.partitionKey = userID
	}
	if userID != "" {
		msg.subject = kenner.Identifier{Kind: kenner.KindUserID, Value: userID}
	} else {
		msg.subject = kenner.Identifier{Kind: kenner.KindAnonymousID, Value: anonymousID}
	}
	if msg.id, err = stringField(m, "messageId"); err != nil {
		return message{}, err
	}
	if len(msg.id) > maxIDLength {
		return message{}, kenner.Errorf(kenner.EInvalid, "messageId is longer than %d characters", maxIDLength)
	}
	if strings.TrimSpace(msg.id) == "" {
		msg.id = newMessageID()
		m = m.SetString("messageId", msg.id)
	}

	var clamped string
	if m, clamped, err = fixTimes(m, req); err != nil {
		return message{}, err
	}
	ctx, err := enrichContext(m, req, uas)
	if err != nil {
		return message{}, err
	}
	if clamped != "" {
		c, _ := jsonobj.Parse(ctx)
		ctx = c.SetString(ClampedKey, clamped).Encode()
	}
	m = m.Set("context", ctx)
	m, msg.problems = standardized(m, rules)
	// The write key is a credential: it must never reach the log, the store or a destination.
	m = m.Delete("writeKey")
	msg.body = m.Encode()
	return msg, nil
}

// checkType enforces what each type needs to mean anything.
func checkType(m jsonobj.Object, typ string) (jsonobj.Object, error) {
	required := map[string]string{kenner.TypeTrack: "event", kenner.TypeAlias: "previousId", kenner.TypeGroup: "groupId"}[typ]
	if required == "" {
		return m, nil
	}
	var v string
	var err error
	if typ == kenner.TypeTrack {
		v, err = stringField(m, required)
	} else {
		m, v, err = idField(m, required)
	}
	if err != nil {
		return m, err
	}
	if strings.TrimSpace(v) == "" {
		return m, kenner.Errorf(kenner.EInvalid, "%s is required for a %s call", required, typ)
	}
	return m, nil
}

// DefaultMaxFuture is how far past its receipt an event's time may lie by default: clocks
// drift, but an event cannot have happened tomorrow.
const DefaultMaxFuture = time.Hour

// ClampedKey is the context field that keeps an event's time as sent when it was clamped.
const ClampedKey = "clampedTimestamp"

// fixTimes sets receivedAt, originalTimestamp and timestamp. A client clock that is off is
// corrected as Segment does: timestamp = receivedAt - (sentAt - originalTimestamp). A timestamp
// set explicitly without sentAt (server libraries, historical imports) is kept as it is, unless
// it lies more than maxFuture after receivedAt: then it is clamped to receivedAt (a time in
// 2099 would otherwise pin the event's traits and last_seen for ever), and clamped is the
// time as sent, for the context.
func fixTimes(m jsonobj.Object, req *requestInfo) (_ jsonobj.Object, clamped string, _ error) {
	ts, hasTS, err := timeField(m, "timestamp")
	if err != nil {
		return m, "", err
	}
	orig, hasOrig, err := timeField(m, "originalTimestamp")
	if err != nil {
		return m, "", err
	}
	if !m.Has("sentAt") && req.sentAt != nil {
		m = m.Set("sentAt", req.sentAt)
	}
	sent, hasSent, err := timeField(m, "sentAt")
	if err != nil {
		return m, "", err
	}
	recv := req.receivedAt
	switch {
	case hasOrig && hasSent:
		ts = recv.Add(-sent.Sub(orig))
	case hasTS:
		if !hasOrig {
			orig, hasOrig = ts, true
		}
	case hasOrig:
		ts = orig
	default:
		ts = recv
	}
	maxFuture := req.maxFuture
	if maxFuture <= 0 {
		maxFuture = DefaultMaxFuture
	}
	if ts.After(recv.Add(maxFuture)) {
		clamped, ts = formatTime(ts), recv
	}
	m = m.SetString("receivedAt", formatTime(recv))
	m = m.SetString("timestamp", formatTime(ts))
	if hasOrig {
		m = m.SetString("originalTimestamp", formatTime(orig))
	}
	return m, clamped, nil
}

// TimeLayout is how Kenner writes times in messages: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ParseTime reads the date formats SDKs and spreadsheets send: ISO 8601 with or without zone
// (UTC assumed), date only, or epoch milliseconds or seconds as a number.
func ParseTime(raw []byte) (time.Time, error) {
	if len(raw) > 0 && raw[0] != '"' {
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || f < 0 || f > 1e14 {
			return time.Time{}, fmt.Errorf("not a date")
		}
		if f > 1e11 {
			return time.UnixMilli(int64(f)).UTC(), nil
		}
		return time.Unix(int64(f), 0).UTC(), nil
	}
	s, ok := jsonobj.String(raw)
	if !ok {
		return time.Time{}, fmt.Errorf("not a date")
	}
	t, _, err := standardize.Time(s, "")
	return t, err
}

func timeField(m jsonobj.Object, name string) (time.Time, bool, error) {
	raw := m.Get(name)
	if jsonobj.IsNull(raw) || string(raw) == `""` {
		return time.Time{}, false, nil
	}
	t, err := ParseTime(raw)
	if err != nil {
		return time.Time{}, false, kenner.Errorf(kenner.EInvalid, "%s: %v", name, err)
	}
	return t, true, nil
}

func stringField(m jsonobj.Object, name string) (string, error) {
	raw := m.Get(name)
	if jsonobj.IsNull(raw) {
		return "", nil
	}
	s, ok := jsonobj.String(raw)
	if !ok {
		return "", kenner.Errorf(kenner.EInvalid, "%s must be a string", name)
	}
	return s, nil
}

// idField reads an identifier, which SDKs send as a string or a number; it is stored as a string
// so that 42 and "42" are the same user. A blank identifier is removed.
func idField(m jsonobj.Object, name string) (jsonobj.Object, string, error) {
	raw := m.Get(name)
	if jsonobj.IsNull(raw) {
		return m, "", nil
	}
	var s string
	switch c := raw[0]; {
	case c == '"':
		var ok bool
		if s, ok = jsonobj.String(raw); !ok {
			return m, "", kenner.Errorf(kenner.EInvalid, "%s must be a string", name)
		}
	case c == '-' || (c >= '0' && c <= '9'):
		s = string(raw)
	default:
		return m, "", kenner.Errorf(kenner.EInvalid, "%s must be a string or a number", name)
	}
	if len(s) > maxIDLength {
		return m, "", kenner.Errorf(kenner.EInvalid, "%s is longer than %d characters", name, maxIDLength)
	}
	if strings.TrimSpace(s) == "" {
		return m.Delete(name), "", nil
	}
	return m.SetString(name, s), s, nil
}

func newMessageID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
