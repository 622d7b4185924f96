package segment

import (
	"strings"

	"cel.dev/cel-go/cel"
)

// EventFilter is a CEL condition over one event, e (the Segment message): a computed trait's
// where, a destination's event filter.
type EventFilter struct {
	prog cel.Program
}

// CompileEventFilter type-checks src as a condition over e. costLimit 0 means the default.
func CompileEventFilter(src string, costLimit uint64) (*EventFilter, error) {
	env, err := eventEnv()
	if err != nil {
		return nil, err
	}
	return compileEventFilter(env, src, costLimit)
}

func compileEventFilter(env *cel.Env, src string, costLimit uint64) (*EventFilter, error) {
	if costLimit == 0 {
		costLimit = DefaultCostLimit
	}
	a, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, invalid("%s", strings.TrimSpace(iss.Err().Error()))
	}
	if a.OutputType() != cel.BoolType && a.OutputType() != cel.DynType {
		return nil, invalid("must be a condition (bool), not %s", a.OutputType())
	}
	prog, err := env.Program(a, cel.CostLimit(costLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, invalid("%v", err)
	}
	return &EventFilter{prog: prog}, nil
}

// Match reports whether the event doc passes. An event that lacks a field the condition reads
// does not pass.
func (f *EventFilter) Match(doc map[string]any) bool {
	out, _, err := f.prog.Eval(map[string]any{"e": doc})
	if err != nil {
		return false
	}
	ok, _ := out.Value().(bool)
	return ok
}
