package compiled

import "testing"

type def struct{ N int }

func TestCacheCompilesOnlyChanges(t *testing.T) {
	calls := 0
	c := New(func(d def) (int, error) { calls++; return d.N * 10, nil })
	a := &def{N: 1}
	tests := []struct {
		name      string
		def       *def
		want      int
		wantCalls int
	}{
		{"first", a, 10, 1},
		{"same pointer", a, 10, 1},
		{"same definition read again", &def{N: 1}, 10, 1},
		{"changed", &def{N: 2}, 20, 2},
	}
	for _, tc := range tests {
		got, err := c.Get("src", tc.def)
		if err != nil || got != tc.want || calls != tc.wantCalls {
			t.Errorf("%s: Get = %d, %v with %d compiles; want %d with %d", tc.name, got, err, calls, tc.want, tc.wantCalls)
		}
	}
}
