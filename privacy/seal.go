package privacy

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

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
	stripped prometheus.Counter
	shredded prometheus.Counter
	broken   prometheus.Counter
	// reserveKnown: the last Reserve found most subjects' keys already stored.
	reserveKnown atomic.Bool
}

// NewSealedLog wraps a log. Suppressed user ids, anonymous ids and emails are taken out of
// events at append (kenner_identifiers_suppressed_total); an event left with no id is dropped
// (kenner_events_suppressed_total).
func NewSealedLog(log kenner.Log, keys *Keys, suppress *Suppressor, reg prometheus.Registerer) *SealedLog {
	l := &SealedLog{Log: log, keys: keys, suppress: suppress,
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_events_suppressed_total",
			Help: "Events dropped because every identifier they had was erased (user id and anonymous id)."}),
		stripped: prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_identifiers_suppressed_total",
			Help: "Erased identifiers taken out of events at append; the events went on without them."}),
		shredded: prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_log_events_shredded_total", Help: "Log events read whose key was destroyed by an erasure."}),
		broken: prometheus.NewCounter(prometheus.CounterOpts{Name: "kenner_log_events_undecryptable_total",
			Help: "Sealed log events that did not decrypt (not written by Kenner, or damaged); skipped, left in the log."}),
	}
	if reg != nil {
		reg.MustRegister(l.dropped, l.stripped, l.shredded, l.broken)
	}
	return l
}

// subjectOf is whose key encrypts an event, and the event as it goes to the log. Ingestion
// names the subject (LogBatch.Subjects); otherwise it is read here. An erased identifier is
// taken out of the event, not the event out of the log: a new person who shares something
// with the erased one (a device, a family email) goes on, without it. Only an event left with
// no user id and no anonymous id is dropped (drop true): it can only be the erased person's.
func (l *SealedLog) subjectOf(ws string, body []byte, given *kenner.Identifier) (_ subjectID, _ []byte, drop bool, _ error) {
	check := l.suppress != nil && !l.suppress.Empty()
	if given != nil && given.Value != "" && !check {
		return l.keys.subjectID(ws, given.Kind, given.Value), body, false, nil
	}
	m, err := jsonobj.Parse(body)
	if err != nil {
		return subjectID{}, nil, false, err
	}
	user, _ := m.GetString("userId")
	anon, _ := m.GetString("anonymousId")
	if check {
		stripped := 0
		if l.suppress.Suppressed(ws, "user_id", user) {
			m, user, stripped = m.Delete("userId"), "", stripped+1
		}
		if l.suppress.Suppressed(ws, "anonymous_id", anon) {
			m, anon, stripped = m.Delete("anonymousId"), "", stripped+1
		}
		if t, ok := l.withoutSuppressedEmail(ws, m.Get("traits")); ok {
			m, stripped = m.Set("traits", t), stripped+1
		}
		if c, err := jsonobj.Parse(m.Get("context")); err == nil && m.Get("context") != nil {
			if t, ok := l.withoutSuppressedEmail(ws, c.Get("traits")); ok {
				m, stripped = m.Set("context", c.Set("traits", t).Encode()), stripped+1
			}
		}
		if stripped > 0 {
			l.stripped.Add(float64(stripped))
			if strings.TrimSpace(user) == "" && strings.TrimSpace(anon) == "" {
				return subjectID{}, nil, true, nil
			}
			body = m.Encode()
		}
	}
	switch {
	case strings.TrimSpace(user) != "":
		return l.keys.subjectID(ws, "user_id", user), body, false, nil
	case strings.TrimSpace(anon) != "":
		return l.keys.subjectID(ws, "anonymous_id", anon), body, false, nil
	}
	id, _ := m.GetString("messageId")
	return l.keys.subjectID(ws, "message_id", id), body, false, nil
}

// withoutSuppressedEmail returns a traits object without its email when that email is
// suppressed (ok true), so that it neither identifies nor lands on anyone's profile.
func (l *SealedLog) withoutSuppressedEmail(ws string, raw []byte) ([]byte, bool) {
	if raw == nil {
		return nil, false
	}
	t, err := jsonobj.Parse(raw)
	if err != nil {
		return nil, false
	}
	email, ok := t.GetString("email")
	if !ok || !l.suppress.Suppressed(ws, "email", normalEmail(email)) {
		return nil, false
	}
	return t.Delete("email").Encode(), true
}

