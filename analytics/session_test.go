package analytics

import (
	"testing"
	"time"
)

func TestTouches(t *testing.T) {
	m := func(min float64) time.Time { return day0.Add(time.Duration(min * float64(time.Minute))) }
	camp := Touch{Source: "newsletter", Medium: "email", Campaign: "march"}
	hits := []Hit{
		{At: m(0), View: true},                               // a first visit, typed in: Direct
		{At: m(5), View: true},                               // the same visit
		{At: m(10), View: true, Touch: camp, HasTouch: true}, // a campaign click mid-visit: a touch
		{At: m(12), View: true, Touch: camp, HasTouch: true}, // the same campaign again in the visit
		{At: m(100)}, // a server's event: no visit
		{At: m(200), View: true, Touch: Touch{Referrer: "www.google.com"}, HasTouch: true},
		{At: m(300), View: true}, // a new visit: Direct
	}
	got := Touches(hits, DefaultRules(), 0)
	want := []string{Direct, Email, OrganicSearch, Direct}
	if len(got) != len(want) {
		t.Fatalf("touches %+v, want channels %v", got, want)
	}
	for i, w := range want {
		if got[i].Channel != w {
			t.Errorf("touch %d: %s, want %s", i, got[i].Channel, w)
		}
	}
	if !got[1].At.Equal(m(10)) || !got[3].At.Equal(m(300)) {
		t.Errorf("times %v %v", got[1].At, got[3].At)
	}
}
