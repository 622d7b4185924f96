package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/privacy"
)

// consistentReadWait bounds how long /v1/events waits for the processor to catch up with the log.
const consistentReadWait = 2 * time.Second

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	q := r.URL.Query()
	f := kenner.EventFilter{
		WorkspaceID: tok.WorkspaceID,
		UserID:      q.Get("user_id"),
		AnonymousID: q.Get("anonymous_id"),
		MessageID:   q.Get("message_id"),
	}
	if (f.UserID != "" || f.AnonymousID != "") && !tok.Role.SeesPII() {
		return kenner.Errorf(kenner.EForbidden, "the %s role sees masked personal data and cannot filter events by user or anonymous id", tok.Role)
	}
	var err error
	if f.Limit, err = pageLimit(q.Get("limit")); err != nil {
		return err
	}
	if a := q.Get("after"); a != "" {
		c, err := kenner.ParseEventCursor(a)
		if err != nil {
			return err
		}
		f.After = &c
	} else {
		s.waitForProcessor(r.Context())
	}
	if err := s.throughGraph(r.Context(), &f); err != nil {
		return err
	}
	events, next, err := s.deps.Store.Events(r.Context(), f)
	if err != nil {
		return err
	}
	writeEvents(w, events, next, s.masker(tok))
	return nil
}

// throughGraph turns a filter by user or anonymous id into one by the profile that id
// belongs to, so that the answer is the person's whole timeline (every device, every id
// merged in), not only the events that carry that id. An id no profile has yet (events not
// processed) keeps the literal filter.
func (s *Server) throughGraph(ctx context.Context, f *kenner.EventFilter) error {
	var ref kenner.Identifier
	switch {
	case f.UserID != "":
		ref = kenner.Identifier{Kind: kenner.KindUserID, Value: f.UserID}
	case f.AnonymousID != "":
		ref = kenner.Identifier{Kind: kenner.KindAnonymousID, Value: f.AnonymousID}
	default:
		return nil
	}
	p, err := s.deps.Store.Profile(ctx, f.WorkspaceID, ref)
	if kenner.ErrorCode(err) == kenner.ENotFound {
		return nil
	}
	if err != nil {
		return err
	}
	f.ProfileID, f.UserID, f.AnonymousID = p.ID, "", ""
	return nil
}

// writeEvents answers a page of events: each stored Segment message with its log seq.
// A non-nil mask hides each message's personal data.
func writeEvents(w http.ResponseWriter, events []kenner.Event, next string, mask *privacy.PII) {
	var buf bytes.Buffer
	buf.WriteString(`{"events":[`)
	for i, e := range events {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"seq":`)
		buf.WriteString(strconv.FormatUint(e.Seq, 10))
		if e.SourceID != "" {
			buf.WriteString(`,"source_id":`)
			sb, _ := json.Marshal(e.SourceID)
			buf.Write(sb)
		}
		body := bytes.TrimSpace(e.Body)
		if mask != nil {
			body = mask.MaskEvent(body)
		}
		if len(body) > 2 {
			buf.WriteByte(',')
		}
		buf.Write(body[1:])
	}
	buf.WriteString(`],"next":`)
	nb, _ := json.Marshal(next)
	buf.Write(nb)
	buf.WriteString("}\n")
	w.Header().Set("Content-Type", "application/json")
	w.Write(buf.Bytes())
}

// waitForProcessor gives the event debugger read-your-writes: an event acknowledged before the
// request is listed, unless the processor is more than consistentReadWait behind, in which
// case the listing is answered as it stands.
func (s *Server) waitForProcessor(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, consistentReadWait)
	defer cancel()
	heads, err := s.deps.Log.Heads(ctx)
	if err != nil {
		return
	}
	for p, head := range heads {
		for head > 0 {
			pos, err := s.deps.Store.Position(ctx, s.deps.Consumer, p)
			if err != nil || pos >= head {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}

func pageLimit(s string) (int, error) {
	if s == "" {
		return kenner.DefaultPageLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > kenner.MaxPageLimit {
		return 0, kenner.Errorf(kenner.EInvalid, "limit must be a number from 1 to %d", kenner.MaxPageLimit)
	}
	return n, nil
}
