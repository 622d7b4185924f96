package profiledata

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/jsonobj"
)

// The parts of a document every read decodes (traits, aggregates, memberships) are read by
// hand, in one pass: encoding/json's reflection was most of the time of reading a profile,
// and profiles are read for every batch the processor applies and by every pass over a
// workspace. The rare parts (groups, consent) go through encoding/json.
// TestDecodeMatchesEncodingJSON holds the two equal.

func decodeTrait(r *jsonobj.Reader) (t kenner.Trait, err error) {
	err = r.Object(func(k []byte) (err error) {
		switch string(k) {
		case "value":
			t.Value, err = r.Raw()
		case "source_id":
			t.SourceID, err = r.String()
		case "message_id":
			t.MessageID, err = r.String()
		case "timestamp":
			t.Timestamp, err = timestamp(r)
		case "rank":
			t.Rank, err = r.Int()
		case "original":
			t.Original, err = r.Raw()
		default:
			err = r.Skip()
		}
		return err
	})
	return t, err
}

func decodeAggregate(r *jsonobj.Reader) (*kenner.Aggregate, error) {
	a := &kenner.Aggregate{}
	err := r.Object(func(k []byte) error {
		if string(k) != "b" {
			return r.Skip()
		}
		return r.Array(func() error {
			b, err := decodeBucket(r)
			a.Buckets = append(a.Buckets, b)
			return err
		})
	})
	return a, err
}

func decodeBucket(r *jsonobj.Reader) (b kenner.Bucket, err error) {
	err = r.Object(func(k []byte) (err error) {
		switch string(k) {
		case "t":
			b.Start, err = r.Int()
		case "n":
			b.Count, err = r.Int()
		case "s":
			b.Sum, err = r.Float()
		case "lo":
			b.Min, err = floatPtr(r)
		case "hi":
			b.Max, err = floatPtr(r)
		case "f":
			b.First, err = decodeSample(r)
		case "l":
			b.Last, err = decodeSample(r)
		case "c":
			if r.Null() {
				return nil
			}
			b.Freq = map[string]int64{}
			err = r.Object(func(k []byte) error {
				n, err := r.Int()
				b.Freq[string(k)] = n
				return err
			})
		default:
			err = r.Skip()
		}
		return err
	})
	return b, err
}

func decodeSample(r *jsonobj.Reader) (*kenner.Sample, error) {
	if r.Null() {
		return nil, nil
	}
	s := &kenner.Sample{}
	err := r.Object(func(k []byte) (err error) {
		switch string(k) {
		case "at":
			s.At, err = timestamp(r)
		case "r":
			s.Rank, err = r.Int()
		case "v":
			s.Value, err = r.Raw()
		default:
			err = r.Skip()
		}
		return err
	})
	return s, err
}

func decodeTimes(r *jsonobj.Reader) (map[string]time.Time, error) {
	if r.Null() {
		return nil, nil
	}
	out := map[string]time.Time{}
	err := r.Object(func(k []byte) error {
		t, err := timestamp(r)
		out[string(k)] = t
		return err
	})
	return out, err
}

// decodeMap reads an object's members whose keys want accepts, and skips the others.
func decodeMap[T any](r *jsonobj.Reader, want func(key []byte) bool, decode func(*jsonobj.Reader) (T, error)) (map[string]T, error) {
	var out map[string]T
	err := r.Object(func(k []byte) error {
		if !want(k) {
			return r.Skip()
		}
		x, err := decode(r)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if out == nil {
			out = map[string]T{}
		}
		out[string(k)] = x
		return nil
	})
	return out, err
}

// unmarshal reads a value with encoding/json, for the rarely read parts.
func unmarshal(r *jsonobj.Reader, v any) error {
	b, err := r.Raw()
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func floatPtr(r *jsonobj.Reader) (*float64, error) {
	if r.Null() {
		return nil, nil
	}
	f, err := r.Float()
	return &f, err
}

func timestamp(r *jsonobj.Reader) (time.Time, error) {
	if r.Null() {
		return time.Time{}, nil
	}
	s, err := r.String()
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339, s)
}
