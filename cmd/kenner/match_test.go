package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMatchCommand links Febrl's dataset 1 (500 people, each twice, with typos) from the
// command line: every pair written is one person's, and there are 500 of them or nearly.
func TestMatchCommand(t *testing.T) {
	file := filepath.Join(sharedData(t, "febrl"), "dataset1.csv")
	out := filepath.Join(t.TempDir(), "pairs.csv")
	code, _, stderr := runCLI(t, "match", file, "--id", "rec_id", "--field", "given_name=name,tf", "--field", "surname=name,tf",
		"--field", "address_1=text", "--field", "postcode=code", "--field", "date_of_birth=code", "--field", "soc_sec_id=code",
		"--block", "postcode", "--block", "date_of_birth", "--block-phonetic", "given_name+surname", "--out", out)
	if code != 0 {
		t.Fatalf("match: %d %s", code, stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	right := 0
	for _, r := range rows[1:] {
		if strings.Split(r[0], "-")[1] == strings.Split(r[1], "-")[1] {
			right++
		}
	}
	t.Logf("%s; %d pairs, %d right", strings.TrimSpace(stderr), len(rows)-1, right)
	if right < 490 || right < len(rows)-1-5 {
		t.Errorf("%d pairs written, %d of them one person's; want nearly all 500 and nearly no others", len(rows)-1, right)
	}
	for _, bad := range [][]string{
		{"match", file},
		{"match", file, "--field", "surname=fuzzy", "--block", "postcode"},
		{"match", file, "--field", "surname=name"},
		{"match", file, "--field", "nope=name", "--block", "postcode"},
	} {
		if code, _, stderr := runCLI(t, bad...); code != 2 || stderr == "" {
			t.Errorf("kenner %v: exit %d %q, want 2 with a message", bad[1:], code, stderr)
		}
	}
}
