package main

import (
	"strings"
	"testing"
)

// TestUserCommands: console users are managed on a data directory and through a server; the
// bootstrap owner's login is in the credentials file.
func TestUserCommands(t *testing.T) {
	data := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		code, out, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("kenner %s: %d %s", strings.Join(args, " "), code, stderr)
		}
		return out
	}
	pw := strings.TrimSpace(run("user", "create", "ann@example.com", "--role", "marketer", "--name", "Ann", "--data", data))
	if len(pw) < 10 || strings.Contains(pw, " ") {
		t.Fatalf("generated password %q", pw)
	}
	creds := credentialsOf(t, data)
	if creds.ConsoleEmail != "owner@kenner.local" || len(creds.ConsolePassword) < 10 {
		t.Errorf("credentials file: %+v", creds)
	}
	if out := run("user", "list", "--data", data); !strings.Contains(out, "ann@example.com") || !strings.Contains(out, "owner@kenner.local") {
		t.Errorf("user list:\n%s", out)
	}
	if again := strings.TrimSpace(run("user", "reset-password", "ann@example.com", "--data", data)); again == pw || len(again) < 10 {
		t.Errorf("reset-password printed %q", again)
	}
	if code, _, _ := runCLI(t, "user", "create", "ann@example.com", "--role", "viewer", "--data", data); code == 0 {
		t.Error("a second user with the same email was created")
	}
	if code, _, _ := runCLI(t, "user", "create", "x@example.com", "--role", "wizard", "--data", data); code != 2 {
		t.Error("a bad role is not a usage error")
	}
	run("user", "delete", "ann@example.com", "--data", data)
	if out := run("user", "list", "--data", data); strings.Contains(out, "ann@example.com") {
		t.Errorf("deleted user still listed:\n%s", out)
	}

	s := startServer(t, data)
	remote := []string{"--url", s.url, "--token", creds.AdminToken}
	if pw := strings.TrimSpace(run(append([]string{"user", "create", "bo@example.com", "--role", "analyst"}, remote...)...)); len(pw) < 10 {
		t.Errorf("remote create printed %q", pw)
	}
	if out := run(append([]string{"user", "list"}, remote...)...); !strings.Contains(out, "bo@example.com") {
		t.Errorf("remote list:\n%s", out)
	}
}
