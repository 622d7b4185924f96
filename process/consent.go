package process

import (
	"context"
	"maps"
	"slices"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/identity"
	"github.com/kenner-cdp/kenner/privacy"
)

// applyConsentPolicy decides each event's fate under the consent policy before identity
// resolution: a dropped event leaves the batch; a stripped one loses its personal data, and
// with it the identifiers that data held, so neither reaches the profile. A person's answers
// are those of the profile that owns one of the event's identifiers, updated by the
// statements of earlier events in the batch.
func (p *Processor) applyConsentPolicy(ctx context.Context, b kenner.Batch, ws string, graph kenner.Graph, work []*pending, x identity.Extractor) ([]*pending, map[string]bool, error) {
	owner := func(w *pending) string {
		for _, id := range w.ids {
			if o := graph.Owners[id]; o != "" {
				return o
			}
		}
		return ""
	}
	var owners []string
	for _, w := range work {
		if o := owner(w); o != "" {
			owners = append(owners, o)
		}
	}
	slices.Sort(owners)
	profiles, err := b.LoadProfiles(ctx, ws, slices.Compact(owners))
	if err != nil {
		return nil, nil, err
	}
	answers := map[string]map[string]kenner.Consent{}
	for id, prof := range profiles {
		answers[id] = prof.Consent
	}
	kept := work[:0]
	gone := map[string]bool{}
	for _, w := range work {
		key := owner(w)
		if key == "" && len(w.ids) > 0 {
			key = w.ids[0].Kind + ":" + w.ids[0].Value // a new person: the batch's earlier events
		}
		cur := answers[key]
		verdict := p.cfg.Consent.Verdict(w.stated, cur)
		if len(w.stated) > 0 && key != "" {
			cur = maps.Clone(cur)
			if cur == nil {
				cur = map[string]kenner.Consent{}
			}
			for purpose, granted := range w.stated {
				cur[purpose] = kenner.Consent{Granted: granted}
			}
			answers[key] = cur
		}
		switch verdict {
		case privacy.Drop:
			gone[w.event.MessageID] = true
			p.metrics.consent.WithLabelValues(verdict.String()).Inc()
			continue
		case privacy.Strip:
			w.event.Body = p.cfg.PII.StripEvent(w.event.Body)
			ex, err := x.Extract(w.event.Body)
			if err != nil {
				return nil, nil, err
			}
			w.ids, w.drops = identity.Prepare(p.cfg.Rules, p.cfg.Normalizer, ex.IDs)
			p.metrics.consent.WithLabelValues(verdict.String()).Inc()
		}
		kept = append(kept, w)
	}
	return kept, gone, nil
}
