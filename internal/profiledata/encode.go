package profiledata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/jsonobj"
)

// Encode writes what json.Marshal writes for the document, byte for byte (keys sorted, the
// same escaping and number formats), by hand: every batch the processor applies saves its
// profiles, and reflection was most of the cost. TestEncodeMatchesEncodingJSON holds the two
// equal.
func encode(p *kenner.Profile) ([]byte, error) {
	e := encoder{buf: make([]byte, 0, 512)}
	e.buf = append(e.buf, '{')
	first := true
	field := func(name string) {
		if !first {
			e.buf = append(e.buf, ',')
		}
		first = false
		e.buf = append(e.buf, '"')
		e.buf = append(e.buf, name...)
		e.buf = append(e.buf, '"', ':')
	}
	if len(p.Traits) > 0 {
		field("traits")
		sortedMap(&e, p.Traits, (*encoder).trait)
	}
	if len(p.Groups) > 0 {
		field("groups")
		e.marshal(p.Groups)
	}
	if len(p.Aggregates) > 0 {
		field("aggregates")
		sortedMap(&e, p.Aggregates, (*encoder).aggregate)
	}
	if len(p.Segments) > 0 {
		field("segments")
		sortedMap(&e, p.Segments, (*encoder).time)
	}
	if len(p.Consent) > 0 {
		field("consent")
		e.marshal(p.Consent)
	}
	if len(p.ConsentHistory) > 0 {
		field("consent_history")
		e.marshal(p.ConsentHistory)
	}
	e.buf = append(e.buf, '}')
	return e.buf, e.err
}

type encoder struct {
	buf []byte
	err error // the first error: a time out of JSON's range, a number JSON cannot hold
}

func sortedMap[V any](e *encoder, m map[string]V, value func(*encoder, V)) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.buf = append(e.buf, '{')
	for i, k := range keys {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = jsonobj.AppendString(e.buf, k)
		e.buf = append(e.buf, ':')
		value(e, m[k])
	}
	e.buf = append(e.buf, '}')
}

func (e *encoder) trait(t kenner.Trait) {
	e.buf = append(e.buf, `{"value":`...)
	e.raw(t.Value)
	e.buf = append(e.buf, `,"source_id":`...)
	e.buf = jsonobj.AppendString(e.buf, t.SourceID)
	e.buf = append(e.buf, `,"message_id":`...)
	e.buf = jsonobj.AppendString(e.buf, t.MessageID)
	e.buf = append(e.buf, `,"timestamp":`...)
	e.time(t.Timestamp)
	e.buf = append(e.buf, `,"rank":`...)
	e.buf = strconv.AppendInt(e.buf, t.Rank, 10)
	if len(t.Original) > 0 {
		e.buf = append(e.buf, `,"original":`...)
		e.raw(t.Original)
	}
	e.buf = append(e.buf, '}')
}

func (e *encoder) aggregate(a *kenner.Aggregate) {
	if a == nil {
		e.buf = append(e.buf, "null"...)
		return
	}
	e.buf = append(e.buf, `{"b":`...)
	if a.Buckets == nil {
		e.buf = append(e.buf, "null"...)
	} else {
		e.buf = append(e.buf, '[')
		for i := range a.Buckets {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.bucket(&a.Buckets[i])
		}
		e.buf = append(e.buf, ']')
	}
	e.buf = append(e.buf, '}')
}

func (e *encoder) bucket(b *kenner.Bucket) {
	e.buf = append(e.buf, `{"t":`...)
	e.buf = strconv.AppendInt(e.buf, b.Start, 10)
	e.buf = append(e.buf, `,"n":`...)
	e.buf = strconv.AppendInt(e.buf, b.Count, 10)
	if b.Sum != 0 {
		e.buf = append(e.buf, `,"s":`...)
		e.float(b.Sum)
	}
	if b.Min != nil {
		e.buf = append(e.buf, `,"lo":`...)
		e.float(*b.Min)
	}
	if b.Max != nil {
		e.buf = append(e.buf, `,"hi":`...)
		e.float(*b.Max)
	}
	if b.First != nil {
		e.buf = append(e.buf, `,"f":`...)
		e.sample(b.First)
	}
	if b.Last != nil {
		e.buf = append(e.buf, `,"l":`...)
		e.sample(b.Last)
	}
	if len(b.Freq) > 0 {
		e.buf = append(e.buf, `,"c":`...)
		sortedMap(e, b.Freq, func(e *encoder, n int64) { e.buf = strconv.AppendInt(e.buf, n, 10) })
	}
	e.buf = append(e.buf, '}')
}

func (e *encoder) sample(s *kenner.Sample) {
	e.buf = append(e.buf, `{"at":`...)
	e.time(s.At)
	e.buf = append(e.buf, `,"r":`...)
	e.buf = strconv.AppendInt(e.buf, s.Rank, 10)
	e.buf = append(e.buf, `,"v":`...)
	e.raw(s.Value)
	e.buf = append(e.buf, '}')
}

// time writes what time.Time.MarshalJSON does.
func (e *encoder) time(t time.Time) {
	if y := t.Year(); y < 0 || y > 9999 {
		e.fail(fmt.Errorf("time %v: year outside [0,9999]", t))
		return
	}
	e.buf = append(e.buf, '"')
	e.buf = t.AppendFormat(e.buf, time.RFC3339Nano)
	e.buf = append(e.buf, '"')
}

// float writes what encoding/json does for a float64.
func (e *encoder) float(f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		e.fail(fmt.Errorf("number %v is not JSON", f))
		return
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	e.buf = strconv.AppendFloat(e.buf, f, format, -1, 64)
	if format == 'e' {
		// e-09 -> e-9, as encoding/json writes it.
		if n := len(e.buf); n >= 4 && e.buf[n-4] == 'e' && e.buf[n-3] == '-' && e.buf[n-2] == '0' {
			e.buf[n-2] = e.buf[n-1]
			e.buf = e.buf[:n-1]
		}
	}
}

// raw writes a json.RawMessage as encoding/json does: null when empty, compacted, and an
// error when it is not JSON.
func (e *encoder) raw(v json.RawMessage) {
	if len(v) == 0 {
		e.buf = append(e.buf, "null"...)
		return
	}
	if !bytes.ContainsAny(v, " \t\r\n<>&\u2028\u2029") && jsonobj.Valid(v) {
		e.buf = append(e.buf, v...) // compact already, nothing to escape
		return
	}
	if !bytes.ContainsAny(v, "<>&\u2028\u2029") {
		b := bytes.NewBuffer(e.buf)
		if err := json.Compact(b, v); err != nil {
			e.fail(err)
			return
		}
		e.buf = b.Bytes()
		return
	}
	// encoding/json escapes these in raw values too.
	var compact bytes.Buffer
	if err := json.Compact(&compact, v); err != nil {
		e.fail(err)
		return
	}
	b := bytes.NewBuffer(e.buf)
	json.HTMLEscape(b, compact.Bytes())
	e.buf = b.Bytes()
}

func (e *encoder) marshal(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		e.fail(err)
		return
	}
	e.buf = append(e.buf, b...)
}

func (e *encoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}
