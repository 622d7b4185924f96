package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kenner-cdp/kenner/match"
)

func newMatchCmd() *cobra.Command {
	var idCol, out string
	var fieldSpecs, blocks, phonetic []string
	var threshold float64
	cmd := &cobra.Command{
		Use:   "match FILE [FILE2]",
		Short: "Probabilistic record linkage: of CSV files, or of a running server's profiles (runs, review queue)",
		Long: `Links records that share no identifier ("Jon Smith, 12 Kingsway" and "John Smith, 12 King's
Way") by Fellegi-Sunter record linkage: each --field is compared in levels, the model's
parameters are estimated from the data by EM (no labels needed), and every candidate pair
(records sharing a --block key) gets a match weight, the log2 Bayes factor of all fields,
with each field's contribution. With one file it deduplicates it; with two it links them
(pairs across the files only).

Field kinds: exact; name (Jaro-Winkler levels, Double Metaphone); text (Jaro-Winkler levels
for streets, towns); code (one edit or a transposition apart: dates of birth, postcodes, ids).
Append ",tf" to weigh an exact agreement by how rare the value is.

Prints a summary, and writes the pairs at or above the threshold (default: even odds) as CSV
to --out (default standard output): a, b, weight, probability, cluster, then one column per
field with its contribution. Clusters join records transitively, with a guard against
chaining look-alikes.

On a running server (--url, --token), "kenner match run" matches the workspace's profiles:
the sure pairs are merged through the identity graph (recorded as probabilistic merges,
undone by a split), the likely ones wait in a review queue ("kenner match reviews", "kenner
match accept ID", "kenner match reject ID": a rejected pair never comes back).

Example:
  kenner match people.csv --id rec_id --field given_name=name,tf --field surname=name,tf \
    --field date_of_birth=code --field postcode=code --block postcode --block date_of_birth \
    --block-phonetic given_name+surname
  kenner match run --dry-run --wait          # what would merge, the parameters, the curve
  kenner match run --file params.json --wait
  kenner match reviews`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var fields []match.Field
			for _, spec := range fieldSpecs {
				name, kind, ok := strings.Cut(spec, "=")
				tf := strings.HasSuffix(kind, ",tf")
				kind = strings.TrimSuffix(kind, ",tf")
				if !ok || name == "" || !slices.Contains([]string{match.Exact, match.Name, match.Text, match.Code}, kind) {
					return usageError{fmt.Errorf("--field %q: want COLUMN=KIND[,tf] with KIND exact, name, text or code", spec)}
				}
				fields = append(fields, match.Field{Name: name, Kind: kind, TF: tf})
			}
			if len(fields) == 0 {
				return usageError{fmt.Errorf("give at least one --field to compare")}
			}
			var rules []match.Rule
			for _, b := range blocks {
				col, n, _ := strings.Cut(b, ":")
				k := 0
				if n != "" {
					var err error
					if k, err = strconv.Atoi(n); err != nil || k < 1 {
						return usageError{fmt.Errorf("--block %q: want COLUMN or COLUMN:N (the first N characters)", b)}
					}
				}
				rules = append(rules, match.FieldRule(col, k))
			}
			for _, p := range phonetic {
				rules = append(rules, match.Phonetic(strings.Split(p, "+")...))
			}
			if len(rules) == 0 {
				return usageError{fmt.Errorf("give at least one --block or --block-phonetic rule: comparing every pair does not scale")}
			}
			var recs []match.Record
			var firstFile int
			for i, file := range args {
				rs, err := readMatchCSV(file, idCol, fields, rules)
				if err != nil {
					return err
				}
				if i == 0 {
					firstFile = len(rs)
				}
				recs = append(recs, rs...)
			}
			var keep func(a, b int) bool
			if len(args) == 2 {
				keep = func(a, b int) bool { return (a < firstFile) != (b < firstFile) }
			}
			pairs, perRule := match.Candidates(recs, rules, keep)
			match.Grade(fields, recs, pairs)
			m, err := match.Train(fields, recs, pairs, 1)
			if err != nil {
				return err
			}
			th := m.Prior()
			if cmd.Flags().Changed("threshold") {
				th = threshold
			}
			links := make([]match.Link, len(pairs))
			for i, p := range pairs {
				w, _ := m.Weight(recs[p.A], recs[p.B])
				links[i] = match.Link{A: p.A, B: p.B, Weight: w}
			}
			clusters, refused := m.Clusters(recs, links, th)
			clusterOf := map[int]int{}
			for i, c := range clusters {
				for _, r := range c {
					clusterOf[r] = i + 1
				}
			}
			w := cmd.OutOrStdout()
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return usageError{err}
				}
				defer f.Close()
				w = f
			}
			n, err := writePairs(w, recs, fields, m, links, th, clusterOf)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d records, %d candidate pairs %v; λ=%.4f after %d EM iterations (converged %v); %d pairs at weight >= %.2f, %d clusters, %d links refused as chains\n",
				len(recs), len(pairs), perRule, m.Lambda, m.Iterations, m.Converged, n, th, len(clusters), len(refused))
			return nil
		},
	}
	cmd.AddCommand(matchServerCmds()...)
	f := cmd.Flags()
	f.StringVar(&idCol, "id", "", "column holding each record's id (default: its line number)")
	f.StringArrayVar(&fieldSpecs, "field", nil, "COLUMN=KIND[,tf] to compare (repeat)")
	f.StringArrayVar(&blocks, "block", nil, "COLUMN or COLUMN:N: compare records with the same value (or first N characters) (repeat)")
	f.StringArrayVar(&phonetic, "block-phonetic", nil, "COLUMN+COLUMN: compare records whose columns sound alike (Double Metaphone) (repeat)")
	f.Float64Var(&threshold, "threshold", 0, "least match weight of a pair written (default: even odds, log2((1-λ)/λ))")
	f.StringVar(&out, "out", "", "file for the pairs (default standard output)")
	return cmd
}

