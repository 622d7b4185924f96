package inbound

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/importer"
)

// Mapping is a compiled kenner.WebhookMapping.
type Mapping struct {
	name   string // the preset, or "webhook"
	verify *kenner.WebhookVerify
	each   jsonPath // the list of items a payload carries (nil: the payload, or a JSON array's items)
	rules  []rule
}

type rule struct {
	name   string
	typ    string
	event  string
	when   *program
	fields []field
}

// field fills one message field from a path, an expression or a literal.
type field struct {
	target  []string
	path    jsonPath
	expr    *program
	literal string
}

// Compile checks a mapping (its types, targets, paths and expressions) and resolves its
// preset. A mapping with a preset and no events uses the preset's events; the preset also
// names the signature scheme and header when Verify gives only a secret.
func Compile(m kenner.WebhookMapping) (*Mapping, error) {
	out := &Mapping{name: "webhook", verify: m.Verify}
	events, each := m.Events, m.Each
	if m.Preset != "" {
		p, err := preset(m.Preset)
		if err != nil {
			return nil, err
		}
		out.name = m.Preset
		if len(events) == 0 {
			events, each = p.Events, p.Each
		}
		if out.verify != nil && out.verify.Scheme == "" && p.Verify != nil {
			v := *out.verify
			v.Scheme = p.Verify.Scheme
			if v.Header == "" {
				v.Header = p.Verify.Header // the vendor's signature header
			}
			out.verify = &v
		}
	}
	if len(events) == 0 {
		return nil, kenner.Errorf(kenner.EInvalid, "a webhook mapping needs events (or a preset: %s)", strings.Join(Presets(), ", "))
	}
	if err := checkVerify(out.verify); err != nil {
		return nil, err
	}
	if each != "" {
		p, err := parsePath(each)
		if err != nil {
			return nil, kenner.Errorf(kenner.EInvalid, "webhook mapping: each: %v", err)
		}
		out.each = p
	}
	env, err := newEnv()
	if err != nil {
		return nil, err
	}
	for i, ev := range events {
		r, err := compileRule(env, i, ev)
		if err != nil {
			return nil, kenner.Errorf(kenner.EInvalid, "webhook mapping: events[%d]: %v", i, err)
		}
		out.rules = append(out.rules, r)
	}
	return out, nil
}

func compileRule(env *cel.Env, i int, ev kenner.WebhookEvent) (rule, error) {
	r := rule{name: ev.Name, typ: strings.ToLower(ev.Type), event: ev.Event}
	if r.name == "" {
		r.name = strconv.Itoa(i)
	}
	if !slices.Contains(importer.Types, r.typ) {
		return r, fmt.Errorf("type %q is not one of %s", ev.Type, strings.Join(importer.Types, ", "))
	}
	if ev.When != "" {
		p, err := compileExpr(env, ev.When, true)
		if err != nil {
			return r, err
		}
		r.when = p
	}
	targets := make([]string, 0, len(ev.Fields))
	for t := range ev.Fields {
		targets = append(targets, t)
	}
	slices.Sort(targets) // a stable order, so that the same payload makes the same message
	for _, t := range targets {
		tp, err := importer.TargetPath(t)
		if err != nil {
			return r, err
		}
		f := field{target: tp}
		src := strings.TrimSpace(ev.Fields[t])
		switch {
		case strings.HasPrefix(src, "$"):
			if f.path, err = parsePath(src); err != nil {
				return r, fmt.Errorf("%s: %w", t, err)
			}
		case strings.HasPrefix(src, "="):
			if f.expr, err = compileExpr(env, strings.TrimSpace(src[1:]), false); err != nil {
				return r, fmt.Errorf("%s: %w", t, err)
			}
		default:
			f.literal = ev.Fields[t]
		}
		r.fields = append(r.fields, f)
	}
	if r.typ == "track" && r.event == "" && !slices.ContainsFunc(r.fields, func(f field) bool { return f.target[0] == "event" }) {
		return r, fmt.Errorf("a track event needs an event name (event, or a field for event)")
	}
	return r, nil
}

// Message is one message a payload made, and the mapping event that made it.
type Message struct {
	Rule string
	Body []byte
}

