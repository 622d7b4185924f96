// Package pgtest gives tests a PostgreSQL schema of their own on the server named by
// KENNER_TEST_POSTGRES, and drops it afterwards (the server outlives the test run).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// URL returns KENNER_TEST_POSTGRES, or skips the test with a message saying how to run it.
func URL(t testing.TB) string {
	u := os.Getenv("KENNER_TEST_POSTGRES")
	if u == "" {
		t.Skip("KENNER_TEST_POSTGRES is not set; set it to a postgres:// URL to run the PostgreSQL tests")
	}
	return u
}

// Schema creates a fresh schema on the server at base, drops it when the test ends, and
// returns base with search_path set to it.
func Schema(t testing.TB, base string) string {
	t.Helper()
	name := fresh(t, base, "CREATE SCHEMA %s", "DROP SCHEMA %s CASCADE")
	u := parse(t, base)
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// Database creates a fresh, empty database on the server at base, drops it when the test ends
// (ending its connections), and returns base pointing at it.
func Database(t testing.TB, base string) string {
	t.Helper()
	name := fresh(t, base, "CREATE DATABASE %s", "DROP DATABASE IF EXISTS %s WITH (FORCE)")
	u := parse(t, base)
	u.Path = "/" + name
	return u.String()
}

// fresh makes a uniquely named object with create and removes it with drop after the test.
func fresh(t testing.TB, base, create, drop string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "kenner_test_" + hex.EncodeToString(b)
	exec := func(stmt string) error {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(context.Background(), fmt.Sprintf(stmt, name))
		return err
	}
	if err := exec(create); err != nil {
		t.Fatalf("%s: %v", base, err)
	}
	t.Cleanup(func() {
		if err := exec(drop); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

func parse(t testing.TB, base string) *url.URL {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