func contextTraits(m jsonobj.Object) []byte {
	raw := m.Get("context")
	if raw == nil {
		return nil
	}
	c, err := jsonobj.Parse(raw)
	if err != nil {
		return nil
	}
	return c.Get("traits")
}

// Append encrypts the events and appends them. The keys of all the batches' subjects are
// fetched (and the missing ones created) together, in one store transaction per workspace.
func (l *SealedLog) Append(ctx context.Context, batches []kenner.LogBatch) error {
	type pending struct {
		b        kenner.LogBatch
		subjects []subjectID
		kept     [][]byte
	}
	ps := make([]pending, 0, len(batches))
	byWS := map[string][]subjectID{}
	for _, b := range batches {
		p := pending{b: b, subjects: make([]subjectID, 0, len(b.Events)), kept: make([][]byte, 0, len(b.Events))}
		for i, e := range b.Events {
			var given *kenner.Identifier
			if len(b.Subjects) == len(b.Events) {
				given = &b.Subjects[i]
			}
			s, body, drop, err := l.subjectOf(b.WorkspaceID, e, given)
			if err != nil {
				return fmt.Errorf("seal event: %w", err)
			}
			if drop {
				l.dropped.Inc()
				continue
			}
			p.subjects, p.kept = append(p.subjects, s), append(p.kept, body)
		}
		if len(p.kept) > 0 {
			ps = append(ps, p)
			byWS[b.WorkspaceID] = append(byWS[b.WorkspaceID], p.subjects...)
		}
	}
	if len(ps) == 0 {
		return nil
	}
	keysByWS := make(map[string]map[subjectID][32]byte, len(byWS))
	for ws, subjects := range byWS {
		keys, err := l.keys.forWrite(ctx, ws, subjects)
		if err != nil {
			return fmt.Errorf("subject keys: %w", err)
		}
		keysByWS[ws] = keys
	}
	out := make([]kenner.LogBatch, 0, len(ps))
	for _, p := range ps {
		keys := keysByWS[p.b.WorkspaceID]
		aeads := make(map[subjectID]cipher.AEAD, len(p.kept))
		sealed := make([][]byte, len(p.kept))
		for i, e := range p.kept {
			aead := aeads[p.subjects[i]]
			if aead == nil {
				dk, ok := keys[p.subjects[i]]
				if !ok {
					return errors.New("seal event: no key")
				}
				aead = newAEAD(dk)
				aeads[p.subjects[i]] = aead
			}
			sealed[i] = seal(aead, p.b.WorkspaceID, p.subjects[i], e)
		}
		b := p.b
		b.Events, b.Subjects = sealed, nil
		out = append(out, b)
	}
	return l.Log.Append(ctx, out)
}

