package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/sqlite"
	"github.com/kenner-cdp/kenner/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) kenner.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "kenner.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kenner.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateWorkspace(t.Context(), &kenner.Workspace{ID: "ws", Name: "w"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen (migrations must be idempotent): %v", err)
	}
	defer s.Close()
	ws, err := s.Workspaces(t.Context())
	if err != nil || len(ws) != 1 {
		t.Errorf("after reopen: %v, %v", ws, err)
	}
}

func TestScenarios(t *testing.T) {
	storetest.RunScenarios(t, func(t *testing.T) kenner.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "kenner.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func openSQLite(t *testing.T) kenner.Store {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "kenner.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformanceEncrypted(t *testing.T) { storetest.Run(t, storetest.Sealed(openSQLite)) }

func TestScenariosEncrypted(t *testing.T) { storetest.RunScenarios(t, storetest.Sealed(openSQLite)) }
