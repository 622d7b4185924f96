package profile

import (
	"bytes"
	"cmp"
	"slices"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/jsonobj"
)

// MaxConsentHistory bounds the consent changes a profile keeps; the oldest go first.
const MaxConsentHistory = 200

// StatedConsent reads what an event says about consent: Segment's convention,
// context.consent.categoryPreferences, a map of purpose (category) to true/false. Purposes are
// lowercased; values that are not booleans are ignored. nil: the event says nothing.
func StatedConsent(body []byte) map[string]bool {
	// Most events say nothing about consent; this runs for every event processed.
	if !bytes.Contains(body, []byte("categoryPreferences")) {
		return nil
	}
	m, err := jsonobj.Parse(body)
	if err != nil {
		return nil
	}
	ctx, err := jsonobj.Parse(m.Get("context"))
	if err != nil {
		return nil
	}
	c, err := jsonobj.Parse(ctx.Get("consent"))
	if err != nil {
		return nil
	}
	prefs, err := jsonobj.Parse(c.Get("categoryPreferences"))
	if err != nil {
		return nil
	}
	var out map[string]bool
	for _, f := range prefs {
		var v bool
		switch string(f.Value) {
		case "true":
			v = true
		case "false":
		default:
			continue
		}
		if out == nil {
			out = map[string]bool{}
		}
		out[Purpose(f.Key)] = v
	}
	return out
}

// Purpose is the form purpose names are kept and compared in.
func Purpose(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ApplyConsent records what an event stated (StatedConsent) on the profile: per purpose, the
// latest statement by event time wins (the log position breaks ties), and each statement that
// changes the answer in effect is added to the history. It reports whether the current answer
// of any purpose changed.
func ApplyConsent(prof *kenner.Profile, e *kenner.Event, stated map[string]bool) bool {
	if len(stated) == 0 {
		return false
	}
	rank := kenner.EventRank(e.Seq, e.Index)
	purposes := make([]string, 0, len(stated))
	for p := range stated {
		purposes = append(purposes, p)
	}
	slices.Sort(purposes) // deterministic history order
	changed := false
	for _, p := range purposes {
		c := kenner.Consent{Granted: stated[p], SourceID: e.SourceID, MessageID: e.MessageID, Timestamp: e.Timestamp, Rank: rank}
		changed = setConsent(prof, p, c) || changed
	}
	return changed
}

// setConsent offers one answer; it reports whether the current answer changed.
func setConsent(prof *kenner.Profile, purpose string, c kenner.Consent) bool {
	if prof.Consent == nil {
		prof.Consent = map[string]kenner.Consent{}
	}
	cur, ok := prof.Consent[purpose]
	if ok && cur.MessageID == c.MessageID && cur.Rank == c.Rank {
		return false // the same statement again (a merge of profiles that both saw it)
	}
	newer := !ok || c.Timestamp.After(cur.Timestamp) || (c.Timestamp.Equal(cur.Timestamp) && c.Rank > cur.Rank)
	if !ok || cur.Granted != c.Granted {
		addHistory(prof, kenner.ConsentChange{Purpose: purpose, Consent: c})
	}
	if !newer {
		return false
	}
	prof.Consent[purpose] = c
	return !ok || cur.Granted != c.Granted
}

func addHistory(prof *kenner.Profile, ch kenner.ConsentChange) {
	for _, h := range prof.ConsentHistory {
		if h.Purpose == ch.Purpose && h.MessageID == ch.MessageID {
			return
		}
	}
	i, _ := slices.BinarySearchFunc(prof.ConsentHistory, ch, func(a, b kenner.ConsentChange) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		if a.Rank != b.Rank {
			return cmp.Compare(a.Rank, b.Rank)
		}
		return strings.Compare(a.Purpose, b.Purpose)
	})
	prof.ConsentHistory = slices.Insert(prof.ConsentHistory, i, ch)
	if n := len(prof.ConsentHistory); n > MaxConsentHistory {
		prof.ConsentHistory = slices.Delete(prof.ConsentHistory, 0, n-MaxConsentHistory)
	}
}

// mergeConsent folds from's answers and history into into.
func mergeConsent(into, from *kenner.Profile) {
	for _, h := range from.ConsentHistory {
		addHistory(into, h)
	}
	for p, c := range from.Consent {
		if into.Consent == nil {
			into.Consent = map[string]kenner.Consent{}
		}
		cur, ok := into.Consent[p]
		if !ok || c.Timestamp.After(cur.Timestamp) || (c.Timestamp.Equal(cur.Timestamp) && c.Rank > cur.Rank) {
			into.Consent[p] = c
		}
	}
}
