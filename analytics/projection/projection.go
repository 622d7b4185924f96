// Package projection keeps the columns analytics queries read: every event of the log, as
// columns in memory per workspace (time, identifier, name, touch, value), fed by reading the
// log itself. It costs the processing hot path nothing, reads every partition on every node
// (so scale-out needs nothing more), and joins identifiers to people through the store's
// identity graph, kept in step as people merge, split and are erased.
package projection

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/analytics"
	"github.com/kenner-cdp/kenner/jsonobj"
)

// Identities is what the projection reads of the identity graph.
type Identities interface {
	IdentityOwners(ctx context.Context, workspaceID string, ids []kenner.Identifier) (map[kenner.Identifier]string, error)
	ScanIdentities(ctx context.Context, workspaceID string, after kenner.Identifier, limit int) ([]kenner.IdentityOwner, error)
	Changes(ctx context.Context, after int64, limit int) ([]kenner.Change, error)
	// EventBodies reads stored events' bodies, for a conversion filtered by its properties.
	EventBodies(ctx context.Context, workspaceID string, ranks []int64) (map[int64][]byte, error)
}

// Config is the projection's settings.
type Config struct {
	Log        kenner.Log
	Identities Identities
	// Rules classify touches into channels (nil: analytics.DefaultRules).
	Rules []analytics.Rule
	// Retention: events older than this are left out of every answer (0: kept).
	Retention time.Duration
	// Refresh is how often every identifier's profile is read again (default 10 minutes); new
	// identifiers and those an event links are read within a second.
	Refresh time.Duration
	// Suppressed reports an erased identifier (normalized): its events are left out.
	Suppressed func(workspaceID, kind, value string) bool
	// Held, in a cluster, says whether this node's processor works on a partition now, and
	// from which position it resumed there: the processor hands over what it applies after
	// that (Feed), and the projection reads the rest of the partition from the log itself.
	// Nil: one node, whose processor holds every partition.
	Held   func(partition int) (from uint64, ok bool)
	Logger *slog.Logger
	Now    func() time.Time
}

// Projection is the analytics columns of every workspace.
type Projection struct {
	cfg    Config
	mu     sync.RWMutex
	tables map[string]*table
	// dirty are identifiers to resolve again, by workspace, until the time given: new ones,
	// and those an event linked (an identify with a user and an anonymous id, a match) whose
	// profiles may be merging.
	dirty     map[string]map[int32]time.Time
	heads     []uint64 // the log's heads at start: reading is "loading" until reached
	read      []atomic.Uint64
	loaded    atomic.Bool
	changesAt int64
	feed      chan fed
	stopped   chan struct{}
}

// New returns an empty projection.
func New(cfg Config) *Projection {
	if cfg.Rules == nil {
		cfg.Rules = analytics.DefaultRules()
	}
	if cfg.Refresh == 0 {
		cfg.Refresh = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Projection{cfg: cfg, tables: map[string]*table{}, dirty: map[string]map[int32]time.Time{}, feed: make(chan fed, 64), stopped: make(chan struct{})}
	if cfg.Log != nil {
		p.read = make([]atomic.Uint64, cfg.Log.Partitions())
	}
	return p
}

// Run reads the log from its start up to where it was when Run began (the history), applies
// what the processor hands over from then on (Feed), and keeps identifiers joined to their
// people, until ctx ends.
func (p *Projection) Run(ctx context.Context) error {
	defer close(p.stopped)
	heads, err := p.cfg.Log.Heads(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.heads = heads
	p.mu.Unlock()
	// Changes from now on: erasures before now left nothing readable in the log.
	if cs, err := p.latestChange(ctx); err == nil {
		p.changesAt = cs
	}
	var wg sync.WaitGroup
	for part := range p.cfg.Log.Partitions() {
		wg.Go(func() { p.follow(ctx, part, heads[part]) })
	}
	wg.Go(func() { p.resolveLoop(ctx) })
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case f := <-p.feed:
				p.ApplyEvents(f.events, f.owners)
				if last := f.events[len(f.events)-1].Seq; last > p.read[f.part].Load() {
					p.read[f.part].Store(last)
				}
			}
		}
	})
	wg.Wait()
	return ctx.Err()
}

