package pebble

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/kenner-cdp/kenner/internal/benchenv"
)

// BenchmarkWriteFloor is the sqlite package's BenchmarkWriteFloor on Pebble: the least work
// per processed event, here as key-value operations. Per event: the owner of its anonymous id
// read, its message id looked up (absent: the bloom filters answer) and written for
// deduplication, a timeline key (profile, log position) written and the profile's 300-byte
// document rewritten; 1,000 events per batch, committed without fsync (the log is the
// journal). "bodies" also stores the 400-byte event body in the timeline entry, as the SQLite
// events table does; "pointers" stores only the log position, the body staying in the log.
//
// Sizes come from KENNER_BENCH_PROFILES and KENNER_BENCH_EVENTS (default 20,000 profiles,
// 200,000 events); KENNER_BENCH_KEEP=dir keeps the loaded engine for the next run.
func BenchmarkWriteFloor(b *testing.B) {
	b.Run("pointers", func(b *testing.B) { writeFloor(b, false) })
	b.Run("bodies", func(b *testing.B) { writeFloor(b, true) })
}

func writeFloor(b *testing.B, bodies bool) {
	profiles, events := benchenv.Sizes()
	dir := b.TempDir()
	if keep := benchenv.KeepDir(); keep != "" {
		dir = keep
	}
	variant := "pointers"
	if bodies {
		variant = "bodies"
	}
	path := filepath.Join(dir, fmt.Sprintf("pebble-floor-%s-%d-%d", variant, profiles, events))
	_, err := os.Stat(path)
	fresh := os.IsNotExist(err)
	db, err := open(path, Options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	// Documents and bodies are random text: repeated bytes would compress to nothing and
	// flatter the engine.
	f := &pebbleFloor{db: db, rng: rand.New(rand.NewPCG(1, 2)), profiles: profiles}
	f.doc = randomText(f.rng, 300)
	if bodies {
		f.body = randomText(f.rng, 400)
	}
	if fresh {
		start := time.Now()
		if err := f.populate(events); err != nil {
			os.RemoveAll(path)
			b.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "pebble floor %s: loaded %d profiles and %d events in %s; %d MiB on disk\n", variant, profiles, events,
			time.Since(start).Round(time.Second), db.Metrics().DiskSpaceUsage()>>20)
	} else if v, c, err := db.Get([]byte("next")); err == nil {
		f.next = binary.BigEndian.Uint64(v)
		c.Close()
	} else {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for done := 0; done < b.N; done += 1000 {
		if err := f.apply(min(1000, b.N-done)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.StopTimer()
	m := db.Metrics()
	b.ReportMetric(float64(m.DiskSpaceUsage()>>20), "MiB-on-disk")
	b.ReportMetric(float64(m.Levels[0].TablesCount), "L0-files")
}

func randomText(rng *rand.Rand, n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\",:{} "
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return b
}

type pebbleFloor struct {
	db        *pebble.DB
	rng       *rand.Rand
	profiles  int
	next      uint64 // the last log position written
	doc, body []byte
}

func identityKey(kind, value string) []byte { return []byte("i/ws/" + kind + "/" + value) }
func profileKey(id string) []byte           { return []byte("p/ws/" + id) }
func messageKey(id string) []byte           { return []byte("m/ws/" + id) }

func timelineKey(profile string, seq uint64) []byte {
	k := []byte("t/ws/" + profile + "/")
	return binary.BigEndian.AppendUint64(k, seq)
}

// populate writes the profiles, four identifiers each (user id, two devices, email), and
// events of people picked at random, as the process benchmarks' load does.
func (f *pebbleFloor) populate(events int) error {
	bt := f.db.NewBatch()
	for i := range f.profiles {
		id := []byte(fmt.Sprintf("prf_%d", i))
		bt.Set(identityKey("user_id", fmt.Sprintf("u-%d", i)), id, nil)
		bt.Set(identityKey("anonymous_id", fmt.Sprintf("a-%d-0", i)), id, nil)
		bt.Set(identityKey("anonymous_id", fmt.Sprintf("a-%d-1", i)), id, nil)
		bt.Set(identityKey("email", fmt.Sprintf("p%d@example.com", i)), id, nil)
		bt.Set(profileKey(string(id)), f.doc, nil)
		if bt.Len() > 4<<20 {
			if err := bt.Commit(pebble.NoSync); err != nil {
				return err
			}
			bt = f.db.NewBatch()
		}
	}
	if err := bt.Commit(pebble.NoSync); err != nil {
		return err
	}
	for done := 0; done < events; done += 1000 {
		if err := f.apply(min(1000, events-done)); err != nil {
			return err
		}
		if events >= 1_000_000 && (done+1000)%1_000_000 == 0 {
			fmt.Fprintf(os.Stderr, "pebble floor: %d of %d events\n", done+1000, events)
		}
	}
	return nil
}

// apply writes n events of people picked at random in one batch.
func (f *pebbleFloor) apply(n int) error {
	bt := f.db.NewBatch()
	defer bt.Close()
	var pos [8]byte
	for range n {
		anon := fmt.Sprintf("a-%d-%d", f.rng.IntN(f.profiles), f.rng.IntN(2))
		v, c, err := f.db.Get(identityKey("anonymous_id", anon))
		if err != nil {
			return fmt.Errorf("owner of %s: %w", anon, err)
		}
		profile := string(v)
		c.Close()
		f.next++
		msg := messageKey(fmt.Sprintf("m-%d", f.next))
		if _, c, err := f.db.Get(msg); err == nil {
			c.Close()
			return fmt.Errorf("message %s seen twice", msg)
		} else if err != pebble.ErrNotFound {
			return err
		}
		binary.BigEndian.PutUint64(pos[:], f.next)
		if err := bt.Set(msg, pos[:], nil); err != nil {
			return err
		}
		if err := bt.Set(timelineKey(profile, f.next), f.body, nil); err != nil {
			return err
		}
		if err := bt.Set(profileKey(profile), f.doc, nil); err != nil {
			return err
		}
	}
	binary.BigEndian.PutUint64(pos[:], f.next)
	if err := bt.Set([]byte("next"), pos[:], nil); err != nil {
		return err
	}
	return bt.Commit(pebble.NoSync)
}
