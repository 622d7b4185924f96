package privacy

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/jsonobj"
)

// sealedMark starts an encrypted event; a JSON event starts with '{', so logs written before
// encryption stay readable.
const sealedMark = 0x00

const subjectLen = 16

// SealedLog is a kenner.Log that encrypts each event with its subject's key on Append and
// decrypts on Read. An event whose key was destroyed reads as an empty body, which consumers
// skip; the record keeps its place, so event ids (log position and index) do not change.
type SealedLog struct {
	kenner.Log
	keys     *Keys
	suppress *Suppressor
	dropped  prometheus.Counter
	shredded prometheus.Counter
}

// NewSealedLog wraps a log. Events carrying a suppressed user id, anonymous id or email are
// dropped at append (with the metric kenner_events_suppressed_total).
func NewSealedLog(log kenner.Log, keys *Keys, suppress *Suppressor, reg prometheus.Registerer) *SealedLog {
	l := &SealedLog{Log: log, keys: keys, suppress: suppress,
		dropped:  prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_events_suppressed_total", Help: "Events dropped because they carry an erased identifier."}),
		shredded: prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_log_events_shredded_total", Help: "Log events read whose key was destroyed by an erasure."}),
	}
	if reg != nil {
		reg.MustRegister(l.dropped, l.shredded)
	}
	return l
}

// subjectOf is the identifier whose key encrypts an event, and whether the event carries a
// suppressed identifier.
func (l *SealedLog) subjectOf(ws string, body []byte) (string, bool, error) {
	m, err := jsonobj.Parse(body)
	if err != nil {
		return "", false, err
	}
	user, _ := m.GetString("userId")
	anon, _ := m.GetString("anonymousId")
	if l.suppress != nil {
		if l.suppress.Suppressed(ws, "user_id", user) || l.suppress.Suppressed(ws, "anonymous_id", anon) {
			return "", true, nil
		}
		for _, obj := range [][]byte{m.Get("traits"), contextTraits(m)} {
			if t, err := jsonobj.Parse(obj); err == nil && obj != nil {
				if email, ok := t.GetString("email"); ok && l.suppress.Suppressed(ws, "email", normalEmail(email)) {
					return "", true, nil
				}
			}
		}
	}
	switch {
	case user != "":
		return l.keys.Subject(ws, "user_id", user), false, nil
	case anon != "":
		return l.keys.Subject(ws, "anonymous_id", anon), false, nil
	}
	id, _ := m.GetString("messageId")
	return l.keys.Subject(ws, "message_id", id), false, nil
}

func contextTraits(m jsonobj.Object) []byte {
	c, err := jsonobj.Parse(m.Get("context"))
	if err != nil || m.Get("context") == nil {
		return nil
	}
	return c.Get("traits")
}

// Append encrypts the events and appends them.
func (l *SealedLog) Append(ctx context.Context, batches []kenner.LogBatch) error {
	out := make([]kenner.LogBatch, 0, len(batches))
	for _, b := range batches {
		subjects := make([]string, 0, len(b.Events))
		kept := make([][]byte, 0, len(b.Events))
		for _, e := range b.Events {
			s, suppressed, err := l.subjectOf(b.WorkspaceID, e)
			if err != nil {
				return fmt.Errorf("seal event: %w", err)
			}
			if suppressed {
				l.dropped.Inc()
				continue
			}
			subjects, kept = append(subjects, s), append(kept, e)
		}
		if len(kept) == 0 {
			continue
		}
		keys, err := l.keys.forWrite(ctx, b.WorkspaceID, subjects)
		if err != nil {
			return fmt.Errorf("subject keys: %w", err)
		}
		sealed := make([][]byte, len(kept))
		for i, e := range kept {
			if sealed[i], err = seal(keys[subjects[i]], b.WorkspaceID, subjects[i], e); err != nil {
				return err
			}
		}
		b.Events = sealed
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil
	}
	return l.Log.Append(ctx, out)
}

func seal(aead cipher.AEAD, ws, subject string, plain []byte) ([]byte, error) {
	if aead == nil {
		return nil, errors.New("seal event: no key")
	}
	raw, err := hex.DecodeString(subject)
	if err != nil || len(raw) != subjectLen {
		return nil, fmt.Errorf("seal event: bad subject %q", subject)
	}
	ns := aead.NonceSize()
	out := make([]byte, 1+subjectLen+ns, 1+subjectLen+ns+len(plain)+aead.Overhead())
	out[0] = sealedMark
	copy(out[1:], raw)
	rand.Read(out[1+subjectLen:])
	return aead.Seal(out, out[1+subjectLen:], plain, []byte(ws+"\x00"+subject)), nil
}

// Read decrypts each record before fn sees it.
func (l *SealedLog) Read(ctx context.Context, partition int, after uint64, fn func(ctx context.Context, recs []kenner.LogRecord) error) error {
	return l.Log.Read(ctx, partition, after, func(ctx context.Context, recs []kenner.LogRecord) error {
		if err := l.open(ctx, recs); err != nil {
			return err
		}
		return fn(ctx, recs)
	})
}

// open decrypts records in place.
func (l *SealedLog) open(ctx context.Context, recs []kenner.LogRecord) error {
	byWS := map[string][]string{}
	for _, r := range recs {
		for _, e := range r.Events {
			if len(e) > 1+subjectLen && e[0] == sealedMark {
				byWS[r.WorkspaceID] = append(byWS[r.WorkspaceID], hex.EncodeToString(e[1:1+subjectLen]))
			}
		}
	}
	keys := map[string]map[string]cipher.AEAD{}
	for ws, subjects := range byWS {
		k, err := l.keys.forRead(ctx, ws, subjects)
		if err != nil {
			return fmt.Errorf("subject keys: %w", err)
		}
		keys[ws] = k
	}
	for i := range recs {
		events := make([][]byte, len(recs[i].Events))
		for j, e := range recs[i].Events {
			if len(e) == 0 || e[0] != sealedMark {
				events[j] = e
				continue
			}
			subject := hex.EncodeToString(e[1 : 1+subjectLen])
			aead := keys[recs[i].WorkspaceID][subject]
			if aead == nil {
				l.shredded.Inc()
				continue // erased: stays empty
			}
			ns := aead.NonceSize()
			if len(e) < 1+subjectLen+ns+aead.Overhead() {
				return fmt.Errorf("log record %d event %d: sealed event too short", recs[i].Seq, j)
			}
			plain, err := aead.Open(nil, e[1+subjectLen:1+subjectLen+ns], e[1+subjectLen+ns:], []byte(recs[i].WorkspaceID+"\x00"+subject))
			if err != nil {
				return fmt.Errorf("log record %d event %d: %w", recs[i].Seq, j, err)
			}
			events[j] = plain
		}
		recs[i].Events = events
	}
	return nil
}
