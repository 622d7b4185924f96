package matchrun

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/match"
)

func ids(pairs ...string) []kenner.Identifier {
	var out []kenner.Identifier
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, ":")
		out = append(out, kenner.Identifier{Kind: k, Value: v})
	}
	return out
}

func TestMergeCall(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		a, b   []kenner.Identifier
		want   []string // substrings of the call
		refuse string
	}{
		{name: "external ids, an anonymous id added", a: ids("anonymous_id:a1", "crm_id:7"), b: ids("anonymous_id:b1", "crm_id:9"),
			want: []string{`{"id":"7","type":"crm_id"}`, `{"id":"9","type":"crm_id"}`, `"anonymousId":"a1"`}},
		{name: "user id and email", a: ids("user_id:u1"), b: ids("email:x@example.com"),
			want: []string{`"userId":"u1"`, `{"id":"x@example.com","type":"email"}`}},
		{name: "two anonymous ids cannot both be presented", a: ids("anonymous_id:a1"), b: ids("anonymous_id:b1"), refuse: "no identifier"},
		{name: "anonymous and user id", a: ids("anonymous_id:a1"), b: ids("user_id:u2"), want: []string{`"anonymousId":"a1"`, `"userId":"u2"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := mergeCall("m1", tc.a, tc.b, []string{"crm_id"}, at, kenner.MatchEvidence{How: "run mr_1", Weight: 12.5, Threshold: 10})
			if tc.refuse != "" {
				if err == nil || !strings.Contains(err.Error(), tc.refuse) {
					t.Fatalf("got %s, %v; want refused with %q", raw, err, tc.refuse)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(raw), w) {
					t.Errorf("%s lacks %s", raw, w)
				}
			}
			var m map[string]any
			json.Unmarshal(raw, &m)
			if m["type"] != "identify" || m["messageId"] != "m1" || m["context"].(map[string]any)["match"].(map[string]any)["weight"] != 12.5 {
				t.Errorf("call %s", raw)
			}
		})
	}
}

func TestParams(t *testing.T) {
	w := func(x float64) *float64 { return &x }
	for _, tc := range []struct {
		name string
		p    Params
		err  string
	}{
		{name: "defaults", p: Params{}},
		{name: "unknown kind", p: Params{Fields: []match.Field{{Name: "x", Kind: "fuzzy"}}}, err: "kind"},
		{name: "field twice", p: Params{Fields: []match.Field{{Name: "x", Kind: "exact"}, {Name: "x", Kind: "name"}}}, err: "twice"},
		{name: "blocking on a field not compared", p: Params{Fields: []match.Field{{Name: "x", Kind: "exact"}}, Blocking: []match.BlockSpec{{Fields: []string{"y"}}}}, err: "not a compared field"},
		{name: "probability out of range", p: Params{MergeProbability: 1}, err: "merge_probability"},
		{name: "review above merge", p: Params{MergeProbability: 0.9, ReviewProbability: 0.95}, err: "above merge_probability"},
		{name: "weights crossed", p: Params{MergeWeight: w(5), ReviewWeight: w(8)}, err: "review_weight"},
		{name: "phonetic with prefix", p: Params{Fields: []match.Field{{Name: "x", Kind: "name"}}, Blocking: []match.BlockSpec{{Fields: []string{"x"}, Phonetic: true, Prefix: 2}}}, err: "phonetic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.normalize()
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || kenner.ErrorCode(err) != kenner.EInvalid) {
				t.Errorf("normalize: %v, want %q", err, tc.err)
			}
		})
	}
}

func TestTraitText(t *testing.T) {
	traits := map[string]kenner.Trait{
		"first_name": {Value: json.RawMessage(`"  Jon  Smith "`)},
		"address":    {Value: json.RawMessage(`{"city":"Berlin","zip":10115,"geo":{"lat":1}}`)},
		"vip":        {Value: json.RawMessage(`true`)},
	}
	for path, want := range map[string]string{"first_name": "jon smith", "address.city": "berlin", "address.zip": "10115",
		"address.geo": "", "address.nope": "", "vip": "", "missing": "", "first_name.x": ""} {
		if got := traitText(traits, path); got != want {
			t.Errorf("traitText(%s) = %q, want %q", path, got, want)
		}
	}
}

// TestCurve: the pairs at or above a weight fall as the weight rises, the expected recall
// with them, and the expected precision rises.
func TestCurve(t *testing.T) {
	m := &match.Model{Lambda: 0.1}
	var links []match.Link
	for i := range 200 {
		links = append(links, match.Link{Weight: float64(i%40) - 10})
	}
	c := curve(m, links)
	if len(c) < 10 || c[0].Pairs != 200 || c[0].Recall != 1 {
		t.Fatalf("curve starts %+v", c[0])
	}
	for i := 1; i < len(c); i++ {
		if c[i].Pairs > c[i-1].Pairs || c[i].Recall > c[i-1].Recall || c[i].Precision < c[i-1].Precision || c[i].Weight <= c[i-1].Weight {
			t.Errorf("not monotonic at %d: %+v after %+v", i, c[i], c[i-1])
		}
	}
}
