package postgres_test

import (
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/postgres"
	"github.com/kenner-cdp/kenner/postgres/pgtest"
	"github.com/kenner-cdp/kenner/storetest"
)

func TestConformance(t *testing.T) {
	base := pgtest.URL(t)
	storetest.Run(t, func(t *testing.T) kenner.Store {
		s, err := postgres.Open(t.Context(), pgtest.Schema(t, base))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestScenarios(t *testing.T) {
	base := pgtest.URL(t)
	storetest.RunScenarios(t, func(t *testing.T) kenner.Store {
		s, err := postgres.Open(t.Context(), pgtest.Schema(t, base))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestConformanceEncrypted runs the suite with personal data encrypted at rest.
func TestConformanceEncrypted(t *testing.T) {
	base := pgtest.URL(t)
	storetest.Run(t, storetest.Sealed(func(t *testing.T) kenner.Store {
		s, err := postgres.Open(t.Context(), pgtest.Schema(t, base))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}))
}
