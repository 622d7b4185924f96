package ingest

import (
	"github.com/kenner-cdp/kenner/jsonobj"
	"github.com/kenner-cdp/kenner/standardize"
)

// standardized brings a message's traits (top level and context.traits) and properties to
// their standard forms. What it changed is kept as sent under context.original, at the same
// paths, so that provenance can show it and nothing the source sent is lost.
func standardized(m jsonobj.Object, rules *standardize.Rules) (jsonobj.Object, []standardize.Problem) {
	if rules == nil {
		return m, nil
	}
	var original jsonobj.Object
	var problems []standardize.Problem
	if raw := m.Get("traits"); jsonobj.IsObject(raw) {
		v, res := rules.Traits(raw, "traits")
		problems = append(problems, res.Problems...)
		if res.Original != nil {
			m = m.Set("traits", v)
			original = original.Set("traits", res.Original)
		}
	}
	if raw := m.Get("properties"); jsonobj.IsObject(raw) {
		v, res := rules.Properties(raw, "properties")
		problems = append(problems, res.Problems...)
		if res.Original != nil {
			m = m.Set("properties", v)
			original = original.Set("properties", res.Original)
		}
	}
	rawCtx := m.Get("context")
	ctx, err := jsonobj.Parse(rawCtx)
	if err != nil {
		return m, problems
	}
	if raw := ctx.Get("traits"); jsonobj.IsObject(raw) {
		v, res := rules.Traits(raw, "context.traits")
		problems = append(problems, res.Problems...)
		if res.Original != nil {
			ctx = ctx.Set("traits", v)
			original = original.Set("context", jsonobj.Object{}.Set("traits", res.Original).Encode())
		}
	}
	if original == nil {
		return m, problems
	}
	// A message replayed through ingestion (a quarantined event released) already carries
	// the originals of its first pass; those are the ones the source sent.
	if !ctx.Has("original") {
		ctx = ctx.Set("original", original.Encode())
	}
	return m.Set("context", ctx.Encode()), problems
}
