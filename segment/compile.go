package segment

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/parser"
	exprpb "google.golang.org/genproto/googleapis/api/expr/v1alpha1"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/profile"
)

// Internal variables the event and segment macros expand to. They start with "__" so that no
// user-written condition can name them (CEL identifiers may not start with a digit, and the
// parser reserves nothing else we could use).
const (
	varAggs     = "__aggs"     // map(string, int): the counters behind events.count/exists
	varSegments = "__segments" // list(string): the segments the profile is in
	varNone     = "__none"     // list(map(string, dyn)), always empty: type-checks predicates in place
)

type compiler struct {
	opts Options
	e    *Engine
	// names of the computed traits, for checking references
	traitNames map[string]bool
	// the segment being compiled, for the macros
	cur *segmentScope
	all []kenner.Segment
	// rule: compiling a Rule against a finished engine, which may read only the event
	// counters the engine already keeps.
	rule bool
}

type segmentScope struct {
	aggs     map[string]bool
	segments map[string]bool
}

func invalid(format string, args ...any) error {
	return kenner.Errorf(kenner.EInvalid, format, args...)
}

func eventEnv() (*cel.Env, error) {
	return cel.NewEnv(cel.Variable("e", cel.MapType(cel.StringType, cel.DynType)), cel.CrossTypeNumericComparisons(true))
}

func profileVars() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Variable("traits", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("computed", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("identities", cel.MapType(cel.StringType, cel.ListType(cel.StringType))),
		cel.Variable("consent", cel.MapType(cel.StringType, cel.BoolType)),
		// The accounts (B2B) the person belongs to, by group id, with each group's traits:
		// "acme-bv" in groups, groups["acme-bv"].plan == "enterprise".
		cel.Variable("groups", cel.MapType(cel.StringType, cel.MapType(cel.StringType, cel.DynType))),
		// The scores of the workspace's prediction models, by model name:
		// predictions.clv.p_alive < 0.3, predictions.churn > 0.7.
		cel.Variable("predictions", cel.MapType(cel.StringType, cel.DynType)),
		cel.CrossTypeNumericComparisons(true),
	}
}

func (c *compiler) program(env *cel.Env, a *cel.Ast) (cel.Program, error) {
	return env.Program(a, cel.CostLimit(c.opts.CostLimit), cel.EvalOptions(cel.OptOptimize))
}

func (c *compiler) traits(defs []kenner.ComputedTrait) error {
	c.traitNames = map[string]bool{}
	for _, d := range defs {
		c.traitNames[d.Name] = true
	}
	evEnv, err := eventEnv()
	if err != nil {
		return err
	}
	exprEnv, err := cel.NewEnv(profileVars()...)
	if err != nil {
		return err
	}
	var exprs []*trait
	for _, d := range defs {
		if err := ValidName(d.Name); err != nil {
			return invalid("computed trait %q: %v", d.Name, err)
		}
		t := &trait{def: d}
		switch d.Func {
		case kenner.FuncExpression:
			if strings.TrimSpace(d.Expression) == "" {
				return invalid("computed trait %q: func expression needs an expression", d.Name)
			}
			a, iss := exprEnv.Compile(d.Expression)
			if iss.Err() != nil {
				return invalid("computed trait %q: expression: %v", d.Name, iss.Err())
			}
			if t.expr, err = c.program(exprEnv, a); err != nil {
				return invalid("computed trait %q: %v", d.Name, err)
			}
			t.deps = collect(a.NativeRep().Expr())
			if t.deps.predictions {
				return invalid("computed trait %q: an expression cannot read predictions (models read computed traits)", d.Name)
			}
			if t.deps.computed[d.Name] {
				return invalid("computed trait %q: its expression names itself", d.Name)
			}
			exprs = append(exprs, t)
			continue
		case kenner.FuncCount:
		case kenner.FuncSum, kenner.FuncAverage, kenner.FuncMin, kenner.FuncMax, kenner.FuncFirst, kenner.FuncLast,
			kenner.FuncMostFrequent, kenner.FuncUnique:
			if d.Property == "" {
				return invalid("computed trait %q: func %s needs a property (e.g. properties.total)", d.Name, d.Func)
			}
		default:
			return invalid("computed trait %q: unknown func %q (want count, sum, avg, min, max, first, last, most_frequent, unique or expression)", d.Name, d.Func)
		}
		if d.Event == "" {
			return invalid("computed trait %q: event is required (an event name, $page, $screen, $identify, $group or *)", d.Name)
		}
		if d.Window < 0 {
			return invalid("computed trait %q: window must not be negative", d.Name)
		}
		a := &aggregate{spec: profile.Spec{Func: d.Func, Window: time.Duration(d.Window)}, event: d.Event}
		if d.Property != "" {
			a.property = strings.Split(d.Property, ".")
		}
		if strings.TrimSpace(d.Where) != "" {
			f, err := compileEventFilter(evEnv, d.Where, c.opts.CostLimit)
			if err != nil {
				return invalid("computed trait %q: where: %v", d.Name, err)
			}
			a.whereVar, a.where = "e", f.prog
		}
		a.key = aggregateKey("t", d.Func, d.Event, strings.TrimSpace(d.Where), d.Property, time.Duration(d.Window).String())
		t.agg = c.add(a)
		c.e.traits = append(c.e.traits, t)
	}
	// Expressions after the aggregates, each after the expressions it reads.
	order, err := topo(exprs, func(t *trait) string { return t.def.Name }, func(t *trait) []string { return keys(t.deps.computed) })
	if err != nil {
		return invalid("computed traits: %v", err)
	}
	c.e.traits = append(c.e.traits, order...)
	return nil
}

