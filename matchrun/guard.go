package matchrun

import (
	"context"
	"fmt"
	"slices"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/match"
)

// guard knows, for the profiles of the strong pairs, their identifiers, the separations that
// involve them (a split keeps its halves apart for good) and the pairs people rejected.
type guard struct {
	rules    map[string]int // identity limits by kind
	ids      map[int][]kenner.Identifier
	seps     []kenner.Separation
	rejected []kenner.MatchReview
	meta     []record
}

func (r *Runner) guard(ctx context.Context, ws string, meta []record, links []match.Link) (*guard, error) {
	g := &guard{rules: r.cfg.Rules.Limits, ids: map[int][]kenner.Identifier{}, meta: meta}
	var all []kenner.Identifier
	for _, l := range links {
		for _, x := range []int{l.A, l.B} {
			if _, ok := g.ids[x]; ok {
				continue
			}
			p, err := r.cfg.Store.Profile(ctx, ws, kenner.Identifier{Kind: kenner.KindProfileID, Value: meta[x].profileID})
			if kenner.ErrorCode(err) == kenner.ENotFound {
				g.ids[x] = nil // merged or erased since it was read
				continue
			}
			if err != nil {
				return nil, err
			}
			if p.ID != meta[x].profileID {
				g.ids[x] = nil
				continue
			}
			for _, idt := range p.Identities {
				g.ids[x] = append(g.ids[x], idt.Identifier)
			}
			all = append(all, g.ids[x]...)
		}
	}
	if len(all) > 0 {
		// The separations come with the graph, read in a transaction that writes nothing.
		err := r.cfg.Store.Apply(ctx, kenner.Position{}, func(ctx context.Context, b kenner.Batch) error {
			graph, err := b.LoadGraph(ctx, ws, all)
			if err != nil {
				return err
			}
			g.seps = graph.Separations
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading separations: %w", err)
		}
	}
	for after := int64(0); ; {
		rs, err := r.cfg.Store.MatchReviews(ctx, kenner.MatchReviewFilter{WorkspaceID: ws, Status: kenner.ReviewRejected, After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		g.rejected = append(g.rejected, rs...)
		if len(rs) < 1000 {
			break
		}
		after = rs[len(rs)-1].ID
	}
	return g, nil
}

// refuse says why the pair may not merge nor be reviewed ("" when it may).
func (g *guard) refuse(a, b int) string {
	as, bs := g.ids[a], g.ids[b]
	if len(as) == 0 || len(bs) == 0 {
		return "a profile changed during the run"
	}
	for _, s := range g.seps {
		if kenner.SidesMeet(s.A, s.B, as, bs) {
			return "split apart before"
		}
	}
	for i := range g.rejected {
		if g.rejected[i].Covers(as, bs) {
			return "rejected in review"
		}
	}
	counts := map[string]int{}
	for _, id := range slices.Concat(as, bs) {
		counts[id.Kind]++
	}
	for kind, n := range counts {
		if l := g.rules[kind]; l > 0 && n > l {
			return fmt.Sprintf("would break the identity limit on %s", kind)
		}
	}
	return ""
}

// side is one record of a pair for review.
func (g *guard) side(x int, recs []match.Record) kenner.MatchSide {
	return kenner.MatchSide{ProfileID: g.meta[x].profileID, Identifiers: g.ids[x], Values: recs[x].Fields}
}
