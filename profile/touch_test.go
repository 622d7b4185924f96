package profile

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/analytics"
)

// TestTouchTraits: first_touch is the earliest touch and last_touch the latest, whatever the
// order events arrive in and however profiles merge; events without a touch set neither.
func TestTouchTraits(t *testing.T) {
	p := Policy{TouchRules: analytics.DefaultRules()}
	day := func(d int) time.Time { return time.Date(2026, 3, 1+d, 0, 0, 0, 0, time.UTC) }
	ev := func(seq uint64, d int, ctx string) kenner.Event {
		return kenner.Event{Type: kenner.TypePage, Seq: seq, Timestamp: day(d), MessageID: fmt.Sprint("m", seq), SourceID: "web",
			Body: []byte(`{"type":"page","context":{` + ctx + `}}`)}
	}
	events := []kenner.Event{
		ev(1, 5, `"campaign":{"source":"newsletter","medium":"email","name":"march"}`),
		ev(2, 1, `"page":{"url":"https://shop.example/?gclid=x","referrer":"https://www.google.com/"}`),
		ev(3, 9, `"page":{"url":"https://shop.example/a"}`), // no touch
		ev(4, 7, `"page":{"url":"https://shop.example/","referrer":"https://www.facebook.com/"}`),
	}
	channel := func(prof *kenner.Profile, name string) string {
		var v map[string]string
		json.Unmarshal(prof.Traits[name].Value, &v)
		return v["channel"]
	}
	for _, order := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}} {
		prof := &kenner.Profile{}
		for _, i := range order {
			e := events[i]
			p.Apply(prof, &e)
		}
		if channel(prof, FirstTouchTrait) != analytics.PaidSearch || channel(prof, LastTouchTrait) != analytics.Social {
			t.Errorf("order %v: first %s, last %s; want Paid Search and Social", order, prof.Traits[FirstTouchTrait].Value, prof.Traits[LastTouchTrait].Value)
		}
	}
	// Two profiles merging: the earliest and the latest of both.
	a, b := &kenner.Profile{}, &kenner.Profile{}
	for i, e := range events {
		if i%2 == 0 {
			p.Apply(a, &e)
		} else {
			p.Apply(b, &e)
		}
	}
	p.Merge(a, b)
	if channel(a, FirstTouchTrait) != analytics.PaidSearch || channel(a, LastTouchTrait) != analytics.Social {
		t.Errorf("merged: first %s, last %s", a.Traits[FirstTouchTrait].Value, a.Traits[LastTouchTrait].Value)
	}
	var v map[string]string
	json.Unmarshal(a.Traits[FirstTouchTrait].Value, &v)
	if v["click_id"] != "gclid" || v["at"] != "2026-03-02T00:00:00Z" {
		t.Errorf("first touch %v", v)
	}
	// Without rules, no touch traits.
	none := &kenner.Profile{}
	e := events[0]
	Policy{}.Apply(none, &e)
	if len(none.Traits) != 0 {
		t.Errorf("no rules: %v", none.Traits)
	}
}
