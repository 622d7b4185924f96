package geoip_test

import (
	"path/filepath"
	"testing"

	"github.com/kenner-cdp/kenner/geoip"
	"github.com/kenner-cdp/kenner/geoip/geoiptest"
)

func TestLocate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	geoiptest.WriteCityDB(t, path, map[string][5]string{
		"81.2.69.0/24":   {"Utrecht", "Netherlands", "NL", "Utrecht", "Europe/Amsterdam"},
		"2a02:1810::/32": {"", "Belgium", "BE", "", "Europe/Brussels"},
	})
	db, err := geoip.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Type() != "GeoLite2-City" {
		t.Errorf("type %q", db.Type())
	}
	for _, tc := range []struct {
		ip   string
		want geoip.Location
		ok   bool
	}{
		{"81.2.69.142", geoip.Location{City: "Utrecht", Country: "Netherlands", CountryCode: "NL", Region: "Utrecht", Latitude: 52.09, Longitude: 5.12, TimeZone: "Europe/Amsterdam"}, true},
		{"::ffff:81.2.69.7", geoip.Location{City: "Utrecht", Country: "Netherlands", CountryCode: "NL", Region: "Utrecht", Latitude: 52.09, Longitude: 5.12, TimeZone: "Europe/Amsterdam"}, true},
		{"2a02:1810:1::1", geoip.Location{Country: "Belgium", CountryCode: "BE", Latitude: 52.09, Longitude: 5.12, TimeZone: "Europe/Brussels"}, true},
		{"10.0.0.1", geoip.Location{}, false}, // a network the database does not hold
		{"not an ip", geoip.Location{}, false},
	} {
		got, ok := db.Locate(tc.ip)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: %+v %v, want %+v %v", tc.ip, got, ok, tc.want, tc.ok)
		}
	}
	if _, err := geoip.Open(filepath.Join(t.TempDir(), "none.mmdb")); err == nil {
		t.Error("a missing file opened")
	}
}
