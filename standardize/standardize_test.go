package standardize

import "testing"

// check runs a standardizer over cases mapping input to the wanted output, "" meaning an error.
func check(t *testing.T, name string, fn func(string) (string, error), cases map[string]string) {
	t.Helper()
	for in, want := range cases {
		got, err := fn(in)
		if want == "" {
			if err == nil {
				t.Errorf("%s(%q) = %q, want an error", name, in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%s(%q) = %q, %v; want %q", name, in, got, err, want)
		}
	}
}

func TestEmail(t *testing.T) {
	check(t, "Email", Email, map[string]string{
		"  Ada.Lovelace@Example.COM ": "ada.lovelace@example.com",
		"ada+tag@sub.example.co.uk":   "ada+tag@sub.example.co.uk",
		"ada@localhost":               "",
		"Ada <ada@example.com>":       "",
		"ada@example.":                "",
		"not an email":                "",
		"":                            "",
	})
}

func TestPhone(t *testing.T) {
	for _, tc := range []struct{ in, region, want string }{
		{"+49 30 1234567", "", "+49301234567"},
		{"0049 (30) 123-4567", "", "+49301234567"},
		{"030 1234567", "DE", "+49301234567"},
		{"(415) 555-2671", "us", "+14155552671"},
		{"030 1234567", "", ""},
		{"12", "US", ""},
		{"call me", "US", ""},
	} {
		got, err := Phone(tc.in, tc.region)
		if (tc.want == "") != (err != nil) || got != tc.want {
			t.Errorf("Phone(%q, %q) = %q, %v; want %q", tc.in, tc.region, got, err, tc.want)
		}
	}
}

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"  ada   LOVELACE ": "ada LOVELACE", // mixed case is kept as written; spaces are collapsed
		"ADA LOVELACE":      "Ada Lovelace",
		"jean-luc o'neil":   "Jean-Luc O'Neil",
		"McDonald":          "McDonald",
		"van der Berg":      "van der Berg",
		"  ZOË   ÅSTRÖM  ":  "Zoë Åström",
		"":                  "",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCountry(t *testing.T) {
	check(t, "Country", Country, map[string]string{
		"DE": "DE", "de": "DE", "DEU": "DE", "276": "DE", "Germany": "DE", "Deutschland": "DE", "  germany ": "DE",
		"Allemagne": "DE", "Alemania": "DE", "UK": "GB", "United Kingdom": "GB", "USA": "US", "United States": "US",
		"Côte d’Ivoire": "CI", "cote divoire": "CI", "Österreich": "AT", "oesterreich": "", "Narnia": "", "EU": "", "ZZ": "", "": "",
	})
}

func TestDate(t *testing.T) {
	check(t, "Date", func(s string) (string, error) { return Date(s, "") }, map[string]string{
		"2026-11-24T10:30:00+01:00": "2026-11-24T09:30:00Z",
		"2026-11-24T10:30:00.250Z":  "2026-11-24T10:30:00.25Z",
		"2026-11-24 10:30:00":       "2026-11-24T10:30:00Z",
		"2026-11-24":                "2026-11-24",
		"2026/11/24":                "2026-11-24",
		"1795000000":                "2026-11-18T11:06:40Z",
		"1795000000000":             "2026-11-18T11:06:40Z",
		"24.11.2026":                "",
		"yesterday":                 "",
		"":                          "",
	})
	check(t, "Date with layout", func(s string) (string, error) { return Date(s, "02.01.2006") }, map[string]string{
		"24.11.2026": "2026-11-24",
		"2026-11-24": "",
	})
	check(t, "Date with time layout", func(s string) (string, error) { return Date(s, "02/01/2006 15:04") }, map[string]string{
		"24/11/2026 09:05": "2026-11-24T09:05:00Z",
	})
}

func TestCurrencyAndAmount(t *testing.T) {
	check(t, "Currency", Currency, map[string]string{"eur": "EUR", " USD ": "USD", "€": "EUR", "£": "GBP", "ABC": "", "": ""})
	check(t, "Amount EUR", func(s string) (string, error) { return Amount(s, "EUR") }, map[string]string{
		"1234.5": "1234.50", "1,234.50": "1234.50", "1.234,50": "1234.50", "€ 1.234,5": "1234.50", "12,5": "12.50",
		"1,234": "1234.00", "-3.005": "-3.01", "(42)": "-42.00", "42 EUR": "42.00", "1 234,99": "1234.99", "0.125": "0.13",
		"abc": "", "12 apples 34": "", "": "", "€": "",
	})
	check(t, "Amount JPY", func(s string) (string, error) { return Amount(s, "JPY") }, map[string]string{"¥1,500": "1500", "1500.5": "1501"})
	check(t, "Amount KWD", func(s string) (string, error) { return Amount(s, "kwd") }, map[string]string{"1.2345": "1.235"})
	check(t, "Amount without currency", func(s string) (string, error) { return Amount(s, "") }, map[string]string{"$3.14159": "3.14159", "7": "7", "0,125": "0.125", "1,250": "1250"})
	if _, err := Amount("12", "ABC"); err == nil {
		t.Error("unknown currency accepted")
	}
}

func TestBool(t *testing.T) {
	for in, want := range map[string]bool{"Yes": true, " y ": true, "TRUE": true, "1": true, "ja": true, "No": false, "0": false, "off": false, "nein": false} {
		if got, err := Bool(in); err != nil || got != want {
			t.Errorf("Bool(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := Bool("maybe"); err == nil {
		t.Error(`Bool("maybe") succeeded`)
	}
}

// FuzzAmount: any input either fails or gives an amount that standardizes to itself.
func FuzzAmount(f *testing.F) {
	for _, s := range []string{"1.234,50", "$1,234.50", "(42)", "-3.005", "¥1,500", "1 234,99", "12 apples 34", "€"} {
		f.Add(s, "EUR")
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, s, cur string) {
		got, err := Amount(s, cur)
		if err != nil {
			return
		}
		again, err := Amount(got, cur)
		if err != nil || again != got {
			t.Fatalf("Amount(%q, %q) = %q, which standardizes to %q, %v", s, cur, got, again, err)
		}
	})
}
