package profiledata

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kenner-cdp/kenner"
)

// document is the data document as encoding/json reads and writes it: the reference the
// hand-written encoder and decoder are held to.
type document struct {
	Traits     map[string]kenner.Trait      `json:"traits,omitempty"`
	Groups     map[string]kenner.Group      `json:"groups,omitempty"`
	Aggregates map[string]*kenner.Aggregate `json:"aggregates,omitempty"`
	Segments   map[string]time.Time         `json:"segments,omitempty"`
	Consent    map[string]kenner.Consent    `json:"consent,omitempty"`
	History    []kenner.ConsentChange       `json:"consent_history,omitempty"`
}

func TestDecodeFields(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	full := &kenner.Profile{
		ID: "p1",
		Traits: map[string]kenner.Trait{
			"plan":        {Value: json.RawMessage(`"pro"`), SourceID: "s", Timestamp: at},
			"email":       {Value: json.RawMessage(`"a@example.com"`), Timestamp: at},
			"<odd\"name>": {Value: json.RawMessage(`{"nested":[1,"}"]}`), Timestamp: at},
		},
		Groups:     map[string]kenner.Group{"g1": {}},
		Aggregates: map[string]*kenner.Aggregate{"c1": {Buckets: []kenner.Bucket{{Start: 10, Count: 2}}}, "t2": {Buckets: []kenner.Bucket{{Count: 1, Sum: 4}}}},
		Segments:   map[string]time.Time{"seg1": at},
		Consent:    map[string]kenner.Consent{"marketing": {Granted: true}},
	}
	doc, err := Encode(full)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		fields *kenner.ProfileFields
		want   kenner.Profile
	}{
		{"nothing but memberships", &kenner.ProfileFields{}, kenner.Profile{ID: "p1", Segments: full.Segments}},
		{"some traits and aggregates", &kenner.ProfileFields{Traits: map[string]bool{"plan": true, "<odd\"name>": true, "absent": true},
			Aggregates: map[string]bool{"c1": true}},
			kenner.Profile{ID: "p1", Segments: full.Segments,
				Traits:     map[string]kenner.Trait{"plan": full.Traits["plan"], "<odd\"name>": full.Traits["<odd\"name>"]},
				Aggregates: map[string]*kenner.Aggregate{"c1": full.Aggregates["c1"]}}},
		{"all traits and consent", &kenner.ProfileFields{AllTraits: true, Consent: true},
			kenner.Profile{ID: "p1", Segments: full.Segments, Traits: full.Traits, Consent: full.Consent}},
		{"nil is everything", nil, kenner.Profile{ID: "p1", Traits: full.Traits, Groups: full.Groups, Aggregates: full.Aggregates,
			Segments: full.Segments, Consent: full.Consent}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := kenner.Profile{ID: "p1"}
			if err := DecodeFields(doc, &got, tt.fields); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeFields (-want +got):\n%s", diff)
			}
		})
	}
	if err := DecodeFields([]byte(`{"traits":{"plan":`), &kenner.Profile{}, &kenner.ProfileFields{}); err == nil {
		t.Error("a truncated document decoded without error")
	}
}

