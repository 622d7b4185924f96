package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeysRotate rotates the key-encryption key of a data directory: afterwards the old key
// (derived from the instance secret) no longer opens the store, and the new one does.
func TestKeysRotate(t *testing.T) {
	data := t.TempDir()
	if code, _, stderr := runCLI(t, "token", "create", "--role", "viewer", "--data", data); code != 0 {
		t.Fatalf("token create: %d %s", code, stderr)
	}
	newKey := filepath.Join(t.TempDir(), "new.key")
	if err := os.WriteFile(newKey, []byte("q9ZyN0xl5m0B3Vd1kC2u0mQyq0v1m3Zx4a5b6c7d8e0=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.key")
	os.WriteFile(bad, []byte("too short"), 0o600)

	tests := []struct {
		name   string
		args   []string
		code   int
		output string
	}{
		{"bad new key", []string{"keys", "rotate", "--data", data, "--new-key-file", bad}, 2, "32 bytes"},
		{"no new key", []string{"keys", "rotate", "--data", data}, 2, "--new-key-file is required"},
		{"rotate", []string{"keys", "rotate", "--data", data, "--new-key-file", newKey}, 0, "rotated"},
		{"old key refused", []string{"token", "create", "--role", "viewer", "--data", data}, 2, "does not open this store's data key"},
		{"new key opens", []string{"token", "create", "--role", "viewer", "--data", data, "--encryption-key-file", newKey}, 0, "kt_"},
		{"rotating again needs the current key", []string{"keys", "rotate", "--data", data, "--new-key-file", newKey}, 2, "does not open"},
	}
	for _, tc := range tests {
		code, stdout, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.output) {
			t.Errorf("%s: exit %d %q %q, want %d mentioning %q", tc.name, code, stdout, stderr, tc.code, tc.output)
		}
	}
}
