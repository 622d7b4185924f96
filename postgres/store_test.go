package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/postgres"
	"github.com/kenner-cdp/kenner/storetest"
)

// testURL returns KENNER_TEST_POSTGRES or skips: a developer machine need not run PostgreSQL,
// and .ci/run always sets it.
func testURL(t *testing.T) string {
	u := os.Getenv("KENNER_TEST_POSTGRES")
	if u == "" {
		t.Skip("KENNER_TEST_POSTGRES is not set; set it to a postgres:// URL to run the PostgreSQL store tests")
	}
	return u
}

// freshSchema creates a schema of its own for one test and drops it afterwards, since the
// server outlives the test run.
func freshSchema(t *testing.T, base string) string {
	conn, err := pgx.Connect(t.Context(), base)
	if err != nil {
		t.Fatalf("connect %s: %v", base, err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 6)
	rand.Read(b)
	schema := "kenner_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestConformance(t *testing.T) {
	base := testURL(t)
	storetest.Run(t, func(t *testing.T) kenner.Store {
		s, err := postgres.Open(t.Context(), freshSchema(t, base))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
