// Package geoip finds where an IP address is, in a MaxMind-format database the operator
// supplies (GeoLite2-City, GeoIP2-City, DB-IP's or IPinfo's MMDB files, or a country-level
// one), through the maintained maxminddb reader. Kenner ships no database: their licences
// ask each user to get their own.
package geoip

import (
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Location is what a database says about an address, in the names Segment's context.location
// uses (English names; the country's ISO code besides).
type Location struct {
	City        string  `json:"city,omitempty"`
	Country     string  `json:"country,omitempty"`
	CountryCode string  `json:"country_code,omitempty"`
	Region      string  `json:"region,omitempty"`
	Latitude    float64 `json:"latitude,omitempty"`
	Longitude   float64 `json:"longitude,omitempty"`
	TimeZone    string  `json:"timezone,omitempty"`
}

// record is the part of a GeoIP2/GeoLite2 City or Country record read.
type record struct {
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	Country struct {
		ISOCode string            `maxminddb:"iso_code"`
		Names   map[string]string `maxminddb:"names"`
	} `maxminddb:"country"`
	Subdivisions []struct {
		ISOCode string            `maxminddb:"iso_code"`
		Names   map[string]string `maxminddb:"names"`
	} `maxminddb:"subdivisions"`
	Location struct {
		Latitude  float64 `maxminddb:"latitude"`
		Longitude float64 `maxminddb:"longitude"`
		TimeZone  string  `maxminddb:"time_zone"`
	} `maxminddb:"location"`
}

// DB is an open database.
type DB struct {
	r *maxminddb.Reader
}

// Open opens a database file and checks that it answers city or country lookups.
func Open(path string) (*DB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip database %s: %w", path, err)
	}
	return &DB{r: r}, nil
}

// Type is the database's type as its metadata says (GeoLite2-City, ...).
func (d *DB) Type() string { return d.r.Metadata.DatabaseType }

// Close releases the database.
func (d *DB) Close() error { return d.r.Close() }

// Locate looks an address up; false when it is not an address or the database does not know
// it (private ranges, say).
func (d *DB) Locate(ip string) (Location, bool) {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return Location{}, false
	}
	var rec record
	res := d.r.Lookup(addr.Unmap())
	if !res.Found() || res.Decode(&rec) != nil {
		return Location{}, false
	}
	loc := Location{City: rec.City.Names["en"], Country: rec.Country.Names["en"], CountryCode: rec.Country.ISOCode,
		Latitude: rec.Location.Latitude, Longitude: rec.Location.Longitude, TimeZone: rec.Location.TimeZone}
	if len(rec.Subdivisions) > 0 {
		loc.Region = rec.Subdivisions[0].Names["en"]
	}
	return loc, loc != Location{}
}
