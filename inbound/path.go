package inbound

import (
	"fmt"
	"strconv"
	"strings"
)

// jsonPath is a compiled JSONPath-like expression: $, .name, ['name'], [index] (negative counts
// from the end) and [*] (every element; the result is then a list).
type jsonPath []step

type step struct {
	key   string
	index int
	kind  byte // 'k' key, 'i' index, '*' every element
}

func parsePath(s string) (jsonPath, error) {
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("path %q must start with $", s)
	}
	var p jsonPath
	rest := s[1:]
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return nil, fmt.Errorf("path %q has an empty name", s)
			}
			if rest[:end] == "*" {
				p = append(p, step{kind: '*'})
			} else {
				p = append(p, step{kind: 'k', key: rest[:end]})
			}
			rest = rest[end:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("path %q has an unclosed [", s)
			}
			in := strings.TrimSpace(rest[1:end])
			rest = rest[end+1:]
			switch {
			case in == "*":
				p = append(p, step{kind: '*'})
			case len(in) >= 2 && (in[0] == '\'' || in[0] == '"') && in[len(in)-1] == in[0]:
				p = append(p, step{kind: 'k', key: in[1 : len(in)-1]})
			default:
				n, err := strconv.Atoi(in)
				if err != nil {
					return nil, fmt.Errorf("path %q: [%s] is neither an index, * nor a quoted name", s, in)
				}
				p = append(p, step{kind: 'i', index: n})
			}
		default:
			return nil, fmt.Errorf("path %q: unexpected %q after %q", s, rest[0], s[:len(s)-len(rest)])
		}
	}
	return p, nil
}

// eval returns what the path selects in v (decoded JSON), and whether it selects anything.
func (p jsonPath) eval(v any) (any, bool) {
	for i, st := range p {
		switch st.kind {
		case 'k':
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[st.key]; !ok {
				return nil, false
			}
		case 'i':
			l, ok := v.([]any)
			if !ok {
				return nil, false
			}
			n := st.index
			if n < 0 {
				n += len(l)
			}
			if n < 0 || n >= len(l) {
				return nil, false
			}
			v = l[n]
		case '*':
			var elems []any
			switch c := v.(type) {
			case []any:
				elems = c
			case map[string]any:
				for _, k := range sortedKeys(c) {
					elems = append(elems, c[k])
				}
			default:
				return nil, false
			}
			out := []any{}
			for _, e := range elems {
				if x, ok := p[i+1:].eval(e); ok {
					out = append(out, x)
				}
			}
			return out, true
		}
	}
	return v, true
}
