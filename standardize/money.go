package standardize

import (
	"errors"
	"math/big"
	"strings"

	"golang.org/x/text/currency"
)

var currencySymbols = map[string]string{"€": "EUR", "$": "USD", "us$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR", "chf": "CHF", "fr.": "CHF", "kr": "SEK", "zł": "PLN", "₩": "KRW", "r$": "BRL"}

// Currency returns the ISO 4217 code of a currency given by code (any case) or common symbol.
func Currency(s string) (string, error) {
	s = strings.TrimSpace(s)
	if code, ok := currencySymbols[strings.ToLower(s)]; ok {
		return code, nil
	}
	u, err := currency.ParseISO(s)
	if err != nil {
		return "", errors.New("not an ISO 4217 currency")
	}
	return u.String(), nil
}

// Amount returns a money amount as a plain decimal string ("1234.50"): currency symbols and
// codes around it and thousands separators are removed, a decimal comma is understood
// ("1.234,50"), and with a currency the amount is rounded (half away from zero) to that
// currency's minor units (2 for EUR, 0 for JPY, 3 for KWD). A separator followed by exactly
// three digits and nothing else ("1,234") is read as a thousands separator when it is a comma,
// unless nothing but zeros stands before it ("0,125").
func Amount(s, cur string) (string, error) {
	v := strings.TrimSpace(s)
	neg := false
	if strings.HasPrefix(v, "(") && strings.HasSuffix(v, ")") {
		neg, v = true, v[1:len(v)-1]
	}
	// Symbols and codes may stand before and after the number ("€ 12", "12.50 USD", "-$3"),
	// never inside it.
	first := strings.IndexFunc(v, func(r rune) bool { return r >= '0' && r <= '9' || r == '.' || r == ',' })
	last := strings.LastIndexFunc(v, func(r rune) bool { return r >= '0' && r <= '9' })
	if first < 0 || last < 0 || last < first {
		return "", errors.New("not an amount")
	}
	if strings.Contains(v[:first], "-") {
		neg = !neg
	}
	var b strings.Builder
	for _, r := range v[first : last+1] {
		switch {
		case r >= '0' && r <= '9', r == '.', r == ',':
			b.WriteRune(r)
		case r == ' ', r == '\u00a0', r == '\u202f', r == '\'', r == '’':
			// thousands separators in some locales
		default:
			return "", errors.New("not an amount")
		}
	}
	num := b.String()
	lastDot, lastComma := strings.LastIndexByte(num, '.'), strings.LastIndexByte(num, ',')
	decimal := -1
	switch {
	case lastDot >= 0 && lastComma >= 0:
		decimal = max(lastDot, lastComma)
	case lastComma >= 0 && strings.Count(num, ",") == 1 && (len(num)-lastComma-1 != 3 || strings.Trim(num[:lastComma], "0") == ""):
		decimal = lastComma
	case lastDot >= 0 && strings.Count(num, ".") == 1:
		decimal = lastDot
	}
	var digits strings.Builder
	for i, r := range num {
		switch {
		case i == decimal:
			digits.WriteByte('.')
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		}
	}
	rat, ok := new(big.Rat).SetString(digits.String())
	if !ok {
		return "", errors.New("not an amount")
	}
	if neg {
		rat.Neg(rat)
	}
	scale := 0
	if decimal >= 0 {
		scale = len(num) - decimal - 1
	}
	if cur != "" {
		code, err := Currency(cur)
		if err != nil {
			return "", err
		}
		scale, _ = currency.Standard.Rounding(currency.MustParseISO(code))
	}
	return roundHalfAway(rat, scale), nil
}

// roundHalfAway formats r with scale decimals, rounding half away from zero (big.Rat's
// FloatString rounds half to even).
func roundHalfAway(r *big.Rat, scale int) string {
	shift := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
	scaled := new(big.Rat).Mul(r, shift)
	half := big.NewRat(1, 2)
	if scaled.Sign() < 0 {
		scaled.Sub(scaled, half)
	} else {
		scaled.Add(scaled, half)
	}
	q := new(big.Int).Quo(scaled.Num(), scaled.Denom()) // truncates toward zero
	return new(big.Rat).SetFrac(q, shift.Num()).FloatString(scale)
}
