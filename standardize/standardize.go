// Package standardize brings customer data values to one form per type, whatever the source
// sent: emails, phone numbers (E.164), names, countries (ISO 3166-1 alpha-2), dates (RFC 3339),
// currencies (ISO 4217) with amounts as decimals, and booleans. Each function returns the
// standard form or an error saying why the value has none; callers keep the original value for
// provenance.
package standardize

import (
	"errors"
	"net/mail"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// Email trims and lowercases an email address and checks that it is one (a bare address with a
// dotted domain, not "Name <address>").
func Email(s string) (string, error) {
	s = strings.TrimSpace(s)
	addr, err := mail.ParseAddress(s)
	if err != nil || !strings.EqualFold(addr.Address, s) {
		return "", errors.New("not an email address")
	}
	at := strings.LastIndexByte(addr.Address, '@')
	if at < 1 || !strings.Contains(addr.Address[at+1:], ".") || strings.HasSuffix(addr.Address, ".") {
		return "", errors.New("not an email address")
	}
	return strings.ToLower(addr.Address), nil
}

// Phone returns a phone number in E.164 (+4930123456). Numbers without a country code (no
// leading + or 00) are read as numbers of defaultRegion (ISO 3166 alpha-2); without one they
// are rejected rather than guessed. Only a valid number of its region is one: "12345" is a
// possible length for the Netherlands but no number anyone has, and taking it as +3112345
// would join everyone who typed it.
func Phone(s, defaultRegion string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty")
	}
	if e164, ok := phoneFast(s); ok {
		return e164, nil
	}
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	region := strings.ToUpper(defaultRegion)
	if region == "" && !strings.HasPrefix(s, "+") {
		return "", errors.New("phone number without a country code, and no default region is configured")
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return "", errors.New("not a phone number")
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	if !validNumber(num, e164) {
		return "", errors.New("not a valid phone number for its country")
	}
	return e164, nil
}

// Name trims a person's or company's name and collapses runs of spaces. A name written all in
// capitals or all in lower case ("ADA LOVELACE", "jean-luc o'neil") is put in title case
// ("Ada Lovelace", "Jean-Luc O'Neil"); a name in mixed case is kept as written ("McDonald",
// "van der Berg").
func Name(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s != strings.ToUpper(s) && s != strings.ToLower(s) {
		return s
	}
	out := []rune(strings.ToLower(s))
	start := true
	for i, r := range out {
		if start && unicode.IsLetter(r) {
			out[i] = unicode.ToTitle(r)
		}
		start = r == ' ' || r == '-' || r == '\'' || r == '’' || r == '.'
	}
	return string(out)
}

// Bool reads the ways spreadsheets and forms write yes and no.
func Bool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "t", "yes", "y", "1", "on", "ja", "oui", "si", "sí", "x", "✓":
		return true, nil
	case "false", "f", "no", "n", "0", "off", "nein", "non":
		return false, nil
	}
	return false, errors.New("not a yes or no")
}
