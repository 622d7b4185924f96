package segment

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTraitValue(t *testing.T) {
	for _, raw := range []string{`"pro"`, `"caf\u00e9 \"x\""`, `""`, `41`, `-2.5e3`, `0`, `true`, `false`, `null`,
		`{"a":[1,"b"]}`, `[1,2]`, `"ünï"`} {
		var want any
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatal(err)
		}
		got, ok := traitValue(json.RawMessage(raw))
		if !ok || !cmp.Equal(want, got) {
			t.Errorf("traitValue(%s) = %#v, %v; want %#v", raw, got, ok, want)
		}
	}
	if _, ok := traitValue(json.RawMessage(`{"a":`)); ok {
		t.Error("traitValue of broken JSON is ok")
	}
}
