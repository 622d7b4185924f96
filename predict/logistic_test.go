package predict

import (
	"errors"
	"hash/fnv"
	"math"
	"path/filepath"
	"testing"

	"github.com/kenner-cdp/kenner"
)

// telco reads the Telco churn sample as rows of fields (text as in the file) and labels.
func telco(t testing.TB) ([]map[string]any, []float64, []string) {
	rows := readCSV(t, filepath.Join(dataDir(t, "telco"), "Telco-Customer-Churn_IBM.csv"))
	var out []map[string]any
	var y []float64
	var ids []string
	for _, r := range rows {
		m := map[string]any{}
		for k, v := range r {
			if k != "customerID" && k != "Churn" {
				m[k] = v
			}
		}
		out = append(out, m)
		y = append(y, map[string]float64{"Yes": 1, "No": 0}[r["Churn"]])
		ids = append(ids, r["customerID"])
	}
	return out, y, ids
}

// telcoFold is the fifth held out; the product holds out the same one (hash % 5 == 0).
var telcoFold uint32 = 0

func TestLogisticChurnOnTelco(t *testing.T) {
	rows, y, ids := telco(t)
	if len(rows) != 7043 {
		t.Fatalf("rows = %d, want 7043", len(rows))
	}
	// A fifth of the customers, chosen by a hash of their id, are held out.
	var trainX, testRows []map[string]any
	var trainY, testY []float64
	for i, r := range rows {
		h := fnv.New32a()
		h.Write([]byte(ids[i]))
		if h.Sum32()%5 == telcoFold {
			testRows, testY = append(testRows, r), append(testY, y[i])
		} else {
			trainX, trainY = append(trainX, r), append(trainY, y[i])
		}
	}
	var fields []string
	for k := range rows[0] {
		fields = append(fields, k)
	}
	fs := LearnFeatures(trainX, fields)
	x := make([][]float64, len(trainX))
	for i, r := range trainX {
		x[i] = fs.Vector(r)
	}
	m, fit, err := FitLogistic(x, trainY, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]float64, len(testRows))
	for i, r := range testRows {
		p[i] = m.Predict(fs.Vector(r))
	}
	auc, ll := AUC(p, testY), LogLoss(p, testY)
	t.Logf("features=%d holdout=%d AUC=%.4f logloss=%.4f converged=%v iterations=%d top=%v", len(fs), len(testRows), auc, ll, fit.Converged, fit.Iterations, m.TopWeights(fs, 5))
	if auc < 0.84 {
		t.Errorf("holdout AUC = %.4f, want >= 0.84", auc)
	}
	// Calibrated: over the deciles, the observed churn rate is near the predicted one.
	var ece float64
	for _, b := range Calibration(p, testY) {
		ece += float64(b.Count) * math.Abs(b.Predicted-b.Observed) / float64(len(p))
	}
	if ece > 0.05 {
		t.Errorf("expected calibration error = %.3f, want <= 0.05", ece)
	}
	if !fit.Converged {
		t.Errorf("fit did not converge: %s", fit.Status)
	}
}

func TestLogisticRefusesOneClass(t *testing.T) {
	_, _, err := FitLogistic([][]float64{{1}, {2}}, []float64{1, 1}, 1)
	var ke *kenner.Error
	if !errors.As(err, &ke) || ke.Code != kenner.EInvalid {
		t.Errorf("err = %v, want invalid: one class", err)
	}
}

func TestAUC(t *testing.T) {
	for _, tc := range []struct {
		scores, labels []float64
		want           float64
	}{
		{[]float64{0.1, 0.2, 0.8, 0.9}, []float64{0, 0, 1, 1}, 1},
		{[]float64{0.9, 0.8, 0.2, 0.1}, []float64{0, 0, 1, 1}, 0},
		{[]float64{0.5, 0.5, 0.5, 0.5}, []float64{0, 1, 0, 1}, 0.5},
		{[]float64{0.1, 0.4, 0.35, 0.8}, []float64{0, 0, 1, 1}, 0.75},
	} {
		if got := AUC(tc.scores, tc.labels); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("AUC(%v, %v) = %g, want %g", tc.scores, tc.labels, got, tc.want)
		}
	}
}
