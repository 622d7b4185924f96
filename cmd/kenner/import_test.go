package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const importTestCSV = "Customer ID,E-Mail,Phone,Plan\n" +
	"c1, ADA@Example.COM ,030 1234567,pro\n" +
	"c2,grace@example.com,+1 415 555 2671,free\n" +
	"c2,grace@example.com,+1 415 555 2671,free\n" +
	",nobody@example.com,,free\n"

const importTestMap = "columns:\n  Customer ID: userId\n  E-Mail: traits.email\n  Phone: traits.phone\n  Plan: traits.plan\n"

func writeImportFiles(t *testing.T) (csv, mapping string) {
	dir := t.TempDir()
	csv, mapping = filepath.Join(dir, "crm.csv"), filepath.Join(dir, "crm.yaml")
	os.WriteFile(csv, []byte(importTestCSV), 0o600)
	os.WriteFile(mapping, []byte(importTestMap), 0o600)
	return csv, mapping
}

func TestImportCommand(t *testing.T) {
	csv, mapping := writeImportFiles(t)
	data := t.TempDir()
	rejects := filepath.Join(t.TempDir(), "rejects.csv")
	args := []string{"import", csv, "--data", data, "--as", "identify", "--map", mapping, "--default-region", "DE"}

	code, out, stderr := runCLI(t, append(args, "--dry-run")...)
	if code != 0 || !strings.Contains(out, "dry run: would import 2, duplicates 1, rejected 1") || !strings.Contains(out, `"email":"ada@example.com"`) {
		t.Fatalf("dry run: %d %q %q", code, out, stderr)
	}
	code, out, stderr = runCLI(t, append(args, "--rejects", rejects)...)
	if code != 0 || !strings.Contains(out, "imported 2, duplicates 1, rejected 1") || !strings.Contains(out, "line 5: rejected: no identifier") {
		t.Fatalf("import: %d %q %q", code, out, stderr)
	}
	if b, _ := os.ReadFile(rejects); string(b) != "_line,_reason,Customer ID,E-Mail,Phone,Plan\n5,no identifier: userId and anonymousId are both empty,,nobody@example.com,,free\n" {
		t.Errorf("rejects file: %q", b)
	}
	code, out, _ = runCLI(t, append(args, "--strict")...)
	if code != 1 || !strings.Contains(out, "imported 0, duplicates 3, rejected 1") {
		t.Errorf("again with --strict: %d %q", code, out)
	}
	for _, bad := range [][]string{
		{"import", csv, "--data", data, "--map", mapping},                                  // no --as
		{"import", csv, "--data", data, "--as", "identify"},                                // no mapping
		{"import", csv + ".missing", "--data", data, "--as", "identify", "--map", mapping}, // no file
		{"import", csv, "--data", data, "--as", "identify", "--map", mapping, "--source", "nope"},
	} {
		if code, _, stderr := runCLI(t, bad...); code != 2 || stderr == "" {
			t.Errorf("%v: exit %d %q, want 2 with a message", bad[3:], code, stderr)
		}
	}

	// The server, started on the same data, serves the imported profile, standardized.
	s := startServer(t, data, "--default-region", "DE")
	creds := credentialsOf(t, data)
	var prof map[string]any
	waitUntil(t, "imported profile", func() bool {
		req, _ := http.NewRequest("GET", s.url+"/v1/profiles/email:ada@example.com", nil)
		req.Header.Set("Authorization", "Bearer "+creds.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&prof) == nil
	})
	if traits := prof["traits"].(map[string]any); traits["phone"] != "+49301234567" || traits["plan"] != "pro" {
		t.Errorf("traits: %v", traits)
	}

	// Through the server: the rows are known, a changed row is new.
	os.WriteFile(csv, []byte(importTestCSV+"c3,alan@example.com,,pro\n"), 0o600)
	remote := []string{"import", csv, "--url", s.url, "--token", creds.AdminToken, "--as", "identify", "--map", mapping, "--rejects", rejects}
	code, out, stderr = runCLI(t, remote...)
	if code != 0 || !strings.Contains(out, "imported 1, duplicates 3, rejected 1") {
		t.Errorf("remote import: %d %q %q", code, out, stderr)
	}
	if b, _ := os.ReadFile(rejects); !strings.Contains(string(b), "5,no identifier") {
		t.Errorf("remote rejects file: %q", b)
	}
	code, _, stderr = runCLI(t, "import", csv, "--url", s.url, "--token", creds.AdminToken, "--as", "identify", "--map", mapping, "--source", "nope")
	if code != 2 || !strings.Contains(stderr, "nope") {
		t.Errorf("remote import to an unknown source: %d %q", code, stderr)
	}
}
