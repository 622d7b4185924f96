// Package jsonobj reads and edits the top level of JSON objects without decoding their values.
// Ingestion touches a dozen top-level fields of each message and copies the rest through;
// splitting fields by position instead of decoding with encoding/json (which re-validates every
// nested value it is asked for) is what makes that cheap. Input should be valid JSON
// (json.Valid); on anything else the functions return an error, never panic.
package jsonobj

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Field is one member of an object; Value is its raw JSON.
type Field struct {
	Key   string
	Value []byte
}

// Object is an object's members in their original order.
type Object []Field

// ErrSyntax reports input that is not the JSON shape asked for.
var ErrSyntax = errors.New("malformed JSON")

// Parse splits a JSON object into its members. Values alias data.
func Parse(data []byte) (Object, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, ErrSyntax
	}
	obj := make(Object, 0, 16)
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return obj, trailing(data, i+1)
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return nil, ErrSyntax
		}
		end, err := skipString(data, i)
		if err != nil {
			return nil, err
		}
		key, ok := String(data[i:end])
		if !ok {
			return nil, ErrSyntax
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return nil, ErrSyntax
		}
		start := skipSpace(data, i+1)
		end, err = skipValue(data, start)
		if err != nil {
			return nil, err
		}
		obj = obj.Set(key, data[start:end])
		i = skipSpace(data, end)
		if i >= len(data) {
			return nil, ErrSyntax
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return obj, trailing(data, i+1)
		default:
			return nil, ErrSyntax
		}
	}
}

// Elements splits a JSON array into its elements' raw JSON. Values alias data.
func Elements(data []byte) ([][]byte, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, ErrSyntax
	}
	var out [][]byte
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return out, trailing(data, i+1)
	}
	for {
		end, err := skipValue(data, i)
		if err != nil {
			return nil, err
		}
		out = append(out, data[i:end])
		i = skipSpace(data, end)
		if i >= len(data) {
			return nil, ErrSyntax
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			return out, trailing(data, i+1)
		default:
			return nil, ErrSyntax
		}
	}
}

// Get returns the raw value of key, or nil.
func (o Object) Get(key string) []byte {
	for i := range o {
		if o[i].Key == key {
			return o[i].Value
		}
	}
	return nil
}

// Has reports whether key is present.
func (o Object) Has(key string) bool { return o.Get(key) != nil }

// Set replaces key's value, or appends it. A repeated key keeps its last value, as
// encoding/json does.
func (o Object) Set(key string, value []byte) Object {
	for i := range o {
		if o[i].Key == key {
			o[i].Value = value
			return o
		}
	}
	return append(o, Field{Key: key, Value: value})
}

// SetString sets key to the JSON string s.
func (o Object) SetString(key, s string) Object { return o.Set(key, AppendString(nil, s)) }

// Delete removes key.
func (o Object) Delete(key string) Object {
	return slices.DeleteFunc(o, func(f Field) bool { return f.Key == key })
}

// GetString returns key's value when it is a JSON string.
func (o Object) GetString(key string) (string, bool) {
	v := o.Get(key)
	if v == nil {
		return "", false
	}
	return String(v)
}

// Append appends the object's JSON encoding to buf.
func (o Object) Append(buf []byte) []byte {
	buf = append(buf, '{')
	for i, f := range o {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = AppendString(buf, f.Key)
		buf = append(buf, ':')
		buf = append(buf, f.Value...)
	}
	return append(buf, '}')
}

// Encode returns the object's JSON encoding.
func (o Object) Encode() []byte {
	n := 2
	for _, f := range o {
		n += len(f.Key) + len(f.Value) + 4
	}
	return o.Append(make([]byte, 0, n))
}

// IsNull reports whether raw is JSON null (or absent).
func IsNull(raw []byte) bool { return raw == nil || string(raw) == "null" }

// IsObject reports whether raw is a JSON object.
func IsObject(raw []byte) bool { return len(raw) > 0 && raw[0] == '{' }

// String decodes raw when it is a JSON string. Strings without escapes or non-ASCII bytes, by
// far the most common, are sliced rather than decoded.
func String(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' || c == '"' || c < 0x20 || c >= utf8.RuneSelf {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return "", false
			}
			return s, true
		}
	}
	return string(inner), true
}

// AppendString appends s as a JSON string, escaped as encoding/json does.
func AppendString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// AppendInt appends n as a JSON number.
func AppendInt(buf []byte, n int64) []byte { return strconv.AppendInt(buf, n, 10) }

func trailing(data []byte, i int) error {
	if skipSpace(data, i) != len(data) {
		return ErrSyntax
	}
	return nil
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func skipString(data []byte, i int) (int, error) {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, ErrSyntax
}

// skipValue returns the index just past the value starting at data[i].
func skipValue(data []byte, i int) (int, error) {
	if i >= len(data) {
		return 0, ErrSyntax
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, err := skipString(data, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, ErrSyntax
	default:
		j := i
		for j < len(data) {
			c := data[j]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				break
			}
			j++
		}
		if j == i {
			return 0, ErrSyntax
		}
		return j, nil
	}
}

// keyText is a quoted key's text: a slice of it when it holds nothing to unescape.
func keyText(raw []byte) ([]byte, bool) {
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			s, ok := String(raw)
			return []byte(s), ok
		}
	}
	return inner, true
}
