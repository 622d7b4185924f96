package projection_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/analytics"
	"github.com/kenner-cdp/kenner/analytics/projection"
	"github.com/kenner-cdp/kenner/internal/benchenv"
)

// loadSynthetic feeds a projection generated events as the log would hand them: people with
// about ten events each over 90 days, a third of their visits from a campaign or another site,
// one event in a hundred an order. It returns the time the load took.
func loadSynthetic(p *projection.Projection, people, events int) time.Duration {
	rng := rand.New(rand.NewPCG(7, 11))
	sources := []string{`"campaign":{"source":"google","medium":"cpc","name":"brand"}`, `"campaign":{"source":"newsletter","medium":"email","name":"weekly"}`,
		`"campaign":{"source":"facebook","medium":"paid_social","name":"spring"}`, `"page":{"url":"https://shop.example/","referrer":"https://www.google.com/"}`,
		`"page":{"url":"https://shop.example/","referrer":"https://blog.example/"}`, `"campaign":{"source":"partner","medium":"affiliate","name":"p1"}`}
	start := day0
	const span = 90 * 24 * time.Hour
	began := time.Now()
	batch := make([][]byte, 0, 1000)
	flush := func() {
		p.Apply([]kenner.LogRecord{{WorkspaceID: "ws", Events: batch}})
		batch = batch[:0]
	}
	for i := range events {
		u := rng.IntN(people)
		// Each person's events fall in a 20-day stretch of the 90 days, in order of i.
		base := start.Add(time.Duration(u%70) * 24 * time.Hour)
		at := base.Add(time.Duration(float64(i) / float64(events) * float64(20*24*time.Hour))).Add(time.Duration(rng.IntN(3600)) * time.Second)
		if at.After(start.Add(span)) {
			at = start.Add(span)
		}
		ts := at.Format(time.RFC3339Nano)
		var body string
		switch r := rng.IntN(100); {
		case r < 60:
			ctx := `"page":{"url":"https://shop.example/p"}`
			if rng.IntN(3) == 0 {
				ctx = sources[rng.IntN(len(sources))]
			}
			body = fmt.Sprintf(`{"type":"page","messageId":"m%d","userId":"u%d","timestamp":%q,"context":{%s}}`, i, u, ts, ctx)
		case r < 85:
			body = fmt.Sprintf(`{"type":"track","event":"Product Viewed","messageId":"m%d","userId":"u%d","timestamp":%q}`, i, u, ts)
		case r < 99:
			body = fmt.Sprintf(`{"type":"track","event":"Product Added","messageId":"m%d","userId":"u%d","timestamp":%q}`, i, u, ts)
		default:
			body = fmt.Sprintf(`{"type":"track","event":"Order Completed","messageId":"m%d","userId":"u%d","timestamp":%q,"properties":{"revenue":%d}}`, i, u, ts, 10+rng.IntN(90))
		}
		batch = append(batch, []byte(body))
		if len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
	return time.Since(began)
}

// BenchmarkQueries measures the analytics queries on a projection of KENNER_BENCH_PROFILES
// people and KENNER_BENCH_EVENTS events (default 20,000 and 200,000; BENCHMARKS.md's full
// size is 1,000,000 and 10,000,000).
func BenchmarkQueries(b *testing.B) {
	people, events := benchenv.Sizes()
	p := projection.New(projection.Config{})
	load := loadSynthetic(p, people, events)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	n, _ := p.Stats("ws")
	fmt.Fprintf(os.Stderr, "loaded %d events of %d people in %s (%.0f events/s); heap %d MB, peak RSS %d MB\n",
		n, people, load.Round(time.Millisecond), float64(n)/load.Seconds(), ms.HeapAlloc>>20, benchenv.PeakRSS()>>20)
	month := day0.AddDate(0, 0, 30)
	b.Run("funnel3_30d", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.Funnel(b.Context(), "ws", projection.FunnelQuery{Steps: []string{"Product Viewed", "Product Added", "Order Completed"}, Window: 7 * 24 * time.Hour, From: day0, To: month}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("trend_day_breakdown_30d", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := p.Trend(b.Context(), "ws", projection.TrendQuery{Event: "$page", Measure: analytics.Unique, Interval: analytics.Day, From: day0, To: month, Breakdown: "first_touch_channel"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("attribution_all_models_90d", func(b *testing.B) {
		for b.Loop() {
			rep, err := p.Attribution(b.Context(), "ws", projection.AttributionQuery{Conversion: "Order Completed", From: day0, To: day0.AddDate(0, 0, 91)})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(rep.Conversions), "conversions")
		}
	})
	b.Run("retention_week_8", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.Retention("ws", projection.RetentionQuery{Start: "$page", Return: "Order Completed", Period: analytics.Week, Periods: 8, From: day0, To: month}); err != nil {
				b.Fatal(err)
			}
		}
	})
	fmt.Fprintf(os.Stderr, "peak RSS %d MB\n", benchenv.PeakRSS()>>20)
}
