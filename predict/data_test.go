package predict

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// dataDir is the shared public data sets (../shared/data from the project root).
func dataDir(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "data", name)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("public data set %s not found at %s (outside the workplace): %v", name, dir, err)
	}
	return dir
}

// readCSV reads a CSV file with a header into rows keyed by column name.
func readCSV(t testing.TB, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		rows = append(rows, m)
	}
	return rows
}

func num(t testing.TB, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}

// cdnowSample is the papers' CDNOW sample as (x, t_x, T) in weeks, with zbar.
func cdnowSample(t testing.TB) ([]Customer, []float64) {
	rows := readCSV(t, filepath.Join(dataDir(t, "cdnow"), "cdnow_customers_summary_with_transactions.csv"))
	cs := make([]Customer, len(rows))
	zbar := make([]float64, len(rows))
	for i, r := range rows {
		cs[i] = Customer{X: num(t, r["x"]), Tx: num(t, r["t_x"]), T: num(t, r["T"])}
		zbar[i] = num(t, r["zbar"])
	}
	return cs, zbar
}
