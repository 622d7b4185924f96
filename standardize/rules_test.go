package standardize

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRulesTraits(t *testing.T) {
	rules, err := NewRules(map[string]string{"vip": "boolean", "createdAt": "none", "Mobil": "phone"}, "DE")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, in, want, original string
		problems                 []string
	}{
		{
			name:     "messy person",
			in:       `{"email":"  Ada@Example.COM ","phone":"030 1234567","first_name":"ADA","vip":"yes","plan":"pro","createdAt":"yesterday","mobil":"0171 2345678"}`,
			want:     `{"email":"ada@example.com","phone":"+49301234567","first_name":"Ada","vip":true,"plan":"pro","createdAt":"yesterday","mobil":"+491712345678"}`,
			original: `{"email":"  Ada@Example.COM ","phone":"030 1234567","first_name":"ADA","vip":"yes","mobil":"0171 2345678"}`,
		},
		{
			name:     "nested address",
			in:       `{"address":{"city":"Berlin","country":"Deutschland"}}`,
			want:     `{"address":{"city":"Berlin","country":"DE"}}`,
			original: `{"address":{"country":"Deutschland"}}`,
		},
		{
			name:     "invalid values are kept",
			in:       `{"email":"not an email","phone":"call me"}`,
			want:     `{"email":"not an email","phone":"call me"}`,
			problems: []string{"traits.email", "traits.phone"},
		},
		{
			name: "already standard",
			in:   `{"email":"ada@example.com","country":"DE","phone":null}`,
			want: `{"email":"ada@example.com","country":"DE","phone":null}`,
		},
		{
			name:     "phone as a number",
			in:       `{"phone":4930123456}`,
			want:     `{"phone":"+4930123456"}`,
			original: `{"phone":4930123456}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, res := rules.Traits([]byte(tc.in), "traits")
			if string(got) != tc.want {
				t.Errorf("got %s\nwant %s", got, tc.want)
			}
			if string(res.Original) != tc.original {
				t.Errorf("original %s, want %s", res.Original, tc.original)
			}
			var fields []string
			for _, p := range res.Problems {
				fields = append(fields, p.Field)
			}
			if diff := cmp.Diff(tc.problems, fields); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRulesProperties(t *testing.T) {
	rules, err := NewRules(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	got, res := rules.Properties([]byte(`{"name":"ADA SHOE","revenue":"1.234,50 €","currency":"eur","price":12}`), "properties")
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	want := map[string]any{"name": "ADA SHOE", "revenue": 1234.5, "currency": "EUR", "price": 12.0}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if string(res.Original) != `{"revenue":"1.234,50 €","currency":"eur"}` {
		t.Errorf("original %s", res.Original)
	}
}

func TestNewRulesRejectsUnknownKind(t *testing.T) {
	if _, err := NewRules(map[string]string{"x": "colour"}, ""); err == nil {
		t.Fatal("want an error")
	}
}
