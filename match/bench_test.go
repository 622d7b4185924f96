package match

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner/internal/benchenv"
)

// synthetic makes n person records of which about a fifth are a second copy of another
// person with the typos real data has: a letter swapped, dropped or doubled in a name, a
// nickname-like truncation, a field left empty, two digits of the postcode or the date of
// birth transposed, another street number. person[i] names whose record i is.
func synthetic(n int, seed uint64) ([]Record, []int) {
	rng := rand.New(rand.NewPCG(seed, 42))
	syll := []string{"an", "ber", "cal", "dan", "el", "fer", "gus", "han", "is", "jo", "kel", "lin", "mar", "nor", "ol", "pe",
		"quin", "ros", "sam", "tor", "ul", "van", "wil", "xa", "yor", "zel", "bri", "cha", "de", "ste", "tha", "mo", "ka", "ri"}
	name := func() string {
		// Zipf-like: a few common names, a long tail.
		k := 2 + rng.IntN(2)
		var b strings.Builder
		for range k {
			b.WriteString(syll[int(float64(len(syll))*rng.Float64()*rng.Float64())])
		}
		return b.String()
	}
	streets := []string{"king", "queen", "main", "church", "park", "station", "high", "mill", "north", "south", "victoria", "george"}
	typo := func(s string) string {
		if len(s) < 3 {
			return s
		}
		i := 1 + rng.IntN(len(s)-2)
		switch rng.IntN(4) {
		case 0: // swap
			b := []byte(s)
			b[i], b[i+1] = b[i+1], b[i]
			return string(b)
		case 1: // drop
			return s[:i] + s[i+1:]
		case 2: // double
			return s[:i] + s[i:i+1] + s[i:]
		default: // substitute
			return s[:i] + string(rune('a'+rng.IntN(26))) + s[i+1:]
		}
	}
	swapDigits := func(s string) string {
		if len(s) < 2 {
			return s
		}
		i := rng.IntN(len(s) - 1)
		b := []byte(s)
		b[i], b[i+1] = b[i+1], b[i]
		return string(b)
	}
	var recs []Record
	var person []int
	for p := 0; len(recs) < n; p++ {
		dob := time.Date(1940+rng.IntN(65), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		base := map[string]string{
			"given_name": name(), "surname": name(),
			"street_number": strconv.Itoa(1 + rng.IntN(300)), "address_1": streets[rng.IntN(len(streets))] + " street",
			"suburb": name(), "postcode": fmt.Sprintf("%04d", 1000+rng.IntN(8000)), "state": []string{"nsw", "vic", "qld", "wa", "sa", "tas"}[rng.IntN(6)],
			"date_of_birth": dob.Format("20060102"), "soc_sec_id": fmt.Sprintf("%07d", rng.IntN(10_000_000)),
		}
		recs = append(recs, Record{ID: fmt.Sprintf("rec-%d-org", p), Fields: base})
		person = append(person, p)
		if rng.IntN(5) != 0 || len(recs) >= n {
			continue
		}
		dup := map[string]string{}
		for k, v := range base {
			dup[k] = v
		}
		for range 1 + rng.IntN(3) {
			switch rng.IntN(7) {
			case 0:
				dup["given_name"] = typo(dup["given_name"])
			case 1:
				dup["surname"] = typo(dup["surname"])
			case 2:
				dup[[]string{"suburb", "address_1", "state", "soc_sec_id"}[rng.IntN(4)]] = ""
			case 3:
				dup["postcode"] = swapDigits(dup["postcode"])
			case 4:
				dup["date_of_birth"] = swapDigits(dup["date_of_birth"])
			case 5:
				dup["street_number"] = strconv.Itoa(1 + rng.IntN(300))
			default:
				if len(dup["given_name"]) > 4 {
					dup["given_name"] = dup["given_name"][:3]
				}
			}
		}
		recs = append(recs, Record{ID: fmt.Sprintf("rec-%d-dup", p), Fields: dup})
		person = append(person, p)
	}
	return recs, person
}

// BenchmarkDedupe deduplicates KENNER_BENCH_RECORDS synthetic records (default 100,000;
// BENCHMARKS.md's figure is 1,000,000): blocking, grading, EM and clustering, reporting the
// candidate pairs per rule, precision and recall against the known copies, and peak memory.
func BenchmarkDedupe(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("KENNER_BENCH_RECORDS")); err == nil && v > 0 {
		n = v
	}
	recs, person := synthetic(n, 1)
	rules := []Rule{
		FieldRule("soc_sec_id", 0),
		Combined(FieldRule("date_of_birth", 0), FieldRule("postcode", 2)),
		Combined(Phonetic("given_name", "surname"), FieldRule("date_of_birth", 4)),
	}
	for range b.N {
		runtime.GC()
		start := time.Now()
		pairs, perRule := Candidates(recs, rules, nil)
		blocked := time.Since(start)
		Grade(febrlFields, recs, pairs)
		m, err := Train(febrlFields, recs, pairs, 1)
		if err != nil {
			b.Fatal(err)
		}
		links := make([]Link, 0, len(pairs))
		for _, p := range pairs {
			w, _ := m.Weight(recs[p.A], recs[p.B])
			links = append(links, Link{A: p.A, B: p.B, Weight: w})
		}
		clusters, _ := m.Clusters(recs, links, m.Prior())
		elapsed := time.Since(start)
		right, predicted := 0, 0
		for _, c := range clusters {
			for i := range c {
				for j := i + 1; j < len(c); j++ {
					predicted++
					if person[c[i]] == person[c[j]] {
						right++
					}
				}
			}
		}
		truth := len(recs) - person[len(person)-1] - 1
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(elapsed.Seconds(), "s/dedupe")
		b.ReportMetric(blocked.Seconds(), "s/blocking")
		b.ReportMetric(float64(len(pairs)), "pairs")
		b.ReportMetric(float64(right)/float64(max(predicted, 1)), "precision")
		b.ReportMetric(float64(right)/float64(max(truth, 1)), "recall")
		b.ReportMetric(float64(benchenv.PeakRSS())/(1<<20), "peak-rss-MB")
		b.Logf("%d records (%d copies), %d candidate pairs %v; %s; %d clusters", len(recs), truth, len(pairs), perRule, m, len(clusters))
	}
}
