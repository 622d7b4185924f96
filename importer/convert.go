package importer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kenner-cdp/kenner/jsonobj"
	"github.com/kenner-cdp/kenner/standardize"
)

// converter turns rows into Segment messages, following a compiled mapping.
type converter struct {
	typ       string
	sourceID  string
	cols      []column
	constants []constant
	event     string
	keepEmpty bool
	// passthrough: an NDJSON file of Segment messages, imported as they are.
	passthrough bool
}

type column struct {
	name  string
	index int      // CSV: position in the header
	path  []string // NDJSON: path into the object
	to    target
}

type constant struct {
	to  target
	raw []byte
}

// newConverter compiles a mapping for a file with the given header (nil for NDJSON).
func newConverter(m *Mapping, typ, sourceID string, header []string, ndjson bool) (*converter, error) {
	c := &converter{typ: typ, sourceID: sourceID, event: m.Event, keepEmpty: m.KeepEmpty}
	if ndjson && len(m.Columns) == 0 {
		c.passthrough = true
		return c, nil
	}
	if len(m.Columns) == 0 {
		return nil, errors.New("the mapping has no columns: say which column goes where (columns: {Email: traits.email, ...})")
	}
	names := make([]string, 0, len(m.Columns))
	for name := range m.Columns {
		names = append(names, name)
	}
	slices.Sort(names)
	targets := map[string]string{}
	for _, name := range names {
		spec := m.Columns[name]
		to, err := compileTarget(spec.Target, spec.Type, spec.Format, m.TimestampFormat)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", name, err)
		}
		key := strings.Join(to.path, ".")
		if other, dup := targets[key]; dup {
			return nil, fmt.Errorf("columns %q and %q both go to %s", other, name, key)
		}
		targets[key] = name
		col := column{name: name, to: to}
		if ndjson {
			col.path = strings.Split(name, ".")
		} else if col.index = headerIndex(header, name); col.index < 0 {
			return nil, fmt.Errorf("column %q of the mapping is not in the file (its columns: %s)", name, strings.Join(header, ", "))
		}
		c.cols = append(c.cols, col)
	}
	// Constants are applied in a fixed order, so that the same row always makes the same
	// message (and the same idempotency key).
	consts := make([]string, 0, len(m.Constants))
	for k := range m.Constants {
		consts = append(consts, k)
	}
	slices.Sort(consts)
	for _, k := range consts {
		to, err := compileTarget(k, "json", "", "")
		if err != nil {
			return nil, fmt.Errorf("constant %q: %w", k, err)
		}
		raw, err := json.Marshal(m.Constants[k])
		if err != nil {
			return nil, fmt.Errorf("constant %q: %w", k, err)
		}
		c.constants = append(c.constants, constant{to: to, raw: raw})
		targets[strings.Join(to.path, ".")] = k
	}
	has := func(t string) bool { _, ok := targets[t]; return ok }
	switch {
	case !has("userId") && !has("anonymousId"):
		return nil, errors.New("the mapping sets neither userId nor anonymousId: every row needs an identifier")
	case typ == "track" && !has("event") && m.Event == "":
		return nil, errors.New("a track import needs an event name: map a column to event, or set event: in the mapping")
	case typ == "group" && !has("groupId"):
		return nil, errors.New("a group import needs a column mapped to groupId")
	}
	return c, nil
}

// headerIndex finds a column by name: exactly, else ignoring case and surrounding spaces.
func headerIndex(header []string, name string) int {
	if i := slices.Index(header, name); i >= 0 {
		return i
	}
	for i, h := range header {
		if strings.EqualFold(strings.TrimSpace(h), strings.TrimSpace(name)) {
			return i
		}
	}
	return -1
}

// rowError is a reason to reject a row.
type rowError string

func (e rowError) Error() string { return string(e) }

// convert makes the message of one row and its idempotency key.
func (c *converter) convert(rec *Record) (msg, key []byte, err error) {
	if c.passthrough {
		return c.passthroughMessage(rec.Object)
	}
	root := &node{}
	var obj jsonobj.Object
	if rec.Object != nil {
		if obj, err = jsonobj.Parse(rec.Object); err != nil {
			return nil, nil, rowError("not a JSON object")
		}
	}
	var messageID string
	for _, col := range c.cols {
		var text string
		var raw []byte
		if rec.Object != nil {
			raw = lookup(obj, col.path)
			if jsonobj.IsNull(raw) {
				continue
			}
			s, isString := jsonobj.String(raw)
			if !isString {
				if col.to.typ == "" || col.to.typ == "string" || col.to.typ == "json" || isID(col.to.path) {
					if raw[0] == '{' || raw[0] == '[' || col.to.typ == "json" {
						root.set(c.section(col.to.path), raw)
						continue
					}
				}
				s = string(raw) // a number or boolean, read as text and converted below
			}
			text = s
		} else {
			text = rec.Fields[col.index]
		}
		if strings.TrimSpace(text) == "" && !c.keepEmpty {
			continue
		}
		v, err := typed(col.to, text)
		if err != nil {
			return nil, nil, rowError(fmt.Sprintf("column %q: %v", col.name, err))
		}
		if col.to.path[0] == "messageId" {
			messageID = strings.TrimSpace(text)
			continue
		}
		root.set(c.section(col.to.path), v)
	}
	for _, k := range c.constants {
		if !root.has(c.section(k.to.path)) {
			root.set(c.section(k.to.path), k.raw)
		}
	}
	if !root.has([]string{"userId"}) && !root.has([]string{"anonymousId"}) {
		return nil, nil, rowError("no identifier: userId and anonymousId are both empty")
	}
	if c.typ == "track" && !root.has([]string{"event"}) {
		if c.event == "" {
			return nil, nil, rowError("no event name")
		}
		root.set([]string{"event"}, jsonobj.AppendString(nil, c.event))
	}
	if c.typ == "group" && !root.has([]string{"groupId"}) {
		return nil, nil, rowError("no groupId")
	}
	root.set([]string{"type"}, jsonobj.AppendString(nil, c.typ))
	body := root.encode(nil)
	sum := c.rowKey(body, messageID)
	if messageID == "" {
		messageID = "imp-" + hex.EncodeToString(sum)
	}
	// body always holds at least the type, so the message id goes first followed by a comma.
	out := make([]byte, 0, len(body)+len(messageID)+16)
	out = append(out, `{"messageId":`...)
	out = jsonobj.AppendString(out, messageID)
	out = append(out, ',')
	return append(out, body[1:]...), sum, nil
}

