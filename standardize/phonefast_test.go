package standardize

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// TestPhoneFastAgreesWithParser checks the fast path against the full parser on random
// international numbers of every calling code, written in the ways it accepts.
func TestPhoneFastAgreesWithParser(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var codes []int
	for cc := 1; cc < 1000; cc++ {
		if phonenumbers.GetRegionCodeForCountryCode(cc) != phonenumbers.UNKNOWN_REGION {
			codes = append(codes, cc)
		}
	}
	seps := []string{"", " ", "-", ".", "/", " (", ") "}
	fast := 0
	for range 100000 {
		cc := codes[rng.IntN(len(codes))]
		var b strings.Builder
		if rng.IntN(4) == 0 {
			b.WriteString("00")
		} else {
			b.WriteString("+")
		}
		fmt.Fprintf(&b, "%d", cc)
		for range 4 + rng.IntN(11) {
			if rng.IntN(4) == 0 {
				b.WriteString(seps[rng.IntN(len(seps))])
			}
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		in := b.String()
		got, ok := phoneFast(in)
		if !ok {
			continue
		}
		fast++
		slowIn := in
		if strings.HasPrefix(slowIn, "00") {
			slowIn = "+" + slowIn[2:]
		}
		num, err := phonenumbers.Parse(slowIn, "")
		if err != nil || !phonenumbers.IsPossibleNumber(num) || !phonenumbers.IsValidNumber(num) {
			t.Fatalf("phoneFast(%q) = %q, but the parser rejects it (%v)", in, got, err)
		}
		if want := phonenumbers.Format(num, phonenumbers.E164); got != want {
			t.Fatalf("phoneFast(%q) = %q, the parser says %q", in, got, want)
		}
	}
	if fast < 2000 {
		t.Errorf("the fast path took only %d of 100000 numbers (random digits are mostly impossible lengths or invalid numbers)", fast)
	}
}

func BenchmarkPhone(b *testing.B) {
	for _, in := range []string{"+49 30 1234567", "030 1234567", "+1 (415) 555-2671"} {
		b.Run(in, func(b *testing.B) {
			for b.Loop() {
				Phone(in, "DE")
			}
		})
	}
}