// add registers an aggregate, sharing one that has the same definition.
func (c *compiler) add(a *aggregate) *aggregate {
	if have, ok := c.e.aggs[a.key]; ok {
		return have
	}
	c.e.aggs[a.key] = a
	c.e.byEvent[a.event] = append(c.e.byEvent[a.event], a)
	return a
}

func (c *compiler) segments(defs []kenner.Segment) error {
	c.all = defs
	var out []*compiled
	for _, s := range defs {
		p, d, err := c.condition(s.Condition)
		if err != nil {
			return invalid("segment %q: %v", s.Name, err)
		}
		for name := range d.computed {
			if !c.traitNames[name] {
				return invalid("segment %q: condition reads computed.%s, and there is no computed trait %q", s.Name, name, name)
			}
		}
		out = append(out, &compiled{seg: s, prog: p, deps: d})
	}
	order, err := topo(out, func(c *compiled) string { return c.seg.ID }, func(c *compiled) []string { return keys(c.deps.segments) })
	if err != nil {
		msg := err.Error()
		for _, s := range defs {
			msg = strings.ReplaceAll(msg, s.ID, strconv.Quote(s.Name))
		}
		return invalid("segments name each other in a %s", strings.TrimPrefix(msg, "cycle: ")+" cycle")
	}
	c.e.segments = order
	for _, s := range order {
		c.e.byID[s.seg.ID] = s
		for dep := range s.deps.segments {
			c.e.dependents[dep] = append(c.e.dependents[dep], s.seg.ID)
		}
	}
	return nil
}

// condition compiles one segment condition.
func (c *compiler) condition(src string) (cel.Program, deps, error) {
	if strings.TrimSpace(src) == "" {
		return nil, deps{}, fmt.Errorf("condition is empty")
	}
	c.cur = &segmentScope{aggs: map[string]bool{}, segments: map[string]bool{}}
	var macros []cel.Macro
	for _, m := range parser.AllMacros {
		if m.Function() != "exists" || m.ArgCount() != 2 {
			macros = append(macros, m)
		}
	}
	macros = append(macros,
		parser.NewReceiverVarArgMacro("exists", c.eventsMacro(true)),
		parser.NewReceiverVarArgMacro("count", c.eventsMacro(false)),
		parser.NewGlobalMacro("segment", 1, c.segmentMacro))
	opts := append(profileVars(),
		cel.ClearMacros(), cel.Macros(macros...),
		cel.Variable(varAggs, cel.MapType(cel.StringType, cel.IntType)),
		cel.Variable(varSegments, cel.ListType(cel.StringType)),
		cel.Variable(varNone, cel.ListType(cel.MapType(cel.StringType, cel.DynType))))
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, deps{}, err
	}
	a, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, deps{}, iss.Err()
	}
	if a.OutputType() != cel.BoolType {
		return nil, deps{}, fmt.Errorf("condition must be true or false, not %s", a.OutputType())
	}
	p, err := c.program(env, a)
	if err != nil {
		return nil, deps{}, err
	}
	d := collect(a.NativeRep().Expr())
	d.aggs, d.segments = c.cur.aggs, c.cur.segments
	return p, d, nil
}

