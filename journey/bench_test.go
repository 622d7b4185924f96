package journey_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/internal/benchenv"
	"github.com/kenner-cdp/kenner/journey"
	"github.com/kenner-cdp/kenner/segment"
	"github.com/kenner-cdp/kenner/sqlite"
)

// emptyEngines answers a workspace without segments or traits: timers and sends need none.
type emptyEngines struct{ eng *segment.Engine }

func (e emptyEngines) Engine(context.Context, string) (*segment.Engine, error) { return e.eng, nil }

// waiting is KENNER_BENCH_WAITING people (default 100,000; BENCHMARKS.md's figure is
// 1,000,000).
func waiting() int {
	if n, err := strconv.Atoi(os.Getenv("KENNER_BENCH_WAITING")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// BenchmarkTimers puts N people in a journey's wait with the same due second, then drains
// them as the runner does: each timer fires, the person moves to the email step, and the
// email is queued (a delivery with its idempotency key) in the same transaction. It reports
// the drain rate, the p99 lateness from the due time to the send's commit, and the store's
// size per waiting person.
// timerStore is a store with a published two-step journey (a wait, then an email) and n
// people waiting in it, person i due at due(i).
func timerStore(b *testing.B, n int, due func(i int) time.Time) (*sqlite.Store, string, *segment.Engine) {
	ctx := context.Background()
	dir := b.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "k.db"))
	if err != nil {
		b.Fatal(err)
	}
	store.CreateWorkspace(ctx, &kenner.Workspace{ID: "ws", Name: "ws"})
	eng, err := segment.Compile(nil, nil, segment.Options{})
	if err != nil {
		b.Fatal(err)
	}
	def := kenner.JourneyDefinition{Name: "bench", Entry: kenner.JourneyEntry{Event: "Signed Up"},
		Steps: []kenner.JourneyStep{
			{ID: "wait", Type: kenner.StepWait, Duration: kenner.Duration(time.Hour), Next: "mail"},
			{ID: "mail", Type: kenner.StepEmail, Subject: "Hi {{ .traits.first_name }}", Text: "hello"},
		}}
	j := &kenner.Journey{WorkspaceID: "ws", JourneyDefinition: def}
	if err := store.CreateJourney(ctx, j); err != nil {
		b.Fatal(err)
	}
	if _, err := store.PublishJourney(ctx, "ws", j.ID, time.Now()); err != nil {
		b.Fatal(err)
	}
	const chunk = 5000
	for lo := 0; lo < n; lo += chunk {
		err := store.Apply(ctx, kenner.Position{}, func(ctx context.Context, bt kenner.Batch) error {
			for i := lo; i < min(lo+chunk, n); i++ {
				d := due(i)
				e := kenner.Enrollment{WorkspaceID: "ws", JourneyID: j.ID, ProfileID: fmt.Sprintf("prf_%08d", i), Run: 1, Version: 1,
					Step: "wait", State: kenner.EnrollmentActive, DueAt: d, Seq: 1, EnteredAt: d.Add(-time.Hour), UpdatedAt: d.Add(-time.Hour), Rev: 1}
				if _, err := bt.MoveJourney(ctx, "ws", kenner.JourneyMove{Enrollment: e}); err != nil {
					return err
				}
			}
			return bt.AddJourneyStats(ctx, "ws", []kenner.JourneyStat{{JourneyID: j.ID, Step: "wait", Metric: "waiting", Delta: int64(min(chunk, n-lo))}})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return store, dir, eng
}

// BenchmarkTimers puts N people in a journey's wait with the same due second, then drains
// them as the runner does: each timer fires, the person moves to the email step, and the
// email is queued (a delivery with its idempotency key) in the same transaction. It reports
// the drain rate and the store's size per waiting person.
func BenchmarkTimers(b *testing.B) {
	n := waiting()
	ctx := context.Background()
	for range b.N {
		due := time.Now().UTC().Truncate(time.Second).Add(time.Second)
		store, dir, eng := timerStore(b, n, func(int) time.Time { return due })
		waitingSize := dirSize(dir)
		r := journey.New(store, nil, emptyEngines{eng}, nil, journey.Config{}, nil)
		for time.Now().Before(due) {
			time.Sleep(time.Millisecond)
		}
		b.ResetTimer()
		start := time.Now()
		for moved := 0; moved < n; {
			k, err := r.Tick(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if k == 0 {
				b.Fatalf("%d of %d moved, none due", moved, n)
			}
			moved += k
		}
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(n)/elapsed.Seconds(), "steps/s")
		b.ReportMetric(float64(benchenv.PeakRSS())/(1<<20), "peak-rss-MB")
		if ds, _ := store.Deliveries(ctx, kenner.DeliveryFilter{WorkspaceID: "ws", DestinationID: journey.EmailDestination, Limit: 1}); len(ds) == 0 {
			b.Fatal("no email was queued")
		}
		store.Close()
		// The database with its write-ahead log, as the timers left it (before the drain) and
		// after (with the queued emails and the paths).
		b.ReportMetric(float64(waitingSize)/float64(n), "store-bytes/waiting")
		b.ReportMetric(float64(dirSize(dir))/float64(n), "store-bytes/after")
	}
}

// BenchmarkTimerLateness has KENNER_BENCH_WAITING people (default 100,000) waiting, falling
// due at a steady KENNER_BENCH_RATE per second (default 5,000), and moves them as the
// runner's loop does (a round when a round filled its batch, else the next poll, 250 ms):
// it reports how late each person's email was queued (the commit of their move) after their
// timer's due time.
func BenchmarkTimerLateness(b *testing.B) {
	n := waiting()
	rate := 5000
	if v, err := strconv.Atoi(os.Getenv("KENNER_BENCH_RATE")); err == nil && v > 0 {
		rate = v
	}
	ctx := context.Background()
	for range b.N {
		// The due times start a little after the load ends.
		loadFor := time.Duration(n/40_000+2) * time.Second
		start := time.Now().UTC().Add(loadFor)
		due := func(i int) time.Time { return start.Add(time.Duration(i) * time.Second / time.Duration(rate)) }
		store, _, eng := timerStore(b, n, due)
		if time.Now().After(start) {
			b.Fatalf("loading took longer than %s: raise the estimate", loadFor)
		}
		cfg := journey.Config{}
		r := journey.New(store, nil, emptyEngines{eng}, nil, cfg, nil)
		b.ResetTimer()
		late := make([]time.Duration, 0, n)
		for idx := 0; idx < n; {
			k, err := r.Tick(ctx)
			if err != nil {
				b.Fatal(err)
			}
			end := time.Now()
			for i := idx; i < idx+k; i++ {
				late = append(late, end.Sub(due(i)))
			}
			idx += k
			if k < 1000 {
				time.Sleep(250 * time.Millisecond) // the runner's poll (Config.Poll's default)
			}
		}
		b.StopTimer()
		slices.Sort(late)
		b.ReportMetric(float64(late[len(late)/2].Milliseconds()), "p50-late-ms")
		b.ReportMetric(float64(late[len(late)*99/100].Milliseconds()), "p99-late-ms")
		b.ReportMetric(float64(late[len(late)-1].Milliseconds()), "max-late-ms")
		store.Close()
	}
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
