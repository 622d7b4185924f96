package analytics

import "time"

// SessionGap is how long without an event ends a visit, as web analytics counts it.
const SessionGap = 30 * time.Minute

// Hit is one event of a person as touch extraction sees it: when, whether it is a page or
// screen view (a visit), and the touch it carries (see TouchOf).
type Hit struct {
	At       time.Time
	View     bool
	Touch    Touch
	HasTouch bool
}

// Touches turns a person's events, in time order, into their touches, classified by rules
// (a touch classified already keeps its channel):
// every event carrying campaign parameters, a click id or another site's referrer is a touch,
// once per visit (the same source, medium and campaign again in one visit is the same touch);
// a page view that starts a visit (more than gap after the person's previous event) and
// carries none is a Direct touch. Other events (a server's order, an import) start no visit.
func Touches(hits []Hit, rules []Rule, gap time.Duration) []Touch {
	return AppendTouches(nil, hits, rules, gap)
}

// AppendTouches is Touches appending to out (a buffer to reuse).
func AppendTouches(out []Touch, hits []Hit, rules []Rule, gap time.Duration) []Touch {
	if gap <= 0 {
		gap = SessionGap
	}
	base := len(out)
	var last time.Time
	current := -1 // the touch of the visit going on (an index into out)
	for i, h := range hits {
		newVisit := i == 0 || h.At.Sub(last) > gap
		if h.At.After(last) || i == 0 {
			last = h.At
		}
		if newVisit {
			current = -1
		}
		switch {
		case h.HasTouch:
			t := h.Touch
			t.At = h.At
			if t.Channel == "" {
				t.Channel = Classify(rules, t)
			}
			if c := current; c >= base && out[c].Channel == t.Channel && out[c].Source == t.Source && out[c].Medium == t.Medium && out[c].Campaign == t.Campaign {
				continue
			}
			out = append(out, t)
			current = len(out) - 1
		case h.View && newVisit:
			out = append(out, Touch{At: h.At, Channel: Direct})
			current = len(out) - 1
		}
	}
	return out
}
