package analytics

import (
	"testing"
	"time"
)

func TestTouchOfAndClassify(t *testing.T) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, body string
		ok         bool
		channel    string
		want       Touch
	}{
		{"google ads click", `{"type":"page","context":{"page":{"url":"https://shop.example/?gclid=abc","referrer":"https://www.google.com/"}}}`, true, PaidSearch, Touch{ClickID: "gclid", Referrer: "www.google.com"}},
		{"utm cpc on google", `{"type":"page","context":{"campaign":{"source":"google","medium":"cpc","name":"brand"}}}`, true, PaidSearch, Touch{Source: "google", Medium: "cpc", Campaign: "brand"}},
		{"utm cpc on facebook", `{"type":"page","context":{"campaign":{"source":"facebook","medium":"cpc","name":"spring"}}}`, true, PaidSocial, Touch{Source: "facebook", Medium: "cpc", Campaign: "spring"}},
		{"newsletter", `{"type":"page","context":{"campaign":{"source":"newsletter","medium":"email","name":"march","content":"hero"}}}`, true, Email, Touch{Source: "newsletter", Medium: "email", Campaign: "march", Content: "hero"}},
		{"organic google", `{"type":"page","context":{"page":{"url":"https://shop.example/a","referrer":"https://www.google.de/"}}}`, true, OrganicSearch, Touch{Referrer: "www.google.de"}},
		{"t.co", `{"type":"page","context":{"page":{"url":"https://shop.example/a","referrer":"https://t.co/xyz"}}}`, true, Social, Touch{Referrer: "t.co"}},
		{"a blog", `{"type":"page","context":{"page":{"url":"https://shop.example/a","referrer":"https://someblog.example/post"}}}`, true, Referral, Touch{Referrer: "someblog.example"}},
		{"own site", `{"type":"page","context":{"page":{"url":"https://shop.example/b","referrer":"https://www.shop.example/a"}}}`, false, Direct, Touch{}},
		{"nothing", `{"type":"page","context":{"page":{"url":"https://shop.example/b"}}}`, false, Direct, Touch{}},
		{"fbclid alone", `{"type":"page","properties":{"url":"https://shop.example/?fbclid=1"}}`, true, Social, Touch{ClickID: "fbclid"}},
		{"print campaign from an import", `{"type":"track","context":{"campaign":{"source":"flyer","medium":"print","name":"summer"}}}`, true, Offline, Touch{Source: "flyer", Medium: "print", Campaign: "summer"}},
		{"unknown medium", `{"type":"page","context":{"campaign":{"source":"acme","medium":"zzz"}}}`, true, Other, Touch{Source: "acme", Medium: "zzz"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := TouchOf([]byte(tc.body), at)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tc.ok, got)
			}
			tc.want.At = at
			if got != tc.want {
				t.Errorf("touch %+v, want %+v", got, tc.want)
			}
			if ch := Classify(DefaultRules(), got); ch != tc.channel {
				t.Errorf("channel %q, want %q", ch, tc.channel)
			}
		})
	}
}
