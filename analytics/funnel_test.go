package analytics

import (
	"testing"
	"time"
)

// genFunnel makes 1,000 people with known progress: everyone views (step 0); the even ones add
// to the cart 10 minutes later (step 1); of those, one in four buys 20 minutes after that
// (step 2), another one in four buys 3 days later (outside a one-day window). One person in
// three has another event between the view and the cart.
func genFunnel() [][]StepHit {
	var people [][]StepHit
	for i := range 1000 {
		t0 := day0.Add(time.Duration(i) * time.Minute)
		group := "odd"
		if i%2 == 0 {
			group = "even"
		}
		hits := []StepHit{{At: t0, Steps: 1, Breakdown: group}}
		if i%3 == 0 {
			hits = append(hits, StepHit{At: t0.Add(5 * time.Minute)})
		}
		if i%2 == 0 {
			hits = append(hits, StepHit{At: t0.Add(10 * time.Minute), Steps: 2})
			switch i % 8 {
			case 0:
				hits = append(hits, StepHit{At: t0.Add(30 * time.Minute), Steps: 4})
			case 4:
				hits = append(hits, StepHit{At: t0.Add(72 * time.Hour), Steps: 4})
			}
		}
		people = append(people, hits)
	}
	return people
}

func TestFunnelOrdered(t *testing.T) {
	f, err := NewFunnel(3, 24*time.Hour, Ordered)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range genFunnel() {
		f.Add(p)
	}
	res := f.Result()
	all := res[0]
	if all.Breakdown != "$all" || len(res) != 3 {
		t.Fatalf("results %+v", res)
	}
	want := []int{1000, 500, 125}
	for i, w := range want {
		if all.Steps[i].People != w {
			t.Errorf("step %d: %d people, want %d", i, all.Steps[i].People, w)
		}
	}
	if all.Steps[1].FromPrevious != 0.5 || all.Steps[2].FromPrevious != 0.25 || all.Steps[2].FromStart != 0.125 || all.Steps[2].DroppedOff != 375 {
		t.Errorf("conversion %+v", all.Steps)
	}
	if all.Steps[1].MedianFromPrev != 600 || all.Steps[2].MedianFromPrev != 1200 || all.MedianToConvert != 1800 || all.Converted != 125 {
		t.Errorf("times %+v, median to convert %v", all.Steps, all.MedianToConvert)
	}
	// Broken down by the first step's value: the odd ones never get past the view.
	for _, r := range res[1:] {
		switch r.Breakdown {
		case "even":
			if r.Steps[0].People != 500 || r.Steps[1].People != 500 || r.Converted != 125 {
				t.Errorf("even %+v", r)
			}
		case "odd":
			if r.Steps[0].People != 500 || r.Steps[1].People != 0 {
				t.Errorf("odd %+v", r)
			}
		default:
			t.Errorf("breakdown %q", r.Breakdown)
		}
	}
}

func TestFunnelStrict(t *testing.T) {
	f, _ := NewFunnel(3, 24*time.Hour, Strict)
	for _, p := range genFunnel() {
		f.Add(p)
	}
	all := f.Result()[0]
	// Those with an event between view and cart (i divisible by 3) stop at the view:
	// even and not divisible by 3: 500 - 167 = 333; of the buyers (i divisible by 8), those
	// divisible by 24 (42) drop: 83.
	want := []int{1000, 333, 83}
	for i, w := range want {
		if all.Steps[i].People != w {
			t.Errorf("step %d: %d people, want %d", i, all.Steps[i].People, w)
		}
	}
}

func TestFunnelAnyOrder(t *testing.T) {
	f, _ := NewFunnel(3, time.Hour, AnyOrder)
	h := func(min int, steps uint32) StepHit {
		return StepHit{At: day0.Add(time.Duration(min) * time.Minute), Steps: steps}
	}
	f.Add([]StepHit{h(0, 4), h(10, 2), h(20, 1)})        // backwards: all three
	f.Add([]StepHit{h(0, 2), h(90, 1), h(100, 4)})       // cart, then view and buy an hour later: two within the window
	f.Add([]StepHit{h(0, 1|2)})                          // one event satisfying two steps counts once
	f.Add([]StepHit{h(0, 1), h(1, 1), h(2, 1), h(3, 4)}) // the view thrice, then a buy: two
	all := f.Result()[0]
	want := []int{4, 3, 1}
	for i, w := range want {
		if all.Steps[i].People != w {
			t.Errorf("step %d: %d people, want %d (%+v)", i, all.Steps[i].People, w, all.Steps)
		}
	}
	// The ordered funnel of the same people: only the first view starts it.
	o, _ := NewFunnel(3, time.Hour, Ordered)
	o.Add([]StepHit{h(0, 4), h(10, 2), h(20, 1)})
	if r := o.Result()[0]; r.Steps[0].People != 1 || r.Steps[1].People != 0 {
		t.Errorf("ordered: %+v", r.Steps)
	}
}

func TestFunnelDefinition(t *testing.T) {
	for _, tc := range []struct {
		steps  int
		window time.Duration
		order  string
	}{{1, time.Hour, ""}, {21, time.Hour, ""}, {3, 0, ""}, {3, time.Hour, "sideways"}} {
		if _, err := NewFunnel(tc.steps, tc.window, tc.order); err == nil {
			t.Errorf("NewFunnel(%d, %v, %q) accepted", tc.steps, tc.window, tc.order)
		}
	}
}
