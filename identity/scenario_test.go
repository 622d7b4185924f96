package identity

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kenner-cdp/kenner/internal/script"
)

// render prints every profile of a working set with its identifiers, by creation order.
func render(w *WorkingSet) string {
	profiles := w.Profiles()
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return int(profiles[a].Rank - profiles[b].Rank) })
	var b strings.Builder
	for _, n := range names {
		var ids []string
		for _, id := range profiles[n].Identifiers {
			ids = append(ids, id.String())
		}
		slices.Sort(ids)
		fmt.Fprintf(&b, "%s: %s\n", n, strings.Join(ids, " "))
	}
	return b.String()
}

func renderDecision(d Decision, target string) string {
	var b strings.Builder
	b.WriteString(string(d.Action))
	if target != "" {
		b.WriteString(" " + target)
	}
	for _, m := range d.Merged {
		fmt.Fprintf(&b, " <- %s (via %s)", m.From, m.Via)
	}
	for _, id := range d.Added {
		b.WriteString(" +" + id.String())
	}
	b.WriteString("\n")
	for _, dr := range d.Dropped {
		fmt.Fprintf(&b, "drop %s: %s\n", dr.Identifier, dr.Reason)
	}
	return b.String()
}

// TestScenarios runs the scenario files in testdata. Commands:
//
//	rules default | limit KIND=N | priority K1,K2,... | block KIND=VALUE | region CC
//	event KIND=VALUE ...   resolve an event with these raw identifiers; prints the decision
//	profiles               prints every profile with its identifiers
func TestScenarios(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if len(files) == 0 {
		t.Fatal("no scenarios in testdata")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			rules, norm := DefaultRules(), Normalizer{}
			var w *WorkingSet
			events := 0
			// The working set starts empty at the first event, after the rule commands.
			ws := func() *WorkingSet {
				if w == nil {
					made := 0
					w = NewWorkingSet(rules, View{}, func(int64) string { made++; return "p" + strconv.Itoa(made) })
				}
				return w
			}
			for _, b := range script.Read(t, file) {
				verb, rest, _ := strings.Cut(b.Command, " ")
				var got string
				switch verb {
				case "rules":
					rules = DefaultRules()
				case "limit", "block":
					k, v, _ := strings.Cut(rest, "=")
					if verb == "limit" {
						n, _ := strconv.Atoi(v)
						rules.Limits[k] = n
					} else {
						rules.Blocked[k] = append(rules.Blocked[k], v)
					}
				case "priority":
					rules.Priority = strings.Split(rest, ",")
				case "region":
					norm.DefaultRegion = rest
				case "event":
					var raw []Identifier
					for _, f := range strings.Fields(rest) {
						k, v, _ := strings.Cut(f, "=")
						// Values are URL-escaped, so that a scenario can show spaces (%20).
						value, err := url.PathUnescape(v)
						if err != nil {
							t.Fatalf("%s:%d: %v", file, b.Line, err)
						}
						raw = append(raw, Identifier{Kind: k, Value: value})
					}
					ids, drops := Prepare(rules, norm, raw)
					events++
					// The event's number stands for its log position; profiles are named p1, p2, ...
					// in creation order.
					target, d := ws().Resolve(fmt.Sprintf("e%d", events), int64(events), ids, drops)
					got = renderDecision(d, target)
				case "profiles":
					got = render(ws())
				default:
					t.Fatalf("%s:%d: unknown command %q", file, b.Line, verb)
				}
				if got != b.Expected {
					t.Errorf("%s:%d: %s\ngot:\n%swant:\n%s", file, b.Line, b.Command, got, b.Expected)
				}
			}
		})
	}
}
