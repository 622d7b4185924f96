package standardize

import (
	"errors"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
	"golang.org/x/text/unicode/norm"
)

// countryAliases are common ways of writing a country that are neither a code nor a name in
// the CLDR data.
var countryAliases = map[string]string{
	"uk": "GB", "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
	"usa": "US", "u.s.a.": "US", "u.s.": "US", "united states of america": "US", "america": "US",
	"holland": "NL", "the netherlands": "NL", "czech republic": "CZ", "south korea": "KR", "north korea": "KP",
	"russia": "RU", "ivory coast": "CI", "uae": "AE", "vatican": "VA", "burma": "MM",
}

var (
	countryNamesOnce sync.Once
	countryNames     map[string]string // folded name → alpha-2
)

// nameLanguages are the languages whose country names are recognized.
var nameLanguages = []display.Namer{
	display.English.Regions(), display.German.Regions(), display.French.Regions(),
	display.Spanish.Regions(), display.Italian.Regions(), display.Dutch.Regions(), display.Portuguese.Regions(),
}

func loadCountryNames() {
	countryNames = map[string]string{}
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			r, err := language.ParseRegion(code)
			if err != nil || !r.IsCountry() || r.String() != code || r.ISO3() == "ZZZ" || r.Canonicalize() != r {
				// Deprecated codes (FX, the old Metropolitan France, shares its names
				// with FR) give way to the current one.
				continue
			}
			for _, n := range nameLanguages {
				if name := n.Name(r); name != "" {
					countryNames[fold(name)] = code
				}
			}
		}
	}
}

// Country returns the ISO 3166-1 alpha-2 code of a country given as an alpha-2, alpha-3 or
// numeric code, or by its name in English, German, French, Spanish, Italian, Dutch or
// Portuguese (case and accents ignored), or a common alias ("UK", "USA").
func Country(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty")
	}
	if code, ok := countryAliases[strings.ToLower(s)]; ok {
		return code, nil
	}
	if len(s) <= 3 {
		if r, err := language.ParseRegion(s); err == nil && r.IsCountry() && r.ISO3() != "ZZZ" {
			return r.Canonicalize().String(), nil
		}
	}
	countryNamesOnce.Do(loadCountryNames)
	if code, ok := countryNames[fold(s)]; ok {
		return code, nil
	}
	return "", errors.New("not a known country")
}

// fold lowercases s and strips accents and punctuation, so that "Côte d’Ivoire" and
// "cote divoire" meet.
func fold(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToLower(s)) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		case unicode.IsSpace(r) || r == '-':
			b.WriteByte(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
