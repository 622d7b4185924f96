package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSourceSettingsCommands(t *testing.T) {
	data, dir := t.TempDir(), t.TempDir()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("whsec_abc\n"), 0o600)
	plan := filepath.Join(dir, "plan.yaml")
	os.WriteFile(plan, []byte("mode: block\nevents:\n  Order Completed:\n    type: object\n    required: [total]\n"), 0o600)
	badPlan := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badPlan, []byte("mode: block\nevents:\n  X: {type: objekt}\n"), 0o600)

	if code, out, stderr := runCLI(t, "source", "webhook", "--show-preset", "shopify"); code != 0 || !strings.Contains(out, "Order Completed") {
		t.Errorf("--show-preset: %d %q %q", code, out, stderr)
	}
	code, out, stderr := runCLI(t, "source", "webhook", "default", "--preset", "stripe", "--signing-secret-file", secret, "--data", data)
	if code != 0 || !strings.Contains(out, "/v1/webhooks/src_") {
		t.Fatalf("source webhook: %d %q %q", code, out, stderr)
	}
	if code, out, stderr := runCLI(t, "source", "plan", "default", "--plan", plan, "--data", data); code != 0 {
		t.Fatalf("source plan: %d %q %q", code, out, stderr)
	}
	for _, bad := range [][]string{
		{"source", "plan", "default", "--plan", badPlan, "--data", data},
		{"source", "plan", "default", "--data", data},
		{"source", "webhook", "default", "--preset", "paypal", "--data", data},
		{"source", "webhook", "nope", "--preset", "stripe", "--data", data},
	} {
		if code, _, stderr := runCLI(t, bad...); code != 2 || stderr == "" {
			t.Errorf("%v: exit %d %q, want 2 with a message", bad, code, stderr)
		}
	}
	if code, out, _ := runCLI(t, "source", "violations", "default", "--data", data); code != 0 || !strings.Contains(out, "VIOLATION") {
		t.Errorf("source violations: %d %q", code, out)
	}

	// The server applies what was set: its source shows the plan and the hidden secret.
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	code, out, stderr = runCLI(t, "source", "plan", "default", "--remove", "--url", s.url, "--token", creds.AdminToken)
	if code != 0 {
		t.Fatalf("remote plan --remove: %d %q %q", code, out, stderr)
	}
	if code, out, _ := runCLI(t, "source", "violations", "default", "--url", s.url, "--token", creds.AdminToken); code != 0 || !strings.Contains(out, "COUNT") {
		t.Errorf("remote violations: %d %q", code, out)
	}
}
