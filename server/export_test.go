package server_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation/export"
)

// TestAudienceFileExport writes a segment's entries and exits as CSV files of hashed,
// normalized identifiers, the shape ad platforms' customer-match uploads take.
func TestAudienceFileExport(t *testing.T) {
	st := newStack(t)
	admin := st.tokens[kenner.RoleAdmin]
	_, seg := st.do(t, "POST", "/v1/segments", admin, `{"name":"Pro","condition":"has(traits.plan) && traits.plan == \"pro\""}`)
	dir := t.TempDir()
	body := fmt.Sprintf(`{"name":"ads","type":"file","config":{"dir":%q},"batch_size":100,"subscribe":{"segments":[%q]}}`, dir, seg["id"])
	if code, d := st.do(t, "POST", "/v1/destinations", admin, body); code != 201 {
		t.Fatalf("create = %d %v", code, d)
	}
	if code, _ := st.do(t, "POST", "/v1/destinations", admin, `{"name":"rel","type":"file","config":{"dir":"relative"}}`); code != 400 {
		t.Errorf("relative dir = %d, want 400", code)
	}
	var rows [][]string
	readRows := func(n int) func() bool {
		return func() bool {
			rows = nil
			files, _ := filepath.Glob(filepath.Join(dir, "kenner-*.csv"))
			sort.Strings(files)
			for _, f := range files {
				b, _ := os.ReadFile(f)
				recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
				if err != nil || len(recs) == 0 {
					return false
				}
				rows = append(rows, recs[1:]...)
			}
			return len(rows) == n
		}
	}
	// One at a time: applied in one processing batch, the two calls would leave the
	// profile where it was, with no entry or exit at all.
	st.track(t, `{"batch":[{"type":"identify","userId":"amy","traits":{"plan":"pro","email":"  Amy@Example.COM "},"messageId":"x1"}]}`)
	waitFor(t, readRows(1))
	st.track(t, `{"batch":[{"type":"identify","userId":"amy","traits":{"plan":"free"},"messageId":"x2"}]}`)
	waitFor(t, readRows(2))
	want := export.Hash("amy@example.com")
	if rows[0][0] != "add" || rows[0][3] != "email" || rows[0][4] != want || rows[1][0] != "remove" || rows[1][4] != want {
		t.Errorf("rows %v, want add then remove of sha256(amy@example.com) = %s", rows, want)
	}
}