// eventsMacro expands events.count(NAME[, WINDOW[, e, PREDICATE]]) (and events.exists) into a
// counter kept on every profile: __aggs["<key>"]. The predicate is type-checked in place over
// an always-empty list, and compiled on its own to filter events as they are folded.
func (c *compiler) eventsMacro(exists bool) parser.MacroExpander {
	return func(eh parser.ExprHelper, target ast.Expr, args []ast.Expr) (ast.Expr, *common.Error) {
		if target == nil || target.Kind() != ast.IdentKind || target.AsIdent() != "events" {
			if exists && len(args) == 2 {
				return parser.MakeExists(eh, target, args)
			}
			return nil, nil
		}
		fn := "events.count"
		if exists {
			fn = "events.exists"
		}
		if len(args) != 1 && len(args) != 2 && len(args) != 4 {
			return nil, eh.NewError(target.ID(), fn+`(name[, window[, e, condition]]) takes 1, 2 or 4 arguments`)
		}
		name, ok := stringLiteral(args[0])
		if !ok || name == "" {
			return nil, eh.NewError(args[0].ID(), fn+`: the event name must be a string literal like "Order Completed"`)
		}
		var window time.Duration
		if len(args) >= 2 {
			w := args[1]
			lit, ok := "", false
			if w.Kind() == ast.CallKind && w.AsCall().FunctionName() == "duration" && len(w.AsCall().Args()) == 1 {
				lit, ok = stringLiteral(w.AsCall().Args()[0])
			}
			if !ok {
				return nil, eh.NewError(w.ID(), fn+`: the window must be a literal duration like duration("720h")`)
			}
			d, err := kenner.ParseDuration(lit)
			if err != nil || d <= 0 {
				return nil, eh.NewError(w.ID(), fn+`: the window must be a positive duration like duration("720h") or duration("30d")`)
			}
			window = d
		}
		a := &aggregate{spec: profile.Spec{Func: kenner.FuncCount, Window: window}, event: name}
		whereText := ""
		var check ast.Expr
		if len(args) == 4 {
			if args[2].Kind() != ast.IdentKind {
				return nil, eh.NewError(args[2].ID(), fn+`: the third argument names the event variable, like e`)
			}
			pred := args[3]
			prog, text, err := c.predicate(args[2].AsIdent(), pred)
			if err != nil {
				return nil, eh.NewError(pred.ID(), fn+": condition: "+err.Error())
			}
			a.where, whereText, a.whereVar = prog, text, args[2].AsIdent()
			// __none.filter(e, PRED): empty at run time, but makes the checker check PRED with e
			// typed as an event, and report its errors where the user wrote them.
			filter, cerr := parser.MakeFilter(eh, eh.NewIdent(varNone), []ast.Expr{args[2], eh.Copy(pred)})
			if cerr != nil {
				return nil, cerr
			}
			check = eh.NewCall("size", filter)
		}
		a.key = aggregateKey("c", name, window.String(), whereText)
		if c.rule {
			if _, kept := c.e.aggs[a.key]; !kept {
				return nil, eh.NewError(target.ID(), fn+`: no segment keeps this count; define a segment with it and use segment("...") here`)
			}
		} else {
			c.add(a)
		}
		c.cur.aggs[a.key] = true
		var out ast.Expr = eh.NewCall("_[_]", eh.NewIdent(varAggs), eh.NewLiteral(types.String(a.key)))
		if check != nil {
			out = eh.NewCall("_+_", out, check)
		}
		if exists {
			out = eh.NewCall("_>_", out, eh.NewLiteral(types.Int(0)))
		}
		return out, nil
	}
}

// predicate compiles an events macro's condition on its own, over the event variable named v.
func (c *compiler) predicate(v string, pred ast.Expr) (cel.Program, string, error) {
	env, err := cel.NewEnv(cel.Variable(v, cel.MapType(cel.StringType, cel.DynType)), cel.CrossTypeNumericComparisons(true))
	if err != nil {
		return nil, "", err
	}
	pe, err := ast.ExprToProto(pred)
	if err != nil {
		return nil, "", err
	}
	parsed := cel.ParsedExprToAst(&exprpb.ParsedExpr{Expr: pe})
	checked, iss := env.Check(parsed)
	if iss.Err() != nil {
		return nil, "", fmt.Errorf("%s", firstLine(iss.Err().Error()))
	}
	if t := checked.OutputType(); t != cel.BoolType && t != cel.DynType {
		return nil, "", fmt.Errorf("must be true or false, not %s", t)
	}
	text, err := cel.AstToString(parsed)
	if err != nil {
		text = pe.String()
	}
	if v != "e" { // the same condition written with another variable name is the same counter
		text = v + ":" + text
	}
	prog, err := c.program(env, checked)
	return prog, text, err
}

