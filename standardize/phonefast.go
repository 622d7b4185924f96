package standardize

import (
	"strconv"
	"sync"

	"github.com/nyaruka/phonenumbers"
	"google.golang.org/protobuf/proto"
)

// plainPrefixes maps each country calling code whose national prefix is stripped by a plain
// prefix match (its parsing rule, if any, is the prefix itself) to that prefix. Numbers of the others
// (Argentina's mobile 9, Mexico's 1, carrier codes...) always take the full parser.
var (
	plainPrefixesOnce sync.Once
	plainPrefixes     map[int32]string
)

func loadPlainPrefixes() {
	plainPrefixes = map[int32]string{}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return
	}
	for _, m := range coll.GetMetadata() {
		// The parser reads a +CC number with the metadata of the calling code's main region.
		cc := m.GetCountryCode()
		if phonenumbers.GetRegionCodeForCountryCode(int(cc)) != m.GetId() {
			continue
		}
		if npfp := m.GetNationalPrefixForParsing(); (npfp != "" && npfp != m.GetNationalPrefix()) || m.GetNationalPrefixTransformRule() != "" {
			continue
		}
		plainPrefixes[cc] = m.GetNationalPrefix()
	}
}

// phoneFast standardizes the commonest form, an international number written with digits
// and spaces, dashes, dots or slashes ("+49 30 1234567"), without the full parser's regular
// expressions. It reports false for anything else, which then takes the full parser; it
// never answers differently from it (TestPhoneFastAgreesWithParser).
func phoneFast(s string) (string, bool) {
	var digits [20]byte
	n := 0
	i := 0
	switch {
	case len(s) > 1 && s[0] == '+':
		i = 1
	case len(s) > 2 && s[0] == '0' && s[1] == '0':
		i = 2
	default:
		return "", false
	}
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(digits) {
				return "", false
			}
			digits[n] = c
			n++
		case c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')':
		default:
			return "", false
		}
	}
	if n < 4 || digits[0] == '0' {
		return "", false
	}
	plainPrefixesOnce.Do(loadPlainPrefixes)
	for ccLen := 1; ccLen <= 3; ccLen++ {
		cc, _ := strconv.Atoi(string(digits[:ccLen]))
		if phonenumbers.GetRegionCodeForCountryCode(cc) == phonenumbers.UNKNOWN_REGION {
			continue // calling codes are prefix-free: at most one length matches
		}
		prefix, plain := plainPrefixes[int32(cc)]
		nsn := string(digits[ccLen:n])
		if !plain || nsn == "" || nsn[0] == '0' || (prefix != "" && len(nsn) >= len(prefix) && nsn[:len(prefix)] == prefix) {
			return "", false
		}
		national, err := strconv.ParseUint(nsn, 10, 64)
		if err != nil {
			return "", false
		}
		num := &phonenumbers.PhoneNumber{CountryCode: proto.Int32(int32(cc)), NationalNumber: proto.Uint64(national)}
		e164 := "+" + string(digits[:n])
		if !phonenumbers.IsPossibleNumber(num) || !validNumber(num, e164) {
			return "", false // the slow path says why
		}
		return e164, true
	}
	return "", false
}
