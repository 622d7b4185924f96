// Package geoiptest writes MaxMind-format databases for tests, with MaxMind's own writer.
package geoiptest

import (
	"net"
	"os"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// WriteCityDB writes a small City database in MaxMind's format (the layout of GeoLite2-City)
// with the given networks, for tests.
func WriteCityDB(t testing.TB, path string, networks map[string][5]string) {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-City", RecordSize: 24, IPVersion: 6, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, v := range networks { // v: city, country, iso code, region, time zone
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{
			"country":  mmdbtype.Map{"iso_code": mmdbtype.String(v[2]), "names": mmdbtype.Map{"en": mmdbtype.String(v[1])}},
			"location": mmdbtype.Map{"latitude": mmdbtype.Float64(52.09), "longitude": mmdbtype.Float64(5.12), "time_zone": mmdbtype.String(v[4])},
		}
		if v[0] != "" {
			rec["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(v[0]), "de": mmdbtype.String(v[0] + "-de")}}
		}
		if v[3] != "" {
			rec["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("UT"), "names": mmdbtype.Map{"en": mmdbtype.String(v[3])}}}
		}
		if err := w.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
}
