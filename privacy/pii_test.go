package privacy

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/profile"
)

func TestIsPII(t *testing.T) {
	p := NewPII(nil)
	tests := []struct {
		key  string
		want bool
	}{
		{"email", true}, {"Email", true}, {"email_address", true}, {"first_name", true}, {"lastName", true},
		{"phone_number", true}, {"ip", true}, {"birthday", true}, {"address", true},
		{"zip", false}, {"shipping", false}, {"plan", false}, {"total", false},
	}
	for _, tc := range tests {
		if got := p.IsPII(tc.key); got != tc.want {
			t.Errorf("IsPII(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
	if !NewPII([]string{"ssn"}).IsPII("SSN") || NewPII([]string{"ssn"}).IsPII("email") {
		t.Error("a configured list replaces the defaults")
	}
}

func TestMaskIdentifier(t *testing.T) {
	tests := []struct{ in, want kenner.Identifier }{
		{kenner.Identifier{Kind: "email", Value: "ada@example.co.uk"}, kenner.Identifier{Kind: "email", Value: "a***@***.uk"}},
		{kenner.Identifier{Kind: "phone", Value: "+4930123456"}, kenner.Identifier{Kind: "phone", Value: "+********56"}},
		{kenner.Identifier{Kind: "user_id", Value: "ümit-1"}, kenner.Identifier{Kind: "user_id", Value: "ü***"}},
		{kenner.Identifier{Kind: "id", Value: "prf_1"}, kenner.Identifier{Kind: "id", Value: "prf_1"}},
	}
	for _, tc := range tests {
		if got := MaskIdentifier(tc.in); got != tc.want {
			t.Errorf("MaskIdentifier(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestStripAndMaskEvent(t *testing.T) {
	p := NewPII(nil)
	in := `{"type":"track","event":"Order Completed","name":"page name","userId":"u1",` +
		`"properties":{"email":"a@b.c","product_name":"Lamp","products":[{"name":"Lamp","sku":"L1"}]},` +
		`"traits":{"email":"a@b.c","company":{"name":"Acme","plan":"pro"}},` +
		`"context":{"ip":"203.0.113.9","traits":{"phone":"+1555"},"library":{"name":"analytics.js"},` +
		`"externalIds":[{"id":"crm-4411","type":"hubspot_id","collection":"users"}],` +
		`"page":{"url":"https://shop.example/reset?token=s3cr3t&email=a@b.c","referrer":"https://mail.example/?u=a@b.c","search":"?token=s3cr3t","path":"/reset"}}}`
	tests := []struct {
		name string
		do   func([]byte) []byte
		want string
	}{
		{"strip", p.StripEvent, `{"type":"track","event":"Order Completed","name":"page name","userId":"u1",` +
			`"properties":{"product_name":"Lamp","products":[{"sku":"L1"}]},` +
			`"traits":{"company":{"plan":"pro"}},` +
			`"context":{"traits":{},"library":{"name":"analytics.js"},"externalIds":[{"id":"crm-4411","type":"hubspot_id","collection":"users"}],` +
			`"page":{"url":"https://shop.example/reset","referrer":"https://mail.example/","search":"","path":"/reset"}}}`},
		{"mask", p.MaskEvent, `{"type":"track","event":"Order Completed","name":"page name","userId":"u***",` +
			`"properties":{"email":"a***@***.c","product_name":"Lamp","products":[{"name":"L***","sku":"L1"}]},` +
			`"traits":{"email":"a***@***.c","company":{"name":"A***","plan":"pro"}},` +
			`"context":{"ip":"2***","traits":{"phone":"+**55"},"library":{"name":"analytics.js"},"externalIds":[{"id":"c***","type":"hubspot_id","collection":"users"}],` +
			`"page":{"url":"https://shop.example/reset?…","referrer":"https://mail.example/?…","search":"?…","path":"/reset"}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.do([]byte(in))
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("invalid JSON %s: %v", got, err)
			}
			json.Unmarshal([]byte(tc.want), &w)
			if d := cmp.Diff(w, g); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	if got := p.StripEvent(nil); got != nil {
		t.Errorf("a shredded (empty) body must stay empty, got %q", got)
	}
}

// FuzzEventPrivacy feeds arbitrary tracking payloads to what reads personal data and consent
// out of them: it must never panic, keep valid JSON valid, and leave no PII field behind.
func FuzzEventPrivacy(f *testing.F) {
	f.Add([]byte(`{"type":"identify","userId":"u1","traits":{"email":"a@b.c","address":{"city":"X"}},"context":{"ip":"1.2.3.4","consent":{"categoryPreferences":{"Ads":false}}}}`))
	f.Add([]byte(`{"properties":{"products":[{"name":"x"},[1,{"email":2}]]},"context":{"traits":null}}`))
	f.Add([]byte(`{"traits":"not an object","context":[]}`))
	f.Add([]byte(`[]`))
	p := NewPII(nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		profile.StatedConsent(body)
		stripped, masked := p.StripEvent(body), p.MaskEvent(body)
		var v map[string]any
		if json.Unmarshal(body, &v) != nil {
			return
		}
		for _, out := range [][]byte{stripped, masked} {
			if !json.Valid(out) {
				t.Fatalf("%s became invalid JSON: %s", body, out)
			}
		}
		var s map[string]any
		json.Unmarshal(stripped, &s)
		if traits, ok := s["traits"].(map[string]any); ok {
			for k := range traits {
				if p.IsPII(k) {
					t.Fatalf("stripped event keeps traits.%s: %s", k, stripped)
				}
			}
		}
	})
}