// Reserve creates ahead of time the keys that appending events of these subjects (user ids,
// else anonymous ids) will need, so that a bulk loader can create the next batch's keys
// while the previous batch is appended.
func (l *SealedLog) Reserve(ctx context.Context, ws string, subjects []kenner.Identifier) error {
	ids := make([]subjectID, 0, len(subjects))
	for _, s := range subjects {
		if s.Value != "" {
			ids = append(ids, l.keys.subjectID(ws, s.Kind, s.Value))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	// A load of new people is best served by creating keys blindly, a load of events of
	// known people by looking them up first; the last batch tells which this is.
	if l.reserveKnown.Load() {
		_, missing, err := l.keys.forWriteCount(ctx, ws, ids)
		if err != nil {
			return fmt.Errorf("subject keys: %w", err)
		}
		l.reserveKnown.Store(2*missing < len(ids))
		return nil
	}
	existed, err := l.keys.forCreate(ctx, ws, ids)
	if err != nil {
		return fmt.Errorf("subject keys: %w", err)
	}
	l.reserveKnown.Store(2*existed > len(ids))
	return nil
}

// CreatesKeys reports whether Reserve is creating keys (the last batch was mostly new
// subjects) rather than looking them up. Creating them for several batches at once costs
// less than for each alone; looking them up does not.
func (l *SealedLog) CreatesKeys() bool { return !l.reserveKnown.Load() }

func newAEAD(key [32]byte) cipher.AEAD {
	block, _ := aes.NewCipher(key[:])
	aead, _ := cipher.NewGCM(block)
	return aead
}

// aad binds a sealed event to its workspace and subject.
func aad(ws string, s subjectID) []byte {
	b := make([]byte, 0, len(ws)+1+len(s))
	b = append(b, ws...)
	b = append(b, 0)
	return append(b, s[:]...)
}

func seal(aead cipher.AEAD, ws string, s subjectID, plain []byte) []byte {
	ns := aead.NonceSize()
	out := make([]byte, 1+subjectLen+ns, 1+subjectLen+ns+len(plain)+aead.Overhead())
	out[0] = sealedMark
	copy(out[1:], s[:])
	rand.Read(out[1+subjectLen:])
	return aead.Seal(out, out[1+subjectLen:], plain, aad(ws, s))
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

// ReadSealed is Read for a reader that looks inside only some batches: need says, before any
// decryption, whether fn will read the events of recs; when it says no, fn gets them still
// sealed (opened false). Activation's event reader, with no destination taking raw events,
// skips the decryption that would otherwise be a twentieth of the tracking API's CPU.
func (l *SealedLog) ReadSealed(ctx context.Context, partition int, after uint64, need func(recs []kenner.LogRecord) bool,
	fn func(ctx context.Context, recs []kenner.LogRecord, opened bool) error) error {
	return l.Log.Read(ctx, partition, after, func(ctx context.Context, recs []kenner.LogRecord) error {
		if !need(recs) {
			return fn(ctx, recs, false)
		}
		if err := l.open(ctx, recs); err != nil {
			return err
		}
		return fn(ctx, recs, true)
	})
}

// open decrypts records in place.
func (l *SealedLog) open(ctx context.Context, recs []kenner.LogRecord) error {
	byWS := map[string][]subjectID{}
	for _, r := range recs {
		for _, e := range r.Events {
			if len(e) > 1+subjectLen && e[0] == sealedMark {
				byWS[r.WorkspaceID] = append(byWS[r.WorkspaceID], subjectID(e[1:1+subjectLen]))
			}
		}
	}
	keys := map[string]map[subjectID][32]byte{}
	for ws, subjects := range byWS {
		k, err := l.keys.forRead(ctx, ws, subjects)
		if err != nil {
			return fmt.Errorf("subject keys: %w", err)
		}
		keys[ws] = k
	}
	aeads := map[subjectID]cipher.AEAD{}
	for i := range recs {
		events := make([][]byte, len(recs[i].Events))
		// The plain texts of a record share one buffer: one allocation per record, not one
		// per event (the record's own bytes are not ours to overwrite).
		size := 0
		for _, e := range recs[i].Events {
			size += len(e)
		}
		buf := make([]byte, 0, size)
		for j, e := range recs[i].Events {
			if len(e) == 0 || e[0] != sealedMark {
				events[j] = e
				continue
			}
			// An event that does not open was not sealed by Kenner (a foreign record) or is
			// damaged: it reads as empty, like a shredded one, so that the partition moves on
			// instead of stopping at it for ever; it stays in the log.
			if len(e) < 1+subjectLen+12+16 {
				l.broken.Inc()
				continue
			}
			s := subjectID(e[1 : 1+subjectLen])
			dk, ok := keys[recs[i].WorkspaceID][s]
			if !ok {
				l.shredded.Inc()
				continue // erased: stays empty
			}
			aead := aeads[s]
			if aead == nil {
				aead = newAEAD(dk)
				aeads[s] = aead
			}
			ns := aead.NonceSize()
			plain, err := aead.Open(buf, e[1+subjectLen:1+subjectLen+ns], e[1+subjectLen+ns:], aad(recs[i].WorkspaceID, s))
			if err != nil {
				l.broken.Inc()
				continue
			}
			events[j] = plain[len(buf):len(plain):len(plain)]
			buf = plain
		}
		recs[i].Events = events
	}
	return nil
}
