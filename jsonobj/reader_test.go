package jsonobj

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// generic reads any value with a Reader as encoding/json would into an any.
func generic(r *Reader) (any, error) {
	r.space()
	if r.i >= len(r.data) {
		return nil, ErrSyntax
	}
	switch c := r.data[r.i]; {
	case r.Null():
		return nil, nil
	case c == '{':
		m := map[string]any{}
		err := r.Object(func(k []byte) error {
			v, err := generic(r)
			m[string(k)] = v
			return err
		})
		return m, err
	case c == '[':
		l := []any{}
		err := r.Array(func() error {
			v, err := generic(r)
			l = append(l, v)
			return err
		})
		return l, err
	case c == '"':
		return r.String()
	case c == 't' || c == 'f':
		raw, err := r.Raw()
		if err != nil || (string(raw) != "true" && string(raw) != "false") {
			return nil, ErrSyntax
		}
		return string(raw) == "true", nil
	default:
		return r.Float()
	}
}

func TestReader(t *testing.T) {
	for _, doc := range []string{
		`{"a":1,"b":[true,false,null,{"c":"d\"e"}],"é\u00e9":-2.5e-3,"n":null}`,
		` [ 1 , "x" , { } , [ ] ] `,
		`"\ud83d\ude00 \\ \/"`,
		`null`,
	} {
		var want any
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatal(err)
		}
		r := NewReader([]byte(doc))
		got, err := generic(r)
		if err == nil {
			err = r.End()
		}
		if err != nil {
			t.Errorf("%s: %v", doc, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-encoding/json +Reader):\n%s", doc, diff)
		}
	}
	for _, doc := range []string{`{"a" 1}`, `{"a":1,}`, `[1 2]`, `{"a":"b}`, `{`, `"x`, `{"a":1}}`} {
		r := NewReader([]byte(doc))
		_, err := generic(r)
		if err == nil {
			err = r.End()
		}
		if err == nil {
			t.Errorf("%s read without error", doc)
		}
	}
}

func TestReaderInt(t *testing.T) {
	for _, n := range []int64{0, 7, -7, 999999999999999999, -999999999999999999, math.MaxInt64, math.MinInt64} {
		got, err := NewReader([]byte(strconv.FormatInt(n, 10))).Int()
		if err != nil || got != n {
			t.Errorf("Int(%d) = %d, %v", n, got, err)
		}
	}
	for _, bad := range []string{"1.5", "-", "1e3", "99999999999999999999", `"1"`} {
		if n, err := NewReader([]byte(bad)).Int(); err == nil {
			t.Errorf("Int(%s) = %d, want an error", bad, n)
		}
	}
}

// FuzzReader holds a Reader to encoding/json on any input encoding/json accepts.
func FuzzReader(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}],"c":"\u00e9"}`, `[]`, `"x"`, `-0.5e10`, `{"a":{"a":{"a":[]}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want any
		if json.Unmarshal(data, &want) != nil {
			r := NewReader(data)
			if _, err := generic(r); err == nil {
				_ = r.End() // lenient input may pass; it must not panic
			}
			return
		}
		r := NewReader(data)
		got, err := generic(r)
		if err == nil {
			err = r.End()
		}
		if err != nil {
			t.Fatalf("%q: encoding/json reads it, Reader: %v", data, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%q (-encoding/json +Reader):\n%s", data, diff)
		}
	})
}