// TestDecodeMatchesEncodingJSON holds the hand-written encoder and decoder to what
// encoding/json writes and reads, over random profiles with awkward keys and values.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	words := []string{"plan", "e\"mail", "<b>&", "ünï", "tab\there", `back\slash`, "", "x"}
	values := []string{`"pro"`, `42`, `-1.5e3`, `null`, `true`, `{"a":[1,{"b":"}"}]}`, `"\u00e9\n"`, `[]`, `{ "spaced" : [ 1 , 2 ] }`, `"<b>&amp; "`}
	word := func() string { return words[rng.IntN(len(words))] + strconv.Itoa(rng.IntN(3)) }
	when := func() time.Time {
		at := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9))
		if rng.IntN(3) == 0 {
			return at.In(time.FixedZone("", 3600*rng.IntN(12)))
		}
		return at.UTC()
	}
	num := func() *float64 {
		f := rng.Float64()*200 - 100
		switch rng.IntN(5) {
		case 0:
			f *= 1e-9
		case 1:
			f *= 1e22
		case 2:
			f = math.Trunc(f)
		}
		return &f
	}
	sample := func() *kenner.Sample {
		if rng.IntN(2) == 0 {
			return nil
		}
		return &kenner.Sample{At: when(), Rank: rng.Int64(), Value: json.RawMessage(values[rng.IntN(len(values))])}
	}
	for i := range 2000 {
		p := &kenner.Profile{ID: "p"}
		for range rng.IntN(4) {
			if p.Traits == nil {
				p.Traits = map[string]kenner.Trait{}
			}
			tr := kenner.Trait{Value: json.RawMessage(values[rng.IntN(len(values))]), SourceID: word(), MessageID: word(), Timestamp: when(), Rank: rng.Int64N(1 << 40)}
			if rng.IntN(3) == 0 {
				tr.Original = json.RawMessage(values[rng.IntN(len(values))])
			}
			p.Traits[word()] = tr
		}
		for range rng.IntN(4) {
			if p.Aggregates == nil {
				p.Aggregates = map[string]*kenner.Aggregate{}
			}
			a := &kenner.Aggregate{}
			for range 1 + rng.IntN(3) {
				b := kenner.Bucket{Start: rng.Int64N(2e9), Count: rng.Int64N(100), Sum: *num(), First: sample(), Last: sample()}
				if rng.IntN(2) == 0 {
					b.Min, b.Max = num(), num()
				}
				if rng.IntN(3) == 0 {
					b.Freq = map[string]int64{word(): rng.Int64N(9), word(): -rng.Int64N(9)}
				}
				a.Buckets = append(a.Buckets, b)
			}
			p.Aggregates["k"+word()] = a
		}
		for range rng.IntN(3) {
			if p.Segments == nil {
				p.Segments = map[string]time.Time{}
			}
			p.Segments[word()] = when()
		}
		if rng.IntN(4) == 0 {
			p.Consent = map[string]kenner.Consent{"ads": {Granted: true, Timestamp: when()}}
			p.Groups = map[string]kenner.Group{"g": {ID: "g", Timestamp: when()}}
			p.ConsentHistory = []kenner.ConsentChange{{Purpose: "ads", Consent: kenner.Consent{Granted: true}}}
		}
		doc, err := Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		marshaled, err := json.Marshal(document{Traits: p.Traits, Groups: p.Groups, Aggregates: p.Aggregates, Segments: p.Segments,
			Consent: p.Consent, History: p.ConsentHistory})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(doc, marshaled) {
			t.Fatalf("profile %d: Encode\n%s\njson.Marshal\n%s", i, doc, marshaled)
		}
		var want document
		if err := json.Unmarshal(doc, &want); err != nil {
			t.Fatal(err)
		}
		var got kenner.Profile
		if err := Decode(doc, &got); err != nil {
			t.Fatalf("profile %d: %v\n%s", i, err, doc)
		}
		if diff := cmp.Diff(want, document{Traits: got.Traits, Groups: got.Groups, Aggregates: got.Aggregates, Segments: got.Segments,
			Consent: got.Consent, History: got.ConsentHistory}); diff != "" {
			t.Fatalf("profile %d: encoding/json vs Decode (-want +got):\n%s\n%s", i, diff, doc)
		}
	}
}

// benchDoc is a profile document as the benchmark load leaves them.
var benchDoc = []byte(`{"traits":{"email":{"value":"p1@example.com","source_id":"src","message_id":"b-1-2","timestamp":"2024-01-01T00:00:01.59Z","rank":104202311},"plan":{"value":"p2","source_id":"src","message_id":"b-1-2","timestamp":"2024-01-01T00:00:01.59Z","rank":104202311}},"aggregates":{"t9f55e0ab6a173aad":{"b":[{"t":0,"n":1,"s":42.5,"lo":42.5,"hi":42.5}]},"cbb0cdb2b8d513b0":{"b":[{"t":1704067200,"n":3}]},"tcbb0cdb2b8d513b0":{"b":[{"t":0,"n":1,"f":{"at":"2024-01-01T00:00:01.59Z","r":104202311,"v":"/p/687"},"l":{"at":"2024-01-01T00:00:01.59Z","r":104202311,"v":"/p/687"}}]}},"segments":{"seg_1":"2024-01-01T00:00:01.59Z"}}`)

func BenchmarkDecode(b *testing.B) {
	doc := benchDoc
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var d document
			if err := json.Unmarshal(doc, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode", func(b *testing.B) {
		for b.Loop() {
			var p kenner.Profile
			if err := Decode(doc, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	var p kenner.Profile
	if err := Decode(benchDoc, &p); err != nil {
		b.Fatal(err)
	}
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(document{Traits: p.Traits, Aggregates: p.Aggregates, Segments: p.Segments}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := Encode(&p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
