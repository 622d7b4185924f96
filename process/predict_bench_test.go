package process_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/internal/benchenv"
	"github.com/kenner-cdp/kenner/predict"
	"github.com/kenner-cdp/kenner/process"
	"github.com/kenner-cdp/kenner/sqlite"
)

// BenchmarkPredictCLV measures a lifetime value model at KENNER_BENCH_PROFILES customers on the
// embedded store: their orders, drawn from BG/NBD with the CDNOW parameters over 39 weeks, are
// processed with the model defined (its purchase days folded as they arrive), then the model
// is trained (a pass over every profile and the fit), then a segment over its predictions is
// built (every buyer scored: the full rescore).
func BenchmarkPredictCLV(b *testing.B) {
	ctx := b.Context()
	customers, _ := benchenv.Sizes()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "k.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	logger := slog.New(slog.DiscardHandler)
	proc := process.New(nil, store, process.DefaultConfig(), prometheus.NewRegistry(), logger)
	if err := store.CreateWorkspace(ctx, &kenner.Workspace{ID: "ws", Name: "ws"}); err != nil {
		b.Fatal(err)
	}
	model := &kenner.Model{WorkspaceID: "ws", Name: "clv", Kind: kenner.ModelCLV}
	if err := model.SetDefaults(); err != nil {
		b.Fatal(err)
	}
	model.Revenue = "properties.total"
	if err := store.CreateModel(ctx, model); err != nil {
		b.Fatal(err)
	}
	builder := process.NewBuilder(proc, store, time.Hour, logger)
	if err := builder.Build(ctx, "ws"); err != nil {
		b.Fatal(err)
	}

	// The orders, in time order as a shop's log would hold them, 100 to a record.
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(-39 * 7 * 24 * time.Hour)
	type order struct {
		at time.Time
		c  int
	}
	var orders []order
	for c, times := range predict.Simulate(predict.BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}, customers, 12, 39, 7) {
		for _, w := range times {
			orders = append(orders, order{at: start.Add(time.Duration(w * float64(7*24*time.Hour))), c: c})
		}
	}
	sort.Slice(orders, func(i, j int) bool { return orders[i].at.Before(orders[j].at) })
	var recs []kenner.LogRecord
	for i := 0; i < len(orders); i += 100 {
		rec := kenner.LogRecord{Seq: uint64(len(recs) + 1), WorkspaceID: "ws", SourceID: "src"}
		for j, o := range orders[i:min(i+100, len(orders))] {
			at := o.at.Format(time.RFC3339Nano)
			rec.Events = append(rec.Events, []byte(fmt.Sprintf(`{"type":"track","event":"Order Completed","messageId":"o-%d-%d","userId":"c-%d","timestamp":%q,"receivedAt":%q,"properties":{"total":%d}}`,
				rec.Seq, j, o.c, at, at, 10+o.c%90)))
		}
		recs = append(recs, rec)
	}
	b.ResetTimer()
	began := time.Now()
	for i := 0; i < len(recs); i += 10 {
		if err := proc.Apply(ctx, 0, recs[i:min(i+10, len(recs))]); err != nil {
			b.Fatal(err)
		}
	}
	processed := time.Since(began)
	b.ReportMetric(float64(len(orders))/processed.Seconds(), "orders/s")
	b.ReportMetric(float64(len(orders)), "orders")

	trainer := process.NewTrainer(proc, store, builder.Wake, logger)
	began = time.Now()
	m, err := trainer.Train(ctx, "ws", model.ID)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(began).Seconds(), "s/train")
	var card process.CLVCard
	if err := json.Unmarshal(m.Card, &card); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(card.Customers), "customers")

	seg := &kenner.Segment{WorkspaceID: "ws", Name: "at risk", Condition: `has(predictions.clv) && predictions.clv.p_alive < 0.5`}
	if err := store.CreateSegment(ctx, seg); err != nil {
		b.Fatal(err)
	}
	began = time.Now()
	if err := builder.Build(ctx, "ws"); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(began).Seconds(), "s/rescore")
	got, err := store.Segment(ctx, "ws", seg.ID)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(got.Members), "at-risk")
	b.ReportMetric(0, "ns/op")
}
