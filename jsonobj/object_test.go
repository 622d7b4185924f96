package jsonobj

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
		err  bool
	}{
		{`{}`, map[string]string{}, false},
		{` { "a" : 1 , "b":"x\"y" ,"c":{"d":[1,{"e":"}"}]},"f":null} `, map[string]string{"a": `1`, "b": `"x\"y"`, "c": `{"d":[1,{"e":"}"}]}`, "f": `null`}, false},
		{`{"a":1,"a":2}`, map[string]string{"a": `2`}, false},
		{`{"k\u00e9y":true}`, map[string]string{"kéy": `true`}, false},
		{`[1]`, nil, true},
		{`{"a":1`, nil, true},
		{`{"a" 1}`, nil, true},
		{`{"a":1}x`, nil, true},
		{`{"a":}`, nil, true},
		{`{"a":"unterminated}`, nil, true},
		{``, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			obj, err := Parse([]byte(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("Parse error = %v, want error %v", err, tc.err)
			}
			if tc.err {
				return
			}
			got := map[string]string{}
			for _, f := range obj {
				got[f.Key] = string(f.Value)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEditAndEncode(t *testing.T) {
	obj, err := Parse([]byte(`{"a":1,"writeKey":"secret","b":[true]}`))
	if err != nil {
		t.Fatal(err)
	}
	obj = obj.Delete("writeKey").SetString("c", "<x>\n").Set("a", []byte(`2`))
	got := string(obj.Encode())
	want := `{"a":2,"b":[true],"c":"\u003cx\u003e\n"}`
	if got != want {
		t.Errorf("Encode = %s, want %s", got, want)
	}
	if s, ok := obj.GetString("c"); !ok || s != "<x>\n" {
		t.Errorf("GetString = %q, %v", s, ok)
	}
	if _, ok := obj.GetString("a"); ok {
		t.Error("GetString of a number succeeded")
	}
}

func TestElements(t *testing.T) {
	got, err := Elements([]byte(` [ {"a":"]"}, 2 ,"x",[3] ] `))
	if err != nil {
		t.Fatal(err)
	}
	var strs []string
	for _, e := range got {
		strs = append(strs, string(e))
	}
	if diff := cmp.Diff([]string{`{"a":"]"}`, `2`, `"x"`, `[3]`}, strs); diff != "" {
		t.Errorf("Elements (-want +got):\n%s", diff)
	}
	for _, bad := range []string{`{}`, `[1,]`, `[1`, `[1 2]`} {
		if _, err := Elements([]byte(bad)); err == nil {
			t.Errorf("Elements(%s) succeeded", bad)
		}
	}
}

// FuzzParse checks Parse against encoding/json: on valid JSON objects both must see the same
// members, and no input may panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":{"b":[1,"}"]},"c":"\\\""}`, `{"a":1,"a":"x"}`, `[]`, `{"\u00e9":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := Parse(data)
		var want map[string]json.RawMessage
		if json.Unmarshal(data, &want) != nil || want == nil {
			return
		}
		if err != nil {
			t.Fatalf("Parse(%q) failed on valid JSON: %v", data, err)
		}
		got := map[string]string{}
		for _, f := range obj {
			got[f.Key] = string(f.Value)
		}
		wantS := map[string]string{}
		for k, v := range want {
			wantS[k] = string(v)
		}
		if diff := cmp.Diff(wantS, got); diff != "" {
			t.Fatalf("Parse(%q) differs from encoding/json (-want +got):\n%s", data, diff)
		}
		if _, err := Parse(obj.Encode()); err != nil {
			t.Fatalf("re-encoded object does not parse: %v", err)
		}
	})
}