// segmentMacro expands segment("name or id") into membership of that segment.
func (c *compiler) segmentMacro(eh parser.ExprHelper, _ ast.Expr, args []ast.Expr) (ast.Expr, *common.Error) {
	ref, ok := stringLiteral(args[0])
	if !ok {
		return nil, eh.NewError(args[0].ID(), `segment(...) takes a segment's name or id as a string literal`)
	}
	id := ""
	for _, s := range c.all {
		if s.ID == ref {
			id = s.ID
		}
	}
	for _, s := range c.all {
		if id == "" && s.Name == ref {
			id = s.ID
		}
	}
	if id == "" {
		return nil, eh.NewError(args[0].ID(), fmt.Sprintf("segment(%q): there is no segment with that name or id", ref))
	}
	c.cur.segments[id] = true
	return eh.NewCall("@in", eh.NewLiteral(types.String(id)), eh.NewIdent(varSegments)), nil
}

func stringLiteral(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}

func firstLine(s string) string {
	s = strings.TrimPrefix(s, "ERROR: <input>:")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// collect walks a checked expression for what it reads.
func collect(e ast.Expr) deps {
	d := deps{traits: map[string]bool{}, computed: map[string]bool{}}
	var walk func(ast.Expr)
	field := func(operand ast.Expr, name string) bool {
		if operand.Kind() != ast.IdentKind {
			return false
		}
		switch operand.AsIdent() {
		case "traits":
			d.traits[name] = true
		case "computed":
			d.computed[name] = true
		default:
			return false
		}
		return true
	}
	walk = func(e ast.Expr) {
		switch e.Kind() {
		case ast.IdentKind:
			switch e.AsIdent() {
			case "traits":
				d.allTraits = true
			case "computed":
				d.allComputed = true
			case "identities":
				d.identities = true
			case "consent":
				d.consent = true
			case "groups":
				d.groups = true
			case "predictions":
				d.predictions = true
			}
		case ast.SelectKind:
			s := e.AsSelect()
			if !field(s.Operand(), s.FieldName()) {
				walk(s.Operand())
			}
		case ast.CallKind:
			call := e.AsCall()
			if call.FunctionName() == "_[_]" && len(call.Args()) == 2 {
				if k, ok := stringLiteral(call.Args()[1]); ok && field(call.Args()[0], k) {
					return
				}
			}
			if call.IsMemberFunction() {
				walk(call.Target())
			}
			for _, a := range call.Args() {
				walk(a)
			}
		case ast.ListKind:
			for _, x := range e.AsList().Elements() {
				walk(x)
			}
		case ast.MapKind:
			for _, en := range e.AsMap().Entries() {
				walk(en.AsMapEntry().Key())
				walk(en.AsMapEntry().Value())
			}
		case ast.ComprehensionKind:
			cp := e.AsComprehension()
			walk(cp.IterRange())
			walk(cp.AccuInit())
			walk(cp.LoopCondition())
			walk(cp.LoopStep())
			walk(cp.Result())
		}
	}
	walk(e)
	return d
}

// topo orders items so that each comes after those it depends on (dependencies outside items
// are ignored); a cycle is an error naming it.
func topo[T any](items []T, id func(T) string, on func(T) []string) ([]T, error) {
	byID := map[string]T{}
	for _, it := range items {
		byID[id(it)] = it
	}
	state := map[string]int{} // 1 visiting, 2 done
	var out []T
	var visit func(string, []string) error
	visit = func(n string, path []string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("cycle: %s", strings.Join(append(path, n), " -> "))
		case 2:
			return nil
		}
		state[n] = 1
		deps := on(byID[n])
		slices.Sort(deps)
		for _, d := range deps {
			if _, ok := byID[d]; ok {
				if err := visit(d, append(path, n)); err != nil {
					return err
				}
			}
		}
		state[n] = 2
		out = append(out, byID[n])
		return nil
	}
	for _, it := range items {
		if err := visit(id(it), nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// ValidName checks a computed trait's name: it is read as computed.NAME in conditions.
func ValidName(name string) error {
	if name == "" {
		return fmt.Errorf("name is required")
	}
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return fmt.Errorf("name must be letters, digits and _ (not starting with a digit), like orders_30d")
		}
	}
	return nil
}
