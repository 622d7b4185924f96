package inbound

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
)

// costLimit bounds the work of one expression on one payload, so that a mapping cannot make
// a webhook request run away (a list of a million line items mapped twice over).
const costLimit = 1_000_000

func newEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("payload", cel.DynType),
		cel.Variable("headers", cel.MapType(cel.StringType, cel.StringType)),
		cel.CrossTypeNumericComparisons(true),
		ext.Strings(), ext.Math(), ext.Encoders(),
	)
}

// program is a compiled CEL expression.
type program struct {
	src string
	prg cel.Program
}

func compileExpr(env *cel.Env, src string, wantBool bool) (*program, error) {
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, fmt.Errorf("expression %q: %s", src, strings.ReplaceAll(iss.Err().Error(), "\n", " "))
	}
	if wantBool && ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		return nil, fmt.Errorf("condition %q is %s, not a bool", src, ast.OutputType())
	}
	prg, err := env.Program(ast, cel.CostLimit(costLimit))
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", src, err)
	}
	return &program{src: src, prg: prg}, nil
}

// missing reports whether an evaluation error only says that the payload lacks a field, which
// a mapping treats as "no value" (payloads leave out what they do not have).
func missing(err error) bool {
	s := err.Error()
	return strings.Contains(s, "no such key") || strings.Contains(s, "no such attribute") || strings.Contains(s, "index out of range")
}

func (p *program) eval(vars map[string]any) (any, bool, error) {
	out, _, err := p.prg.Eval(vars)
	if err != nil {
		if missing(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("%s: %w", p.src, err)
	}
	v, err := native(out)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", p.src, err)
	}
	return v, v != nil, nil
}

// celValue converts decoded JSON (numbers as json.Number, so that 64-bit ids survive) into
// the values CEL works with.
func celValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = celValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = celValue(e)
		}
		return out
	}
	return v
}

// native converts a CEL result into a JSON value.
func native(v ref.Val) (any, error) {
	switch x := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		return uint64(x), nil
	case types.Double:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("result is %v, which JSON cannot hold", f)
		}
		return f, nil
	case types.String:
		return string(x), nil
	case types.Bytes:
		return string(x), nil
	case types.Timestamp:
		return x.Time.UTC().Format(time.RFC3339Nano), nil
	case types.Duration:
		return x.Duration.String(), nil
	}
	if l, ok := v.(traits.Lister); ok {
		out := []any{}
		for it := l.Iterator(); it.HasNext() == types.True; {
			e, err := native(it.Next())
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}
	if m, ok := v.(traits.Mapper); ok {
		out := map[string]any{}
		for it := m.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			ks, ok := k.(types.String)
			if !ok {
				return nil, fmt.Errorf("map key %v is not a string", k)
			}
			e, err := native(m.Get(k))
			if err != nil {
				return nil, err
			}
			if e != nil {
				out[string(ks)] = e
			}
		}
		return out, nil
	}
	if types.IsError(v) {
		return nil, fmt.Errorf("%v", v)
	}
	return nil, fmt.Errorf("result of type %s cannot be sent", v.Type().TypeName())
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
