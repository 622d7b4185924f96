package kenner_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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

func TestNetMemberships(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 1, 1, 0, m, 0, 0, time.UTC) }
	in := func(seg, p string, m int) kenner.MembershipEvent {
		return kenner.MembershipEvent{SegmentID: seg, ProfileID: p, Entered: true, At: at(m)}
	}
	out := func(seg, p string, m int) kenner.MembershipEvent {
		return kenner.MembershipEvent{SegmentID: seg, ProfileID: p, At: at(m)}
	}
	gone := func(seg, p string) kenner.MembershipEvent {
		return kenner.MembershipEvent{SegmentID: seg, ProfileID: p}
	}
	tests := []struct {
		name             string
		ms               []kenner.MembershipEvent
		deletes, inserts []kenner.MembershipEvent
	}{
		{"an entry", []kenner.MembershipEvent{in("s", "p", 1)}, nil, []kenner.MembershipEvent{in("s", "p", 1)}},
		{"an exit", []kenner.MembershipEvent{out("s", "p", 1)}, []kenner.MembershipEvent{gone("s", "p")}, nil},
		{"entry then exit", []kenner.MembershipEvent{in("s", "p", 1), out("s", "p", 2)}, []kenner.MembershipEvent{gone("s", "p")}, nil},
		{"exit then entry keeps the entry's time", []kenner.MembershipEvent{out("s", "p", 1), in("s", "p", 2), in("s", "p", 3)},
			[]kenner.MembershipEvent{gone("s", "p")}, []kenner.MembershipEvent{in("s", "p", 2)}},
		{"two memberships in order", []kenner.MembershipEvent{in("s", "p2", 1), in("t", "p1", 2)}, nil,
			[]kenner.MembershipEvent{in("s", "p2", 1), in("t", "p1", 2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deletes, inserts := kenner.NetMemberships(tt.ms)
			if diff := cmp.Diff(tt.deletes, deletes); diff != "" {
				t.Errorf("deletes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.inserts, inserts); diff != "" {
				t.Errorf("inserts (-want +got):\n%s", diff)
			}
		})
	}
}
