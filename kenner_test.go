package kenner_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/kenner-cdp/kenner"
)

// TestPartitionOfIsStable pins the partition function: changing it would send a device's events
// to another partition than its history, breaking per-device ordering on existing logs.
func TestPartitionOfIsStable(t *testing.T) {
	tests := []struct {
		key  string
		n    int
		want int
	}{
		{"anon-1", 4, 1},
		{"", 4, 1},
		{"user-42", 4, 3},
		{"a1b2c3", 16, 13},
		{"anything", 1, 0},
	}
	for _, tc := range tests {
		if got := kenner.PartitionOf(tc.key, tc.n); got != tc.want {
			t.Errorf("PartitionOf(%q, %d) = %d, want %d", tc.key, tc.n, got, tc.want)
		}
	}
}

func TestRoles(t *testing.T) {
	tests := []struct {
		r, min kenner.Role
		want   bool
	}{
		{kenner.RoleOwner, kenner.RoleAdmin, true},
		{kenner.RoleAdmin, kenner.RoleAdmin, true},
		{kenner.RoleMarketer, kenner.RoleAdmin, false},
		{kenner.RoleViewer, kenner.RoleViewer, true},
		{"root", kenner.RoleViewer, false},
	}
	for _, tc := range tests {
		if got := tc.r.AtLeast(tc.min); got != tc.want {
			t.Errorf("%s.AtLeast(%s) = %v", tc.r, tc.min, got)
		}
	}
	if kenner.RoleAnalyst.SeesPII() || !kenner.RoleMarketer.SeesPII() {
		t.Error("analysts must see PII masked and marketers unmasked")
	}
}

func TestEventCursor(t *testing.T) {
	c := kenner.EventCursor{Seq: 123456789, Index: 42}
	got, err := kenner.ParseEventCursor(c.String())
	if err != nil || got != c {
		t.Errorf("round trip: %v, %v", got, err)
	}
	for _, bad := range []string{"", "!!", "MTIz", "YS5i", "MS4tMQ"} {
		if _, err := kenner.ParseEventCursor(bad); kenner.ErrorCode(err) != kenner.EInvalid {
			t.Errorf("ParseEventCursor(%q) = %v, want an invalid error", bad, err)
		}
	}
}

func TestErrorCode(t *testing.T) {
	wrapped := fmt.Errorf("context: %w", kenner.Errorf(kenner.ENotFound, "no profile %s", "x"))
	if kenner.ErrorCode(wrapped) != kenner.ENotFound || kenner.ErrorMessage(wrapped) != "no profile x" {
		t.Errorf("wrapped: %q %q", kenner.ErrorCode(wrapped), kenner.ErrorMessage(wrapped))
	}
	plain := errors.New("disk on fire at /var/secret")
	if kenner.ErrorCode(plain) != kenner.EInternal || kenner.ErrorMessage(plain) != "internal error" {
		t.Errorf("internal errors must not leak their text: %q", kenner.ErrorMessage(plain))
	}
	if kenner.ErrorCode(nil) != "" {
		t.Error("nil has a code")
	}
}