func readMatchCSV(file, idCol string, fields []match.Field, rules []match.Rule) ([]match.Record, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, usageError{err}
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", file, err)}
	}
	if len(rows) < 2 {
		return nil, usageError{fmt.Errorf("%s: no records under the header", file)}
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[strings.TrimSpace(h)] = i
	}
	need := []string{}
	for _, fl := range fields {
		need = append(need, fl.Name)
	}
	if idCol != "" {
		need = append(need, idCol)
	}
	for _, n := range need {
		if _, ok := col[n]; !ok {
			return nil, usageError{fmt.Errorf("%s: no column %q (columns: %s)", file, n, strings.Join(rows[0], ", "))}
		}
	}
	var recs []match.Record
	for i, row := range rows[1:] {
		rec := match.Record{ID: file + ":" + strconv.Itoa(i+2), Fields: map[string]string{}}
		for name, j := range col {
			if j < len(row) {
				rec.Fields[name] = match.Normalize(row[j])
			}
		}
		if idCol != "" {
			rec.ID = strings.TrimSpace(row[col[idCol]])
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

func writePairs(w io.Writer, recs []match.Record, fields []match.Field, m *match.Model, links []match.Link, th float64, clusterOf map[int]int) (int, error) {
	cw := csv.NewWriter(w)
	header := []string{"a", "b", "weight", "probability", "cluster"}
	for _, f := range fields {
		header = append(header, f.Name)
	}
	cw.Write(header)
	sorted := slices.Clone(links)
	slices.SortFunc(sorted, func(a, b match.Link) int {
		switch {
		case a.Weight > b.Weight:
			return -1
		case a.Weight < b.Weight:
			return 1
		}
		return 0
	})
	n := 0
	for _, l := range sorted {
		if l.Weight < th {
			break
		}
		_, parts := m.Weight(recs[l.A], recs[l.B])
		cluster := ""
		if c, ok := clusterOf[l.A]; ok && clusterOf[l.B] == c {
			cluster = strconv.Itoa(c)
		}
		row := []string{recs[l.A].ID, recs[l.B].ID, strconv.FormatFloat(l.Weight, 'f', 2, 64),
			strconv.FormatFloat(m.Probability(l.Weight), 'f', 4, 64), cluster}
		for _, p := range parts {
			row = append(row, strconv.FormatFloat(p, 'f', 2, 64))
		}
		cw.Write(row)
		n++
	}
	cw.Flush()
	return n, cw.Error()
}
