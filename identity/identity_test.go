package identity

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		region, kind, in, want string
		bad                    bool
	}{
		{"", Email, "  Ada.Lovelace@Example.COM ", "ada.lovelace@example.com", false},
		{"", Email, "ada@localhost", "", true},
		{"", Email, "Ada <ada@example.com>", "", true},
		{"", Email, "not an email", "", true},
		{"", Phone, "+49 30 1234567", "+49301234567", false},
		{"", Phone, "0049 (30) 123-4567", "+49301234567", false},
		{"", Phone, "030 1234567", "", true},
		{"DE", Phone, "030 1234567", "+49301234567", false},
		{"US", Phone, "(415) 555-2671", "+14155552671", false},
		{"US", Phone, "12", "", true},
		{"", UserID, "  u-42 ", "u-42", false},
		{"", UserID, "   ", "", true},
		{"", "crm_id", "C-0001", "C-0001", false},
	}
	for _, tc := range tests {
		got, err := Normalizer{DefaultRegion: tc.region}.Normalize(tc.kind, tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("Normalize(%s, %q) in %q = %q, %v; want %q (error %v)", tc.kind, tc.in, tc.region, got, err, tc.want, tc.bad)
		}
	}
}

func TestExtract(t *testing.T) {
	x := Extractor{External: []string{"crm_id", "shopify_id"}}
	tests := []struct {
		name string
		msg  string
		want Extracted
	}{
		{
			name: "identify traits",
			msg:  `{"type":"identify","userId":"u1","anonymousId":"a1","traits":{"email":"A@x.com","phone":"+4930123456","crm_id":12345,"name":"Ada"}}`,
			want: Extracted{IDs: []Identifier{id(UserID, "u1"), id(AnonymousID, "a1"), id(Email, "A@x.com"), id(Phone, "+4930123456"), id("crm_id", "12345")}},
		},
		{
			name: "track uses context.traits, not properties",
			msg:  `{"type":"track","userId":"u1","properties":{"email":"nope@x.com"},"context":{"traits":{"email":"b@x.com"}}}`,
			want: Extracted{IDs: []Identifier{id(UserID, "u1"), id(Email, "b@x.com")}},
		},
		{
			name: "context.externalIds of configured types",
			msg:  `{"type":"page","anonymousId":"a1","context":{"externalIds":[{"id":"S-9","type":"shopify_id","collection":"users"},{"id":"zz","type":"unknown_id"}]}}`,
			want: Extracted{IDs: []Identifier{id(AnonymousID, "a1"), id("shopify_id", "S-9")}},
		},
		{
			name: "alias",
			msg:  `{"type":"alias","userId":"u1","previousId":"a1"}`,
			want: Extracted{IDs: []Identifier{id(UserID, "u1")}, PreviousID: "a1"},
		},
		{
			name: "traits of the wrong type are ignored",
			msg:  `{"type":"identify","userId":"u1","traits":{"email":{"a":1},"phone":true}}`,
			want: Extracted{IDs: []Identifier{id(UserID, "u1")}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := x.Extract([]byte(tc.msg))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestResolveIsOrderIndependentOfViewMaps guards determinism: the same inputs give the same
// decision however Go iterates the view's maps.
func TestResolveIsDeterministic(t *testing.T) {
	rules := DefaultRules()
	ids, _ := Prepare(rules, Normalizer{}, []Identifier{id(AnonymousID, "a"), id(Email, "e@x.com"), id(AnonymousID, "b"), id(AnonymousID, "c")})
	view := View{
		Owners: map[Identifier]string{id(AnonymousID, "a"): "pa", id(AnonymousID, "b"): "pb", id(AnonymousID, "c"): "pc"},
		Profiles: map[string]Profile{
			"pa": {ID: "pa", Identifiers: []Identifier{id(AnonymousID, "a")}, Rank: 30},
			"pb": {ID: "pb", Identifiers: []Identifier{id(AnonymousID, "b")}, Rank: 10},
			"pc": {ID: "pc", Identifiers: []Identifier{id(AnonymousID, "c")}, Rank: 20},
		},
	}
	first := Resolve(rules, ids, view)
	if first.Action != Merge || first.Profile != "pb" {
		t.Fatalf("want a merge into the oldest profile pb, got %+v", first)
	}
	for range 50 {
		if diff := cmp.Diff(first, Resolve(rules, ids, view)); diff != "" {
			t.Fatalf("decision changed between runs:\n%s", diff)
		}
	}
}

func id(kind, value string) Identifier { return Identifier{Kind: kind, Value: value} }