// Messages turns one payload into messages: one for each mapping event whose condition holds.
// Their message ids derive from the source, the mapping event and the payload (or its mapped
// messageId), so that a sender's retry of the same delivery is recognized as a duplicate.
func (m *Mapping) Messages(sourceID string, body []byte, h http.Header) ([]Message, error) {
	payload, err := decodePayload(body, h.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	headers := map[string]string{}
	for k, v := range h {
		if len(v) > 0 {
			headers[strings.ToLower(k)] = v[0]
		}
	}
	bodySum := sha256.Sum256(body)
	// A batch (a JSON array, or the list each names) is mapped item by item; an item's
	// messages derive their ids from the item, so that a sender batching its retry
	// differently still repeats the same ids.
	items, batch := []any{payload}, false
	switch {
	case m.each != nil:
		v, _ := m.each.eval(payload)
		list, ok := v.([]any)
		if !ok {
			return nil, nil
		}
		items, batch = list, true
	default:
		if list, ok := payload.([]any); ok {
			items, batch = list, true
		}
	}
	var out []Message
	for _, item := range items {
		base := hex.EncodeToString(bodySum[:])
		if batch {
			b, _ := json.Marshal(item)
			sum := sha256.Sum256(b)
			base = hex.EncodeToString(sum[:])
		}
		msgs, err := m.itemMessages(sourceID, item, headers, base)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// itemMessages maps one payload (or one item of a batch).
func (m *Mapping) itemMessages(sourceID string, payload any, headers map[string]string, base string) ([]Message, error) {
	vars := map[string]any{"payload": celValue(payload), "headers": headers}
	var out []Message
	for _, r := range m.rules {
		if r.when != nil {
			ok, found, err := r.when.eval(vars)
			if err != nil {
				return nil, kenner.Errorf(kenner.EInvalid, "mapping event %s: condition: %v", r.name, err)
			}
			if b, _ := ok.(bool); !found || !b {
				continue
			}
		}
		msg := map[string]any{"type": r.typ}
		if r.event != "" {
			msg["event"] = r.event
		}
		for _, f := range r.fields {
			var v any
			var found bool
			switch {
			case f.path != nil:
				v, found = f.path.eval(payload)
			case f.expr != nil:
				var err error
				if v, found, err = f.expr.eval(vars); err != nil {
					return nil, kenner.Errorf(kenner.EInvalid, "mapping event %s: %s: %v", r.name, strings.Join(f.target, "."), err)
				}
			default:
				v, found = f.literal, true
			}
			if !found || v == nil || v == "" || isEmptyObject(v) {
				continue
			}
			v, err := fieldValue(f.target, v)
			if err != nil {
				return nil, kenner.Errorf(kenner.EInvalid, "mapping event %s: %s: %v", r.name, strings.Join(f.target, "."), err)
			}
			setPath(msg, f.target, v)
		}
		key := base
		if id, ok := msg["messageId"].(string); ok {
			key = "id:" + id
		}
		sum := sha256.Sum256([]byte(sourceID + "\x00" + r.name + "\x00" + key))
		msg["messageId"] = "wh-" + hex.EncodeToString(sum[:16])
		ctx, _ := msg["context"].(map[string]any)
		if ctx == nil {
			ctx = map[string]any{}
			msg["context"] = ctx
		}
		ctx["integration"] = map[string]any{"name": m.name}
		b, err := json.Marshal(msg)
		if err != nil {
			return nil, err
		}
		out = append(out, Message{Rule: r.name, Body: b})
	}
	return out, nil
}

// fieldValue fits a value to the message field it fills: identifiers and names are strings
// (payloads often carry numeric ids), and a timestamp given as a number is Unix time.
func fieldValue(target []string, v any) (any, error) {
	if len(target) != 1 {
		return v, nil
	}
	switch target[0] {
	case "timestamp":
		if s, ok := scalarString(v); ok {
			if n, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "-:T") {
				return unixTime(n), nil
			}
			return s, nil
		}
		return nil, fmt.Errorf("a timestamp must be a string or a number, not %T", v)
	default:
		s, ok := scalarString(v)
		if !ok {
			return nil, fmt.Errorf("must be a string, not %s", jsonKind(v))
		}
		return s, nil
	}
}

// unixTime reads seconds, or milliseconds when the number is too large to be seconds.
func unixTime(n float64) string {
	if n > 1e11 {
		// Milliseconds: whole ones, without the float error of dividing (…00.122999906).
		return time.UnixMilli(int64(math.Round(n))).UTC().Format(time.RFC3339Nano)
	}
	sec, frac := math.Modf(n)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC().Format(time.RFC3339Nano)
}

func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

func setPath(m map[string]any, p []string, v any) {
	for _, k := range p[:len(p)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[p[len(p)-1]] = v
}

// isEmptyObject reports an empty JSON object: like an empty string, it sets nothing (a
// condition that gives {} when it does not apply).
func isEmptyObject(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 0
}
