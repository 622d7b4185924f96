package predict

import (
	"slices"
	"strings"
)

// Leaves calls visit with every leaf of a decoded JSON value (scores, parameters, a model card)
// under its dotted name, maps walked in key order; lists and scalars are leaves. The console,
// the CLI and the classifier's features all read scores this way.
func Leaves(prefix string, v any, visit func(name string, leaf any)) {
	m, ok := v.(map[string]any)
	if !ok {
		visit(prefix, v)
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		Leaves(strings.TrimPrefix(prefix+"."+k, "."), m[k], visit)
	}
}
