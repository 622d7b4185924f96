package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigPrecedence: flags beat KENNER_* variables, which beat the YAML file, which beats
// the defaults.
func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kenner.yaml")
	if err := os.WriteFile(file, []byte("addr: 127.0.0.1:1111\nnats-listen: 127.0.0.1:4333\npartitions: 8\nrate-limit: 50\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		env   map[string]string
		flags []string
		check func(c config) bool
	}{
		{"defaults", nil, nil, func(c config) bool {
			return c.Addr == "127.0.0.1:8080" && c.Data == "./kenner-data" && c.Partitions == 4 && c.Sync == "1s" && c.NATSStream == "events"
		}},
		{"file", nil, []string{"--config", file}, func(c config) bool {
			return c.Addr == "127.0.0.1:1111" && c.NATSListen == "127.0.0.1:4333" && c.Partitions == 8 && c.RateLimit == 50
		}},
		{"env over file", map[string]string{"KENNER_ADDR": "127.0.0.1:2222", "KENNER_NATS_LISTEN": "127.0.0.1:5555"}, []string{"--config", file}, func(c config) bool {
			return c.Addr == "127.0.0.1:2222" && c.NATSListen == "127.0.0.1:5555" && c.Partitions == 8
		}},
		{"flag over env", map[string]string{"KENNER_ADDR": "127.0.0.1:2222"}, []string{"--config", file, "--addr", "127.0.0.1:3333"}, func(c config) bool {
			return c.Addr == "127.0.0.1:3333"
		}},
		{"config file from the environment", map[string]string{"KENNER_CONFIG": file}, nil, func(c config) bool {
			return c.Addr == "127.0.0.1:1111"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			root := newRoot(strings.NewReader(""), io.Discard, io.Discard)
			serve, _, err := root.Find([]string{"serve"})
			if err != nil {
				t.Fatal(err)
			}
			if err := serve.ParseFlags(tc.flags); err != nil {
				t.Fatal(err)
			}
			c, err := loadConfig(serve)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("config = %+v", c)
			}
		})
	}
}

// TestPrivacyConfig reads the consent policy, retention rules and PII names from a YAML file
// and from flags, and refuses bad ones with a usage error.
func TestPrivacyConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kenner.yaml")
	yaml := "consent-purposes:\n  Analytics: strip\n  advertising: drop\nconsent-default: denied\nretention:\n  events: 760d\n  type:page: 395d\n  \"event:Order Completed\": 2555d\npii-traits: [email, ssn]\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		flags   []string
		check   func(c config) bool
		wantErr string
	}{
		{"file", []string{"--config", file}, func(c config) bool {
			return c.Consent.Purposes["analytics"] == "strip" && c.Consent.Purposes["advertising"] == "drop" && !c.Consent.DefaultGranted &&
				len(c.Retention) == 3 && c.Retention[0].Class == "event:Order Completed" && c.PII.IsPII("SSN") && !c.PII.IsPII("phone")
		}, ""},
		{"flags", []string{"--consent-purposes", "ads=drop", "--retention", "events=30d,audit=365d"}, func(c config) bool {
			return c.Consent.Purposes["ads"] == "drop" && c.Consent.DefaultGranted && len(c.Retention) == 2 && c.PII.IsPII("phone")
		}, ""},
		{"bad policy", []string{"--consent-purposes", "ads=maybe"}, nil, "drop or strip"},
		{"bad class", []string{"--retention", "profiles=30d"}, nil, "want events"},
		{"bad duration", []string{"--retention", "events=soon"}, nil, "at least 1h"},
		{"bad default", []string{"--consent-default", "perhaps"}, nil, "granted or denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := newRoot(strings.NewReader(""), io.Discard, io.Discard)
			serve, _, _ := root.Find([]string{"serve"})
			if err := serve.ParseFlags(tc.flags); err != nil {
				t.Fatal(err)
			}
			c, err := loadConfig(serve)
			if tc.wantErr != "" {
				var u usageError
				if !errors.As(err, &u) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want a usage error mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("config = %+v", c)
			}
		})
	}
}
