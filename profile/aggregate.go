package profile

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/kenner-cdp/kenner"
)

// maxDistinct bounds the values a most_frequent or unique aggregate keeps per bucket, so that a
// profile with endless distinct values (a bot browsing every product) stays small.
const maxDistinct = 100

// Spec is how an aggregate folds events: the function and the window.
type Spec struct {
	Func   string
	Window time.Duration
}

// Width is the span of one bucket: a 64th of the window (at least a minute), so that a value
// is at most that much late in falling as time passes; the whole history when no window.
func (s Spec) Width() time.Duration {
	if s.Window <= 0 {
		return 0
	}
	return max(time.Minute, (s.Window / 64).Truncate(time.Second))
}

func (s Spec) bucketStart(at time.Time) int64 {
	if s.Func == kenner.FuncDays {
		return at.UTC().Truncate(24 * time.Hour).Unix()
	}
	w := int64(s.Width() / time.Second)
	if w == 0 {
		return 0
	}
	t := at.Unix()
	return t - ((t%w)+w)%w
}

// live reports whether bucket b still counts at now: its span ends after now - Window.
func (s Spec) live(b kenner.Bucket, now time.Time) bool {
	if s.Window <= 0 {
		return true
	}
	end := time.Unix(b.Start, 0).Add(s.Width())
	return end.After(now.Add(-s.Window))
}

// Add folds one event's value into a. value is the event's property for the functions that
// need one (nil for count); values of the wrong type (a string for sum) are ignored.
func Add(a *kenner.Aggregate, s Spec, at time.Time, rank int64, value json.RawMessage) {
	var num float64
	numeric := false
	switch s.Func {
	case kenner.FuncSum, kenner.FuncAverage, kenner.FuncMin, kenner.FuncMax:
		var ok bool
		if num, ok = number(value); !ok {
			return
		}
		numeric = true
	case kenner.FuncDays:
		// An order without a value still counts as a purchase day.
		num, numeric = number(value)
	case kenner.FuncFirst, kenner.FuncLast, kenner.FuncMostFrequent, kenner.FuncUnique:
		if len(value) == 0 || string(value) == "null" {
			return
		}
	}
	b := bucket(a, s.bucketStart(at))
	b.Count++
	if numeric {
		b.Sum += num
		if b.Min == nil || num < *b.Min {
			b.Min = &num
		}
		if b.Max == nil || num > *b.Max {
			n := num
			b.Max = &n
		}
	}
	switch s.Func {
	case kenner.FuncFirst, kenner.FuncLast:
		smp := &kenner.Sample{At: at.UTC(), Rank: rank, Value: slices.Clone(value)}
		if b.First == nil || before(smp, b.First) {
			b.First = smp
		}
		if b.Last == nil || before(b.Last, smp) {
			b.Last = smp
		}
	case kenner.FuncMostFrequent, kenner.FuncUnique:
		k := key(value)
		if _, ok := b.Freq[k]; ok || len(b.Freq) < maxDistinct {
			if b.Freq == nil {
				b.Freq = map[string]int64{}
			}
			b.Freq[k]++
		}
	}
}

// MergeAggregates folds src into dst (a merge of two profiles). Adding buckets up is
// commutative, so the result does not depend on which profile survives.
func MergeAggregates(dst, src *kenner.Aggregate) {
	for _, sb := range src.Buckets {
		b := bucket(dst, sb.Start)
		b.Count += sb.Count
		b.Sum += sb.Sum
		if sb.Min != nil && (b.Min == nil || *sb.Min < *b.Min) {
			b.Min = sb.Min
		}
		if sb.Max != nil && (b.Max == nil || *sb.Max > *b.Max) {
			b.Max = sb.Max
		}
		if sb.First != nil && (b.First == nil || before(sb.First, b.First)) {
			b.First = sb.First
		}
		if sb.Last != nil && (b.Last == nil || before(b.Last, sb.Last)) {
			b.Last = sb.Last
		}
		for k, n := range sb.Freq {
			if _, ok := b.Freq[k]; ok || len(b.Freq) < maxDistinct {
				if b.Freq == nil {
					b.Freq = map[string]int64{}
				}
				b.Freq[k] += n
			}
		}
	}
}

