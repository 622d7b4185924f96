package predict

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// maxCategories bounds the one-hot columns of a text feature: its most frequent values get a
// column each, the rest share the baseline.
const maxCategories = 20

// Feature is one column of the model's input.
type Feature struct {
	// Field is the profile field it is built from (traits.tenure, computed.orders_90d).
	Field string `json:"field"`
	// Kind is "number" (the value, the training mean when absent), "log" (log(1+value), for
	// values never negative), "missing" (1 when the
	// field is absent) or "category" (1 when the field equals Value).
	Kind  string  `json:"kind"`
	Value string  `json:"value,omitempty"`
	Fill  float64 `json:"fill,omitempty"` // number: what an absent value counts as
}

// Name is how the model card shows the feature.
func (f Feature) Name() string {
	switch f.Kind {
	case "missing":
		return f.Field + " is missing"
	case "category":
		return f.Field + " = " + f.Value
	case "log":
		return "log " + f.Field
	}
	return f.Field
}

// Features turns rows of field values (decoded JSON: numbers, text, booleans) into vectors.
type Features []Feature

// LearnFeatures decides the columns from training rows: a field whose values are numbers (or
// text that reads as one) in at least 95% of the rows that have it is numeric, with a missing
// indicator when some rows lack it; any other field is categorical.
func LearnFeatures(rows []map[string]any, fields []string) Features {
	var fs Features
	for _, field := range fields {
		var sum float64
		var nums, present int
		nonneg := true
		counts := map[string]int{}
		for _, r := range rows {
			v, ok := r[field]
			if !ok || v == nil {
				continue
			}
			present++
			if x, ok := Number(v); ok {
				nums++
				sum += x
				nonneg = nonneg && x >= 0
			}
			counts[Text(v)]++
		}
		switch {
		case present == 0:
			continue
		case float64(nums) >= 0.95*float64(present):
			fs = append(fs, Feature{Field: field, Kind: "number", Fill: sum / float64(nums)})
			// Counts, amounts and durations act on the odds more by their order of magnitude
			// than linearly (the first months of a tenure matter most): a log column lets the
			// model bend.
			if nonneg && distinct(rows, field) > 2 {
				fs = append(fs, Feature{Field: field, Kind: "log", Fill: math.Log1p(sum / float64(nums))})
			}
			if present < len(rows) || nums < present {
				fs = append(fs, Feature{Field: field, Kind: "missing"})
			}
		default:
			values := make([]string, 0, len(counts))
			for v := range counts {
				values = append(values, v)
			}
			slices.SortFunc(values, func(a, b string) int {
				return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a, b))
			})
			// The most frequent value is the baseline (no column), unless more values exist
			// than columns, in which case the rare ones are.
			// A value too rare to learn from (a name, an email: one per person) gets no column.
			rare := max(5, present/200)
			values = slices.DeleteFunc(values, func(v string) bool { return counts[v] < rare })
			if len(values) == 0 {
				continue
			}
			if len(values) <= maxCategories+1 {
				values = values[1:]
			} else {
				values = values[:maxCategories]
			}
			for _, v := range values {
				fs = append(fs, Feature{Field: field, Kind: "category", Value: v})
			}
		}
	}
	return fs
}

// Vector is a row's input to the model.
func (fs Features) Vector(row map[string]any) []float64 {
	x := make([]float64, len(fs))
	for i, f := range fs {
		v, ok := row[f.Field]
		present := ok && v != nil
		switch f.Kind {
		case "number":
			x[i] = f.Fill
			if present {
				if n, ok := Number(v); ok {
					x[i] = n
				}
			}
		case "log":
			x[i] = f.Fill
			if present {
				if n, ok := Number(v); ok && n >= 0 {
					x[i] = math.Log1p(n)
				}
			}
		case "missing":
			if n, ok := Number(v); !present || !ok || math.IsNaN(n) {
				x[i] = 1
			}
		case "category":
			if present && Text(v) == f.Value {
				x[i] = 1
			}
		}
	}
	return x
}

// Number reads a decoded JSON value as a number: numbers, booleans (1/0) and text that parses.
func Number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	}
	return 0, false
}

// Text is a decoded JSON value as a category.
func Text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// distinct counts a field's distinct values in rows, up to 3.
func distinct(rows []map[string]any, field string) int {
	seen := map[string]bool{}
	for _, r := range rows {
		if v, ok := r[field]; ok && v != nil {
			seen[Text(v)] = true
			if len(seen) > 2 {
				break
			}
		}
	}
	return len(seen)
}