// fed is a batch the processor applied from one partition, with the owners of the
// identifiers it touched.
type fed struct {
	part   int
	events []kenner.Event
	owners map[string]map[kenner.Identifier]string
}

// Feed hands over events the processor applied from a partition; they are added in the
// background, in order.
func (p *Projection) Feed(part int, events []kenner.Event, owners map[string]map[kenner.Identifier]string) {
	if len(events) == 0 {
		return
	}
	select {
	case p.feed <- fed{part, events, owners}:
	case <-p.stopped:
		// Run has ended (the server is stopping): the next start reads these from the log.
	}
}

// follow reads a partition from the log for as long as the processor does not hand its
// events over: its history up to head at start (one node), or, in a cluster, everything
// while another node holds it, and up to where this node's processor resumed once it does.
func (p *Projection) follow(ctx context.Context, part int, head uint64) {
	// target is how far the log must be read before Feed covers the rest; tail: no end.
	target := func() (uint64, bool) {
		if p.cfg.Held == nil {
			return head, false
		}
		from, held := p.cfg.Held(part)
		return from, !held
	}
	done := func() bool {
		to, tail := target()
		return !tail && p.read[part].Load() >= to
	}
	for ctx.Err() == nil {
		if done() {
			if p.cfg.Held == nil {
				return // the history is read; the processor hands over the rest
			}
			select { // held by this node: look again in a second (it may move)
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		readCtx, stop := context.WithCancel(ctx)
		watch := make(chan struct{})
		go func() { // the partition may come to this node while the log has nothing new
			defer close(watch)
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-readCtx.Done():
					return
				case <-t.C:
					if done() {
						stop()
					}
				}
			}
		}()
		err := p.cfg.Log.Read(readCtx, part, p.read[part].Load(), func(_ context.Context, recs []kenner.LogRecord) error {
			p.Apply(recs)
			if last := recs[len(recs)-1].Seq; last > p.read[part].Load() {
				p.read[part].Store(last)
			}
			if done() {
				stop()
			}
			return nil
		})
		stop()
		<-watch
		if err != nil && readCtx.Err() == nil {
			p.cfg.Logger.Warn("analytics: reading the log", "partition", part, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

func (p *Projection) latestChange(ctx context.Context) (int64, error) {
	var last int64
	for {
		cs, err := p.cfg.Identities.Changes(ctx, last, 10000)
		if err != nil || len(cs) == 0 {
			return last, err
		}
		last = cs[len(cs)-1].Seq
	}
}

// Progress reports whether the projection has read the log as far as it went when the
// projection started, and how much of it.
func (p *Projection) Progress() (loaded bool, share float64) {
	if p.loaded.Load() {
		return true, 1
	}
	p.mu.RLock()
	heads := p.heads
	p.mu.RUnlock()
	if heads == nil {
		return false, 0
	}
	var done, total float64
	for i, h := range heads {
		total += float64(h)
		done += float64(min(p.read[i].Load(), h))
	}
	if done >= total {
		p.loaded.Store(true)
		return true, 1
	}
	return false, done / total
}

// Apply adds log records' events: each once (by message id), at its own timestamp.
func (p *Projection) Apply(recs []kenner.LogRecord) {
	var rows []parsed
	for _, rec := range recs {
		for i, body := range rec.Events {
			m, err := jsonobj.Parse(body)
			if err != nil {
				continue // a shredded or foreign record
			}
			if x, ok := p.parse(m); ok {
				x.ws, x.r.rank = rec.WorkspaceID, kenner.EventRank(rec.Seq, i)
				rows = append(rows, x)
			}
		}
	}
	p.add(rows, nil)
}

// ApplyEvents adds events the processor applied; owners (by workspace) are the profiles
// the identifiers it touched belong to once it committed: those are taken as they are, with no
// read of the store (nil: every new identifier is read once).
func (p *Projection) ApplyEvents(events []kenner.Event, owners map[string]map[kenner.Identifier]string) {
	rows := make([]parsed, 0, len(events))
	for _, e := range events {
		m, err := jsonobj.Parse(e.Body)
		if err != nil {
			continue
		}
		if x, ok := p.parse(m); ok {
			x.ws, x.r.rank, x.applied = e.WorkspaceID, kenner.EventRank(e.Seq, e.Index), true
			rows = append(rows, x)
		}
	}
	p.add(rows, owners)
}

// parsed is an event on its way into the columns.
type parsed struct {
	ws    string
	msgID string
	r     row
	link  []kenner.Identifier // identifiers the event says are one person
	// applied: handed over by the processor once it committed the event, so the identity
	// graph already holds what the event did (a read then is final); otherwise read from the
	// log's history, possibly ahead of processing.
	applied bool
}

// readOnce marks a dirty identifier to read at the next pass only.
var readOnce time.Time

func (p *Projection) add(rows []parsed, owners map[string]map[kenner.Identifier]string) {
	p.addRows(rows, owners)
	// The owners the processor committed: every identifier of the profiles the batch touched
	// that the columns know, set without a read (a merge's moved identifiers included).
	for ws, byIdent := range owners {
		p.mu.Lock()
		t := p.tables[ws]
		var ids []kenner.Identifier
		if t != nil {
			for id, prof := range byIdent {
				i, ok := t.idents.ids[id]
				if !ok {
					continue
				}
				ids = append(ids, id)
				// Batches of different partitions are handed over in the order their
				// processors finish, not always the order they committed in: an identifier
				// that moves (a merge) is read once more, so that an older batch's owner
				// handed over late cannot stay.
				if o := t.owner[i]; o >= 0 {
					if cur, ok := t.profiles.ids[prof]; !ok || cur != o {
						d := p.dirty[ws]
						if d == nil {
							d = map[int32]time.Time{}
							p.dirty[ws] = d
						}
						mark(d, i, readOnce)
					}
				}
			}
		}
		p.mu.Unlock()
		if len(ids) > 0 {
			p.setOwners(ws, ids, byIdent)
		}
	}
}

func (p *Projection) addRows(rows []parsed, owners map[string]map[kenner.Identifier]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now()
	for _, x := range rows {
		t := p.tables[x.ws]
		if t == nil {
			t = newTable()
			p.tables[x.ws] = t
		}
		if p.cfg.Suppressed != nil && p.cfg.Suppressed(x.ws, x.r.who.Kind, x.r.who.Value) {
			continue
		}
		if !t.seen.add(x.msgID) {
			continue
		}
		known := len(t.idents.of)
		t.add(x.r)
		d := p.dirty[x.ws]
		if d == nil {
			d = map[int32]time.Time{}
			p.dirty[x.ws] = d
		}
		// An identifier whose owner the processor handed over needs no read. Another one of an
		// applied event is read once: its profile is final in the graph by then. One from the
		// history may be ahead of processing: read every second for 30 s.
		until := now.Add(30 * time.Second)
		if x.applied {
			until = readOnce
		}
		handed := func(id kenner.Identifier) bool {
			_, ok := owners[x.ws][id]
			return x.applied && ok
		}
		if len(t.idents.of) > known && !handed(x.r.who) {
			mark(d, int32(len(t.idents.of)-1), until)
		}
		for _, id := range x.link {
			if !handed(id) {
				mark(d, t.identID(id), until)
			}
		}
	}
}

// parse reads what the columns keep of an event.
func (p *Projection) parse(m jsonobj.Object) (parsed, bool) {
	typ, _ := m.GetString("type")
	msgID, _ := m.GetString("messageId")
	ts, _ := m.GetString("timestamp")
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || msgID == "" {
		return parsed{}, false
	}
	user, _ := m.GetString("userId")
	anon, _ := m.GetString("anonymousId")
	r := row{at: at}
	switch {
	case user != "":
		r.who = kenner.Identifier{Kind: kenner.KindUserID, Value: user}
	case anon != "":
		r.who = kenner.Identifier{Kind: kenner.KindAnonymousID, Value: anon}
	default:
		return parsed{}, false
	}
	if typ == kenner.TypeTrack {
		r.name, _ = m.GetString("event")
	} else {
		r.name = "$" + typ
	}
	r.view = typ == kenner.TypePage || typ == kenner.TypeScreen
	if typ == kenner.TypePage || typ == kenner.TypeScreen || typ == kenner.TypeTrack {
		if tc, ok := analytics.TouchOfMessage(m, at); ok {
			tc.Channel = analytics.Classify(p.cfg.Rules, tc)
			r.touch = &tc
		}
	}
	if props, err := jsonobj.Parse(m.Get("properties")); err == nil {
		if c, ok := props.GetString("currency"); ok {
			r.currency = strings.ToUpper(strings.TrimSpace(c))
		}
		for _, k := range []string{"revenue", "value", "total"} {
			if v := props.Get(k); len(v) > 0 {
				if f, err := strconv.ParseFloat(string(v), 64); err == nil {
					r.value, r.valued = f, true
					break
				}
				if s, ok := jsonobj.String(v); ok {
					if f, err := strconv.ParseFloat(s, 64); err == nil {
						r.value, r.valued = f, true
						break
					}
				}
			}
		}
	}
	var link []kenner.Identifier
	if user != "" && anon != "" || typ == kenner.TypeAlias || typ == kenner.TypeIdentify {
		// An identify or alias may join profiles: every identifier it names is read again.
		if user != "" {
			link = append(link, kenner.Identifier{Kind: kenner.KindUserID, Value: user})
		}
		if anon != "" {
			link = append(link, kenner.Identifier{Kind: kenner.KindAnonymousID, Value: anon})
		}
		if prev, _ := m.GetString("previousId"); prev != "" {
			link = append(link, kenner.Identifier{Kind: kenner.KindUserID, Value: prev}, kenner.Identifier{Kind: kenner.KindAnonymousID, Value: prev})
		}
	}
	return parsed{msgID: msgID, r: r, link: link}, true
}

// resolveLoop joins identifiers to profiles: every second those that are new or linked, every
// Refresh all of them; and it follows the changes stream for erasures.
func (p *Projection) resolveLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastFull := p.cfg.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := p.ResolveDirty(ctx); err != nil && ctx.Err() == nil {
			p.cfg.Logger.Warn("analytics: joining identifiers to people", "err", err)
		}
		if err := p.followChanges(ctx); err != nil && ctx.Err() == nil {
			p.cfg.Logger.Warn("analytics: following erasures", "err", err)
		}
		if p.cfg.Now().Sub(lastFull) >= p.cfg.Refresh {
			lastFull = p.cfg.Now()
			if err := p.ResolveAll(ctx); err != nil && ctx.Err() == nil {
				p.cfg.Logger.Warn("analytics: reading every identifier's profile", "err", err)
			}
		}
	}
}

// ResolveDirty reads the profiles of the identifiers that are new or were linked, and of every
// identifier of the profiles those had (a merge moves them all).
func (p *Projection) ResolveDirty(ctx context.Context) error {
	p.mu.Lock()
	now := p.cfg.Now()
	work := map[string][]kenner.Identifier{}
	for ws, d := range p.dirty {
		t := p.tables[ws]
		for id, until := range d {
			switch {
			case until.IsZero():
				delete(d, id) // read once, now
			case now.After(until):
				delete(d, id)
				continue
			}
			work[ws] = append(work[ws], t.idents.of[id])
		}
	}
	p.mu.Unlock()
	for ws, ids := range work {
		owners, err := p.cfg.Identities.IdentityOwners(ctx, ws, ids)
		if err != nil {
			return err
		}
		p.setOwners(ws, ids, owners)
	}
	return nil
}

// setOwners records profiles read for identifiers; when an identifier moved to another
// profile, the other identifiers of its old profile are read again soon (they moved too).
func (p *Projection) setOwners(ws string, ids []kenner.Identifier, owners map[kenner.Identifier]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.tables[ws]
	var moved map[int32]bool
	for _, id := range ids {
		i := t.idents.ids[id]
		prof, ok := owners[id]
		if !ok || t.owner[i] == -2 {
			continue
		}
		o := t.profileID(prof)
		if old := t.owner[i]; old >= 0 && old != o {
			if moved == nil {
				moved = map[int32]bool{}
			}
			moved[old] = true
		}
		t.owner[i] = o
	}
	if moved != nil {
		d := p.dirty[ws]
		until := p.cfg.Now().Add(10 * time.Second)
		for i, o := range t.owner {
			if moved[o] {
				d[int32(i)] = until
			}
		}
	}
}

// ResolveAll reads every identifier's profile again (splits move identifiers without an event
// that says so).
func (p *Projection) ResolveAll(ctx context.Context) error {
	p.mu.RLock()
	var wss []string
	for ws := range p.tables {
		wss = append(wss, ws)
	}
	p.mu.RUnlock()
	for _, ws := range wss {
		var after kenner.Identifier
		for {
			page, err := p.cfg.Identities.ScanIdentities(ctx, ws, after, 10000)
			if err != nil {
				return err
			}
			ids := make([]kenner.Identifier, 0, len(page))
			owners := make(map[kenner.Identifier]string, len(page))
			p.mu.RLock()
			t := p.tables[ws]
			for _, o := range page {
				if _, ok := t.idents.ids[o.Identifier]; ok {
					ids = append(ids, o.Identifier)
					owners[o.Identifier] = o.ProfileID
				}
			}
			p.mu.RUnlock()
			p.setOwners(ws, ids, owners)
			if len(page) < 10000 {
				break
			}
			after = page[len(page)-1].Identifier
		}
	}
	return nil
}

// followChanges drops the events of people erased since the projection started.
func (p *Projection) followChanges(ctx context.Context) error {
	for {
		cs, err := p.cfg.Identities.Changes(ctx, p.changesAt, 1000)
		if err != nil {
			return err
		}
		again := map[string]map[string]bool{} // workspace → profiles whose identifiers moved
		for _, c := range cs {
			switch c.Type {
			case kenner.ChangeProfileDeleted:
				p.Forget(c.WorkspaceID, c.ProfileID)
			case kenner.ChangeProfileUpdated:
				// A profile whose identifiers moved (a merge, a split): its identifiers'
				// profiles are read again, so that a split shows within a second or two
				// rather than at the full refresh. Identifiers only added need no read: new
				// ones are read (or handed over by the processor) as they come.
				var what struct {
					Merged, Split bool
				}
				if json.Unmarshal(c.Data, &what) == nil && (what.Split || what.Merged) {
					if again[c.WorkspaceID] == nil {
						again[c.WorkspaceID] = map[string]bool{}
					}
					again[c.WorkspaceID][c.ProfileID] = true
				}
			}
			p.changesAt = c.Seq
		}
		for ws, profiles := range again {
			p.recheck(ws, profiles)
		}
		if len(cs) < 1000 {
			return nil
		}
	}
}

// recheck marks the identifiers the columns join to these profiles for reading once more:
// the changes stream is committed with what it tells, so one read sees the moves. One pass
// over the identifiers serves a whole page of changes.
func (p *Projection) recheck(ws string, profiles map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.tables[ws]
	if t == nil {
		return
	}
	marked := map[int64]bool{}
	for id := range profiles {
		if o, ok := t.profiles.ids[id]; ok {
			marked[int64(o)] = true
		}
	}
	if len(marked) == 0 {
		return
	}
	d := p.dirty[ws]
	if d == nil {
		d = map[int32]time.Time{}
		p.dirty[ws] = d
	}
	for i, x := range t.owner {
		if marked[int64(x)] {
			mark(d, int32(i), readOnce)
		}
	}
}

// Forget drops an erased person: their events leave every answer, and their identifiers' later
// events (which the log no longer has readable) are not taken.
func (p *Projection) Forget(ws, profileID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.tables[ws]
	if t == nil {
		return
	}
	o, ok := t.profiles.ids[profileID]
	if !ok {
		return
	}
	gone := map[int32]bool{}
	for i, x := range t.owner {
		if x == o {
			t.owner[i] = -2
			gone[int32(i)] = true
		}
	}
	for i, w := range t.who {
		if gone[w] {
			t.flags[i] |= flagDeleted
		}
	}
}

// ForgetWorkspace drops a deleted workspace's columns.
func (p *Projection) ForgetWorkspace(ws string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.tables, ws)
	delete(p.dirty, ws)
}

// Stats describes a workspace's columns.
func (p *Projection) Stats(ws string) (events, people int) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	t := p.tables[ws]
	if t == nil {
		return 0, 0
	}
	return len(t.at), len(t.profiles.of)
}

func (p *Projection) String() string {
	return fmt.Sprintf("projection of %d workspaces", len(p.tables))
}

// mark asks for an identifier to be read until the time given (readOnce: at the next pass
// only), keeping a longer request already there.
func mark(d map[int32]time.Time, id int32, until time.Time) {
	if cur, ok := d[id]; ok && (until.IsZero() || cur.After(until)) {
		return
	}
	d[id] = until
}
