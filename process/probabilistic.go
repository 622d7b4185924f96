package process

import (
	"encoding/json"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/identity"
	"github.com/kenner-cdp/kenner/jsonobj"
)

// matchEvidence reads, for the merges made by probabilistic matching's identify calls, the
// decision's reason from the call's context.match. Only calls of the match source count: a
// tracking client cannot label its merges probabilistic.
func matchEvidence(work []*pending, merges []identity.MergeRecord) map[string]string {
	if len(merges) == 0 {
		return nil
	}
	var out map[string]string
	for _, w := range work {
		if w.event.SourceID != kenner.MatchSourceID {
			continue
		}
		m, err := jsonobj.Parse(w.event.Body)
		if err != nil {
			continue
		}
		c, err := jsonobj.Parse(m.Get("context"))
		if err != nil {
			continue
		}
		raw := c.Get("match")
		if raw == nil {
			continue
		}
		var mc kenner.MatchEvidence
		if json.Unmarshal(raw, &mc) != nil {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[w.event.MessageID] = kenner.MatchReason(mc.Weight, mc.Threshold, mc.How, mc.Fields)
	}
	return out
}