// Prune drops the buckets that no longer count at now.
func Prune(a *kenner.Aggregate, s Spec, now time.Time) {
	a.Buckets = slices.DeleteFunc(a.Buckets, func(b kenner.Bucket) bool { return !s.live(b, now) })
}

// NextChange is when a's value next changes with no new event: when its oldest live bucket
// leaves the window (zero when never).
func NextChange(a *kenner.Aggregate, s Spec, now time.Time) time.Time {
	if s.Window <= 0 {
		return time.Time{}
	}
	var next time.Time
	for _, b := range a.Buckets {
		if !s.live(b, now) {
			continue
		}
		t := time.Unix(b.Start, 0).Add(s.Width()).Add(s.Window).UTC()
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}

// Value is the aggregate's value at now: int64 for count, float64 for sum, avg, min and max,
// the event's JSON value (decoded) for first and last, a string for most_frequent and a
// sorted []any of strings for unique. ok is false when no event counts (count is then 0 and
// sum 0, the others have no value).
func Value(a *kenner.Aggregate, s Spec, now time.Time) (v any, ok bool) {
	var count, days int64
	var sum float64
	var lo, hi *float64
	var first, last *kenner.Sample
	freq := map[string]int64{}
	if a != nil {
		for _, b := range a.Buckets {
			if !s.live(b, now) {
				continue
			}
			count += b.Count
			days++
			sum += b.Sum
			if b.Min != nil && (lo == nil || *b.Min < *lo) {
				lo = b.Min
			}
			if b.Max != nil && (hi == nil || *b.Max > *hi) {
				hi = b.Max
			}
			if b.First != nil && (first == nil || before(b.First, first)) {
				first = b.First
			}
			if b.Last != nil && (last == nil || before(last, b.Last)) {
				last = b.Last
			}
			for k, n := range b.Freq {
				freq[k] += n
			}
		}
	}
	switch s.Func {
	case kenner.FuncCount:
		return count, true
	case kenner.FuncDays:
		return days, true
	case kenner.FuncSum:
		return sum, true
	}
	if count == 0 {
		return nil, false
	}
	switch s.Func {
	case kenner.FuncAverage:
		return sum / float64(count), true
	case kenner.FuncMin:
		return *lo, true
	case kenner.FuncMax:
		return *hi, true
	case kenner.FuncFirst:
		return decode(first.Value), true
	case kenner.FuncLast:
		return decode(last.Value), true
	case kenner.FuncMostFrequent:
		best, bestN := "", int64(-1)
		for k, n := range freq {
			if n > bestN || (n == bestN && k < best) {
				best, bestN = k, n
			}
		}
		return best, true
	case kenner.FuncUnique:
		keys := make([]string, 0, len(freq))
		for k := range freq {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if len(keys) > maxDistinct {
			keys = keys[:maxDistinct]
		}
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return out, true
	}
	return nil, false
}

func bucket(a *kenner.Aggregate, start int64) *kenner.Bucket {
	i, found := slices.BinarySearchFunc(a.Buckets, start, func(b kenner.Bucket, t int64) int {
		switch {
		case b.Start < t:
			return -1
		case b.Start > t:
			return 1
		}
		return 0
	})
	if !found {
		a.Buckets = slices.Insert(a.Buckets, i, kenner.Bucket{Start: start})
	}
	return &a.Buckets[i]
}

// before orders samples by event time, then log position: the same order as trait values.
func before(a, b *kenner.Sample) bool {
	if !a.At.Equal(b.At) {
		return a.At.Before(b.At)
	}
	return a.Rank < b.Rank
}

func number(v json.RawMessage) (float64, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return 0, false
	}
	if v[0] == '"' { // "42.50": amounts often arrive as strings
		var s string
		if json.Unmarshal(v, &s) != nil {
			return 0, false
		}
		v = []byte(s)
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// key is how a value is counted by most_frequent and unique: strings as themselves, anything
// else as its JSON text.
func key(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(v))
}

func decode(v json.RawMessage) any {
	var out any
	if json.Unmarshal(v, &out) != nil {
		return nil
	}
	return out
}
