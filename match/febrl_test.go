package match

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// febrlFields are the comparisons for the Febrl person records.
var febrlFields = []Field{
	{Name: "given_name", Kind: Name, TF: true},
	{Name: "surname", Kind: Name, TF: true},
	{Name: "street_number", Kind: Code},
	{Name: "address_1", Kind: Text},
	{Name: "address_2", Kind: Text},
	{Name: "suburb", Kind: Text, TF: true},
	{Name: "postcode", Kind: Code},
	{Name: "state", Kind: Exact},
	{Name: "date_of_birth", Kind: Code},
	{Name: "soc_sec_id", Kind: Code},
}

var febrlRules = []Rule{
	FieldRule("postcode", 0),
	FieldRule("date_of_birth", 0),
	FieldRule("soc_sec_id", 0),
	Phonetic("given_name", "surname"),
}

// readFebrl reads a Febrl file: records and, from rec_id, the person each is (rec-N-...).
func readFebrl(t testing.TB, name string) ([]Record, []string) {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "data", "febrl")
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		t.Skipf("public data set febrl not found at %s: %v", dir, err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var header []string
	for _, h := range rows[0] {
		header = append(header, strings.TrimSpace(h))
	}
	var recs []Record
	var person []string
	for _, row := range rows[1:] {
		r := Record{Fields: map[string]string{}}
		for i, v := range row {
			if header[i] == "rec_id" {
				r.ID = strings.TrimSpace(v)
				continue
			}
			r.Fields[header[i]] = Normalize(v)
		}
		parts := strings.Split(r.ID, "-")
		recs = append(recs, r)
		person = append(person, parts[1])
	}
	return recs, person
}

type scores struct{ precision, recall, f1 float64 }

// evaluate links the records (cross, for two files, keeps pairs across them) and scores the
// clusters' pairs against the truth.
func evaluate(t *testing.T, recs []Record, person []string, cross func(a, b int) bool) (scores, *Model, int) {
	t.Helper()
	pairs, perRule := Candidates(recs, febrlRules, cross)
	Grade(febrlFields, recs, pairs)
	m, err := Train(febrlFields, recs, pairs, 1)
	if err != nil {
		t.Fatal(err)
	}
	var links []Link
	for _, p := range pairs {
		w, _ := m.Weight(recs[p.A], recs[p.B])
		links = append(links, Link{A: p.A, B: p.B, Weight: w})
	}
	clusters, refused := m.Clusters(recs, links, m.Prior())
	predicted := map[[2]int]bool{}
	for _, c := range clusters {
		for i := range c {
			for j := i + 1; j < len(c); j++ {
				if cross == nil || cross(c[i], c[j]) {
					predicted[[2]int{c[i], c[j]}] = true
				}
			}
		}
	}
	byPerson := map[string][]int{}
	for i, p := range person {
		byPerson[p] = append(byPerson[p], i)
	}
	truth := 0
	for _, ids := range byPerson {
		for i := range ids {
			for j := i + 1; j < len(ids); j++ {
				if cross == nil || cross(ids[i], ids[j]) {
					truth++
				}
			}
		}
	}
	right := 0
	for p := range predicted {
		if person[p[0]] == person[p[1]] {
			right++
		}
	}
	s := scores{precision: float64(right) / float64(len(predicted)), recall: float64(right) / float64(truth)}
	s.f1 = 2 * s.precision * s.recall / (s.precision + s.recall)
	t.Logf("%d records, %d candidate pairs %v, %s; predicted %d pairs, %d true of %d: precision %.4f recall %.4f F1 %.4f; %d links refused",
		len(recs), len(pairs), perRule, m, len(predicted), right, truth, s.precision, s.recall, s.f1, len(refused))
	return s, m, len(pairs)
}

func TestFebrlDeduplication(t *testing.T) {
	for _, tc := range []struct {
		file              string
		precision, recall float64
	}{
		{"dataset1.csv", 0.99, 0.99},
		{"dataset2.csv", 0.99, 0.99},
		{"dataset3.csv", 0.99, 0.99},
	} {
		t.Run(tc.file, func(t *testing.T) {
			recs, person := readFebrl(t, tc.file)
			s, _, candidates := evaluate(t, recs, person, nil)
			n := len(recs)
			if candidates > n*(n-1)/2/20 {
				t.Errorf("%d candidate pairs: blocking should keep them far below n²/2 = %d", candidates, n*(n-1)/2)
			}
			if s.precision < tc.precision || s.recall < tc.recall {
				t.Errorf("precision %.4f (want >= %.2f), recall %.4f (want >= %.2f)", s.precision, tc.precision, s.recall, tc.recall)
			}
		})
	}
}

func TestFebrlLinkage(t *testing.T) {
	a, pa := readFebrl(t, "dataset4a.csv")
	b, pb := readFebrl(t, "dataset4b.csv")
	recs := append(a, b...)
	person := append(pa, pb...)
	cross := func(x, y int) bool { return (x < len(a)) != (y < len(a)) }
	s, _, _ := evaluate(t, recs, person, cross)
	if s.precision < 0.99 || s.recall < 0.99 {
		t.Errorf("precision %.4f, recall %.4f; want >= 0.99 and >= 0.99", s.precision, s.recall)
	}
}