// rowKey is a row's idempotency key: a hash of its source and the message it makes, or of
// its message id when the file has one, so that the same row imported again is found.
func (c *converter) rowKey(body []byte, messageID string) []byte {
	h := sha256.New()
	h.Write([]byte(c.sourceID))
	h.Write([]byte{0})
	if messageID != "" {
		h.Write([]byte("id\x00" + messageID))
	} else {
		h.Write(body)
	}
	return h.Sum(nil)[:16]
}

// passthroughMessage imports an NDJSON line that is a Segment message.
func (c *converter) passthroughMessage(line []byte) ([]byte, []byte, error) {
	m, err := jsonobj.Parse(line)
	if err != nil {
		return nil, nil, rowError("not a JSON object")
	}
	if t, _ := m.GetString("type"); t == "" {
		m = m.SetString("type", c.typ)
	}
	id, _ := m.GetString("messageId")
	if strings.TrimSpace(id) != "" {
		return m.Encode(), c.rowKey(nil, id), nil
	}
	body := m.Encode()
	sum := c.rowKey(body, "")
	return m.SetString("messageId", "imp-"+hex.EncodeToString(sum)).Encode(), sum, nil
}

// section puts traits where the message type keeps them: a track, page or screen call
// carries the person's traits in context.traits.
func (c *converter) section(path []string) []string {
	if path[0] == "traits" && c.typ != "identify" && c.typ != "group" {
		return append([]string{"context"}, path...)
	}
	return path
}

func isID(path []string) bool {
	return len(path) == 1 && (path[0] == "userId" || path[0] == "anonymousId" || path[0] == "groupId")
}

// lookup follows a dotted path into an object.
func lookup(obj jsonobj.Object, path []string) []byte {
	raw := obj.Get(path[0])
	for _, p := range path[1:] {
		if !jsonobj.IsObject(raw) {
			return nil
		}
		o, err := jsonobj.Parse(raw)
		if err != nil {
			return nil
		}
		raw = o.Get(p)
	}
	return raw
}

// typed reads a cell as its column's type.
func typed(t target, s string) ([]byte, error) {
	switch t.typ {
	case "", "string":
		return jsonobj.AppendString(nil, s), nil
	case "number":
		s = strings.TrimSpace(s)
		if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXnN_") {
			return strconv.AppendFloat(nil, f, 'f', -1, 64), nil
		}
		d, err := standardize.Amount(s, "")
		if err != nil {
			return nil, errors.New("not a number")
		}
		return []byte(d), nil
	case "integer":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, errors.New("not an integer")
		}
		return strconv.AppendInt(nil, n, 10), nil
	case "boolean":
		b, err := standardize.Bool(s)
		if err != nil {
			return nil, errors.New("not a yes or no")
		}
		return strconv.AppendBool(nil, b), nil
	case "date":
		tm, dateOnly, err := standardize.Time(s, t.layout)
		if err != nil {
			if t.layout != "" {
				return nil, fmt.Errorf("not a date in the format %q", t.format)
			}
			return nil, errors.New("not a date (give timestamp_format or the column's format)")
		}
		if dateOnly && t.path[0] != "timestamp" {
			return jsonobj.AppendString(nil, tm.Format("2006-01-02")), nil
		}
		return jsonobj.AppendString(nil, tm.UTC().Format("2006-01-02T15:04:05.000Z07:00")), nil
	case "json":
		if !jsonobj.Valid([]byte(s)) {
			return nil, errors.New("not valid JSON")
		}
		return []byte(s), nil
	}
	return nil, fmt.Errorf("unknown type %q", t.typ)
}

// node builds a message's nested objects in the order their fields were set.
type node struct {
	key  string
	val  []byte
	kids []*node
}

func (n *node) child(key string) *node {
	for _, k := range n.kids {
		if k.key == key {
			return k
		}
	}
	k := &node{key: key}
	n.kids = append(n.kids, k)
	return k
}

func (n *node) set(path []string, v []byte) {
	for _, p := range path {
		n = n.child(p)
	}
	n.val, n.kids = v, nil
}

func (n *node) has(path []string) bool {
	for _, p := range path {
		found := false
		for _, k := range n.kids {
			if k.key == p {
				n, found = k, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (n *node) encode(buf []byte) []byte {
	if n.kids == nil && n.val != nil {
		return append(buf, n.val...)
	}
	buf = append(buf, '{')
	for i, k := range n.kids {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = jsonobj.AppendString(buf, k.key)
		buf = append(buf, ':')
		buf = k.encode(buf)
	}
	return append(buf, '}')
}
