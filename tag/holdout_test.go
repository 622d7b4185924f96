package tag

import (
	"fmt"
	"testing"

	"github.com/kenner-cdp/kenner"
)

// TestHoldoutShare: the control group is about the configured share of people, the same
// person always lands on the same side, and two slots draw their groups independently.
func TestHoldoutShare(t *testing.T) {
	a := kenner.Slot{ID: "slot_a", Holdout: 0.1}
	b := kenner.Slot{ID: "slot_b", Holdout: 0.1}
	const n = 20000
	inA, both := 0, 0
	for i := range n {
		id := fmt.Sprintf("prf_%d", i)
		if inHoldout(a, id) != inHoldout(a, id) {
			t.Fatal("not stable")
		}
		if inHoldout(a, id) {
			inA++
			if inHoldout(b, id) {
				both++
			}
		}
	}
	if share := float64(inA) / n; share < 0.09 || share > 0.11 {
		t.Errorf("holdout share %.3f, want about 0.1", share)
	}
	if share := float64(both) / float64(inA); share < 0.07 || share > 0.13 {
		t.Errorf("of slot a's control group, %.3f is in slot b's: the groups are not independent", share)
	}
	if inHoldout(kenner.Slot{ID: "x"}, "prf_1") {
		t.Error("no holdout, yet in the control group")
	}
}
