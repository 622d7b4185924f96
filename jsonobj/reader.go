package jsonobj

import (
	"strconv"
)

// Reader decodes a JSON document in one pass, for hand-written decoders of hot documents
// (a profile is read for every batch the processor applies): each member's value is read in
// place by the callback of Object, never scanned twice. Input should be valid JSON; on
// anything else a method returns ErrSyntax, never panics.
type Reader struct {
	data []byte
	i    int
}

// NewReader returns a Reader at the start of data.
func NewReader(data []byte) *Reader { return &Reader{data: data} }

// Object reads an object, calling fn with each key (its text, valid only during the call);
// fn must read the member's value with exactly one of the reading methods (Skip to ignore
// it). A null reads as an object with no members.
func (r *Reader) Object(fn func(key []byte) error) error {
	if r.Null() {
		return nil
	}
	return r.members(fn)
}

// Array reads an array, calling fn for each element, which fn must read. A null reads as an
// empty array.
func (r *Reader) Array(fn func() error) error {
	if r.Null() {
		return nil
	}
	return r.elements(fn)
}

// members reads an object (not null): each key, then fn reads its value. (Parse keeps a
// loop of its own: ingestion splits every message with it, and going through a Reader made
// it 9% slower.)
func (r *Reader) members(fn func(key []byte) error) error {
	return r.container('{', '}', func() error {
		r.space()
		if r.i >= len(r.data) || r.data[r.i] != '"' {
			return ErrSyntax
		}
		end, err := skipString(r.data, r.i)
		if err != nil {
			return err
		}
		key, ok := keyText(r.data[r.i:end])
		if !ok {
			return ErrSyntax
		}
		r.i = end
		if !r.byte(':') {
			return ErrSyntax
		}
		return fn(key)
	})
}

// elements reads an array (not null), fn reading each element.
func (r *Reader) elements(fn func() error) error { return r.container('[', ']', fn) }

// container reads what opens with open and closes with close, item reading each item
// between the commas.
func (r *Reader) container(open, close byte, item func() error) error {
	if !r.byte(open) {
		return ErrSyntax
	}
	r.space()
	if r.i < len(r.data) && r.data[r.i] == close {
		r.i++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		r.space()
		if r.i >= len(r.data) {
			return ErrSyntax
		}
		switch r.data[r.i] {
		case ',':
			r.i++
		case close:
			r.i++
			return nil
		default:
			return ErrSyntax
		}
	}
}

// Raw reads any value and returns its JSON, aliasing the document.
func (r *Reader) Raw() ([]byte, error) {
	r.space()
	end, err := skipValue(r.data, r.i)
	if err != nil {
		return nil, err
	}
	v := r.data[r.i:end]
	r.i = end
	return v, nil
}

// Skip reads any value and ignores it.
func (r *Reader) Skip() error {
	_, err := r.Raw()
	return err
}

// Null reads a null if one is next, and reports whether it did.
func (r *Reader) Null() bool {
	r.space()
	if len(r.data)-r.i >= 4 && string(r.data[r.i:r.i+4]) == "null" {
		r.i += 4
		return true
	}
	return false
}

// String reads a string (null: "").
func (r *Reader) String() (string, error) {
	if r.Null() {
		return "", nil
	}
	if r.i >= len(r.data) || r.data[r.i] != '"' {
		return "", ErrSyntax
	}
	end, err := skipString(r.data, r.i)
	if err != nil {
		return "", err
	}
	s, ok := String(r.data[r.i:end])
	if !ok {
		return "", ErrSyntax
	}
	r.i = end
	return s, nil
}

// Int reads an integer (null: 0).
func (r *Reader) Int() (int64, error) {
	tok, err := r.number()
	if err != nil || tok == nil {
		return 0, err
	}
	// Up to 18 digits cannot overflow: the common case, without strconv's string.
	neg, digits := tok[0] == '-', tok
	if neg {
		digits = tok[1:]
	}
	if len(digits) > 0 && len(digits) <= 18 {
		var n int64
		for _, c := range digits {
			if c < '0' || c > '9' {
				return 0, ErrSyntax
			}
			n = n*10 + int64(c-'0')
		}
		if neg {
			n = -n
		}
		return n, nil
	}
	n, err := strconv.ParseInt(string(tok), 10, 64)
	if err != nil {
		return 0, ErrSyntax
	}
	return n, nil
}

// Float reads a number (null: 0).
func (r *Reader) Float() (float64, error) {
	tok, err := r.number()
	if err != nil || tok == nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return 0, ErrSyntax
	}
	return f, nil
}

// End checks that nothing but space follows the value read.
func (r *Reader) End() error { return trailing(r.data, r.i) }

// number reads a number's token (nil for null).
func (r *Reader) number() ([]byte, error) {
	if r.Null() {
		return nil, nil
	}
	start := r.i
	for r.i < len(r.data) {
		c := r.data[r.i]
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			break
		}
		r.i++
	}
	if r.i == start {
		return nil, ErrSyntax
	}
	return r.data[start:r.i], nil
}

func (r *Reader) space() { r.i = skipSpace(r.data, r.i) }

func (r *Reader) byte(c byte) bool {
	r.space()
	if r.i < len(r.data) && r.data[r.i] == c {
		r.i++
		return true
	}
	return false
}
