package projection

import (
	"hash/maphash"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/analytics"
)

// Row flags.
const (
	flagView    = 1 << iota // a page or screen view: a visit
	flagTouch               // carries a touch (campaign, click id, referrer)
	flagValue               // has a value (revenue, value or total)
	flagDeleted             // its person was erased
)

// table is one workspace's events as columns, in the order the log gave them (per partition
// in order; partitions interleaved), with the dictionaries they are coded against.
type table struct {
	at    []int64 // event time, unix milliseconds
	who   []int32 // the identifier the event is from (its user id, else its anonymous id)
	name  []int32 // event name: a track call's event, "$page", "$screen", "$identify", "$group", "$alias"
	flags []uint8
	touch []int32   // the touch's kind (an index into touches) when flagTouch
	value []float64 // when flagValue
	cur   []uint8   // the value's currency (an index into curOf; 0: none given)
	rank  []int64   // the event's place in the log (kenner.EventRank): its body is read by it

	names   dict[string]
	touches dict[analytics.Touch] // touch kinds: a touch without its time
	curOf   []string

	idents dict[kenner.Identifier]
	// owner is each identifier's profile (an index into profiles): -1 not known yet, -2 erased.
	owner    []int32
	profiles dict[string]

	seen hashSet // message ids
}

func newTable() *table {
	return &table{names: newDict[string](), touches: newDict[analytics.Touch](), idents: newDict[kenner.Identifier](),
		profiles: newDict[string](), seen: newHashSet(), curOf: []string{""}}
}

// dict codes values as dense numbers, in the order they were first seen.
type dict[K comparable] struct {
	ids map[K]int32
	of  []K
}

func newDict[K comparable]() dict[K] { return dict[K]{ids: map[K]int32{}} }

// id codes k, and reports whether it was new.
func (d *dict[K]) id(k K) (int32, bool) {
	id, ok := d.ids[k]
	if !ok {
		id = int32(len(d.of))
		d.ids[k] = id
		d.of = append(d.of, k)
	}
	return id, !ok
}

func (t *table) nameID(n string) int32 {
	id, _ := t.names.id(n)
	return id
}

func (t *table) identID(i kenner.Identifier) int32 {
	id, added := t.idents.id(i)
	if added {
		t.owner = append(t.owner, -1)
	}
	return id
}

func (t *table) profileID(p string) int32 {
	id, _ := t.profiles.id(p)
	return id
}

func (t *table) touchID(tc analytics.Touch) int32 {
	tc.At = time.Time{}
	id, _ := t.touches.id(tc)
	return id
}

// row is one event as the table takes it.
type row struct {
	at       time.Time
	who      kenner.Identifier
	name     string
	view     bool
	touch    *analytics.Touch
	value    float64
	valued   bool
	currency string
	rank     int64
}

func (t *table) add(r row) {
	var flags uint8
	var touch int32
	if r.view {
		flags |= flagView
	}
	if r.touch != nil {
		flags |= flagTouch
		touch = t.touchID(*r.touch)
	}
	if r.valued {
		flags |= flagValue
	}
	who := t.identID(r.who)
	if t.owner[who] == -2 {
		return // an erased person's identifier
	}
	t.at = append(t.at, r.at.UnixMilli())
	t.who = append(t.who, who)
	t.name = append(t.name, t.nameID(r.name))
	t.flags = append(t.flags, flags)
	t.touch = append(t.touch, touch)
	t.value = append(t.value, r.value)
	t.cur = append(t.cur, t.currencyID(r.currency))
	t.rank = append(t.rank, r.rank)
}

// currencyID codes a currency; past 255 of them (not a real workspace) they go uncoded.
func (t *table) currencyID(c string) uint8 {
	if c == "" {
		return 0
	}
	for i, x := range t.curOf {
		if x == c {
			return uint8(i)
		}
	}
	if len(t.curOf) == 256 {
		return 0
	}
	t.curOf = append(t.curOf, c)
	return uint8(len(t.curOf) - 1)
}

// person is the key of row i's person: its identifier's profile, or for an identifier not
// resolved yet the identifier itself (after every profile), -1 when erased.
func (t *table) person(i int) int64 {
	o := t.owner[t.who[i]]
	switch {
	case o >= 0:
		return int64(o)
	case o == -2:
		return -1
	}
	return int64(len(t.profiles.of)) + int64(t.who[i])
}

// persons is how many person keys there can be.
func (t *table) persons() int { return len(t.profiles.of) + len(t.idents.of) }

// hashSet is a set of 64-bit hashes with open addressing: message ids are kept to drop the
// log's duplicates (an SDK's retry), at 16 bytes an id rather than a map's 40 or more.
type hashSet struct {
	seed  maphash.Seed
	slots []uint64
	n     int
}

func newHashSet() hashSet { return hashSet{seed: maphash.MakeSeed(), slots: make([]uint64, 1024)} }

// add reports whether s was new.
func (h *hashSet) add(s string) bool {
	x := maphash.String(h.seed, s) | 1 // 0 marks an empty slot
	if h.n*2 >= len(h.slots) {
		old := h.slots
		h.slots, h.n = make([]uint64, len(old)*2), 0
		for _, v := range old {
			if v != 0 {
				h.insert(v)
			}
		}
	}
	return h.insert(x)
}

func (h *hashSet) insert(x uint64) bool {
	mask := uint64(len(h.slots) - 1)
	for i := x & mask; ; i = (i + 1) & mask {
		switch h.slots[i] {
		case x:
			return false
		case 0:
			h.slots[i] = x
			h.n++
			return true
		}
	}
}
