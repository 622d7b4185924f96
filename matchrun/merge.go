package matchrun

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/kenner-cdp/kenner"
)

// mergeCall is the identify call that merges two profiles: it presents an identifier of each,
// so that identity resolution joins their owners (and a replay joins them again), and says
// why in context.match. External ids, emails and phones go in context.externalIds; a user id
// or an anonymous id takes the call's own field, one of each per call.
func mergeCall(messageID string, as, bs []kenner.Identifier, external []string, at time.Time, ev kenner.MatchEvidence) ([]byte, error) {
	msg := map[string]any{"type": kenner.TypeIdentify, "messageId": messageID, "timestamp": at.Format(time.RFC3339Nano), "traits": map[string]any{}}
	var ext []map[string]string
	present := func(ids []kenner.Identifier) bool {
		for _, id := range ids {
			if id.Kind == kenner.KindEmail || id.Kind == kenner.KindPhone || slices.Contains(external, id.Kind) {
				ext = append(ext, map[string]string{"id": id.Value, "type": id.Kind})
				return true
			}
		}
		for _, id := range ids {
			field := map[string]string{kenner.KindUserID: "userId", kenner.KindAnonymousID: "anonymousId"}[id.Kind]
			if field != "" && msg[field] == nil {
				msg[field] = id.Value
				return true
			}
		}
		return false
	}
	if !present(as) || !present(bs) {
		return nil, fmt.Errorf("no identifier the merge call can present")
	}
	// Every call names a user or an anonymous id (the tracking API's rule): when both
	// profiles were presented by other identifiers, one of theirs is added.
	for _, id := range slices.Concat(as, bs) {
		if msg["userId"] != nil || msg["anonymousId"] != nil {
			break
		}
		if field := map[string]string{kenner.KindUserID: "userId", kenner.KindAnonymousID: "anonymousId"}[id.Kind]; field != "" {
			msg[field] = id.Value
		}
	}
	if msg["userId"] == nil && msg["anonymousId"] == nil {
		return nil, fmt.Errorf("neither profile has a user or anonymous id for the merge call")
	}
	c := map[string]any{"match": ev}
	if len(ext) > 0 {
		c["externalIds"] = ext
	}
	msg["context"] = c
	return json.Marshal(msg)
}

// Accept merges the profiles of a review a person accepted, by the identifiers the review
// shows; it returns the error of the merge call's append (EConflict: the review was decided).
func (r *Runner) Accept(ctx context.Context, ws string, id int64, by string) (*kenner.MatchReview, error) {
	if r.cfg.Ingest == nil {
		return nil, kenner.Errorf(kenner.EUnavailable, "this server cannot merge profiles: it has no ingest")
	}
	rv, err := r.cfg.Store.MatchReview(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	if rv.Status != kenner.ReviewPending {
		return nil, kenner.Errorf(kenner.EConflict, "match review %d is already %s", id, rv.Status)
	}
	now := r.cfg.Now().UTC()
	raw, err := mergeCall(fmt.Sprintf("review-%d", id), rv.A.Identifiers, rv.B.Identifiers, r.cfg.ExternalIDs, now,
		kenner.MatchEvidence{Review: id, How: "accepted in review", Weight: rv.Weight, Fields: rv.Fields})
	if err != nil {
		return nil, kenner.Errorf(kenner.EInvalid, "match review %d: %v", id, err)
	}
	// The merge call first: should the decision fail to be recorded, accepting again appends
	// the same message id, which processing keeps once.
	if err := r.appendCalls(ctx, ws, [][]byte{raw}); err != nil {
		return nil, err
	}
	if err := r.cfg.Store.DecideMatchReview(ctx, ws, id, kenner.ReviewAccepted, by, now); err != nil {
		return nil, err
	}
	return r.cfg.Store.MatchReview(ctx, ws, id)
}
