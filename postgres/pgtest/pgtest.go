// Package pgtest gives tests a PostgreSQL schema of their own on the server named by
// KENNER_TEST_POSTGRES, and drops it afterwards (the server outlives the test run).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	conn, err := pgx.Connect(context.Background(), base)
	if err != nil {
		t.Fatalf("connect %s: %v", base, err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 6)
	rand.Read(b)
	schema := "kenner_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
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

// Database creates a fresh, empty database on the server at base, drops it when the test ends
// (ending its connections), and returns base pointing at it.
func Database(t testing.TB, base string) string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), base)
	if err != nil {
		t.Fatalf("connect %s: %v", base, err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 6)
	rand.Read(b)
	name := "kenner_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
