package jsonobj

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	tests := []string{
		`{}`, `[]`, `0`, `-0.5e+10`, `"a\u00e9\n"`, `{"a":[1,2,{"b":null}],"c":true}`, " \t{ } \n",
		``, `{`, `{"a"}`, `{"a":1,}`, `[1,]`, `01`, `1.`, `-`, `1e`, `.5`, `"\x"`, `"\u12"`, "\"a\x01\"", `tru`, `nul`,
		`{"a":1}{}`, `"unterminated`, `{"a" : 1 , "b" : [ ] }`, `[1 2]`, `{1:2}`, `"\ud800"`, "\"\xff\"",
		strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
	}
	for _, in := range tests {
		if got, want := Valid([]byte(in)), json.Valid([]byte(in)); got != want {
			t.Errorf("Valid(%.40q) = %v, encoding/json says %v", in, got, want)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range []string{`{"a":[1,-2.5e3,"x\"y",true,false,null,{}]}`, `[`, `"\u00zz"`, `1e+`, `{"batch":[]}`} {
		f.Add([]byte(s))
	}
	seeds, _ := filepath.Glob(filepath.Join("..", "ingest", "testdata", "payloads", "*.json"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := Valid(data), json.Valid(data); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", data, got, want)
		}
	})
}

func BenchmarkValid(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "ingest", "testdata", "payloads", "analytics-node-batch.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.Run("jsonobj", func(b *testing.B) {
		for b.Loop() {
			Valid(data)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			json.Valid(data)
		}
	})
}
