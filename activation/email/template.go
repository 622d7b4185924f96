package email

import (
	"bytes"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"io"
	"strings"
	texttemplate "text/template"
	"text/template/parse"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
)

// templates are a destination's compiled subject, recipient and bodies.
type templates struct {
	subject, to, text *texttemplate.Template
	html              *htmltemplate.Template
}

// funcs are available in every template: default gives a fallback for a missing or empty
// value ({{default "there" .profile.traits.first_name}}), json writes a value as JSON.
var funcs = map[string]any{
	"default": func(def any, v any) any {
		if v == nil || v == "" {
			return def
		}
		return v
	},
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

func compile(c Config) (*templates, error) {
	t := &templates{}
	var err error
	parse := func(field, src string) *texttemplate.Template {
		if err != nil || src == "" {
			return nil
		}
		var tpl *texttemplate.Template
		tpl, err = texttemplate.New(field).Funcs(funcs).Parse(src)
		if err != nil {
			err = activation.Invalid("config.%s: %v", field, err)
		} else if d := rangeDepth(tpl.Tree.Root); d > maxRangeDepth {
			err = activation.Invalid("config.%s: %d loops (range) inside each other; at most %d", field, d, maxRangeDepth)
		}
		return tpl
	}
	t.subject = parse("subject", c.Subject)
	t.to = parse("to", c.To)
	t.text = parse("text", c.Text)
	if err != nil {
		return nil, err
	}
	if c.HTML != "" {
		if t.html, err = htmltemplate.New("html").Funcs(funcs).Parse(c.HTML); err != nil {
			return nil, activation.Invalid("config.html: %v", err)
		}
		if d := rangeDepth(t.html.Tree.Root); d > maxRangeDepth {
			return nil, activation.Invalid("config.html: %d loops (range) inside each other; at most %d", d, maxRangeDepth)
		}
	}
	return t, nil
}

// Bounds of one rendering. A template is the admin's, but its data is the public's (an
// event's properties): loops inside loops over a large array multiply, so their nesting is
// limited when the config is saved, and output and time when it runs.
const (
	maxRangeDepth = 2
	maxRender     = 512 << 10
	renderTimeout = 2 * time.Second
)

// rangeDepth is the deepest nesting of range (and template calls, which could recurse).
func rangeDepth(n parse.Node) int {
	deepest := 0
	walk := func(ns ...parse.Node) {
		for _, c := range ns {
			if c != nil && !isNil(c) {
				deepest = max(deepest, rangeDepth(c))
			}
		}
	}
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			walk(n.Nodes...)
		}
	case *parse.RangeNode:
		var ns []parse.Node
		if n.List != nil {
			ns = append(ns, n.List)
		}
		if n.ElseList != nil {
			ns = append(ns, n.ElseList)
		}
		walk(ns...)
		return deepest + 1
	case *parse.IfNode:
		walkBranch(&deepest, n.List, n.ElseList)
	case *parse.WithNode:
		walkBranch(&deepest, n.List, n.ElseList)
	case *parse.TemplateNode:
		return maxRangeDepth + 1 // {{template}} can recurse: not offered
	}
	return deepest
}

func walkBranch(deepest *int, lists ...*parse.ListNode) {
	for _, l := range lists {
		if l != nil {
			*deepest = max(*deepest, rangeDepth(l))
		}
	}
}

func isNil(n parse.Node) bool {
	l, ok := n.(*parse.ListNode)
	return ok && l == nil
}

// errTooLarge stops a rendering whose output passed maxRender.
var errTooLarge = fmt.Errorf("renders to more than %d KB", maxRender>>10)

// capped is a buffer that refuses to grow past maxRender, which stops the template.
type capped struct{ bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if c.Len()+len(p) > maxRender {
		return 0, errTooLarge
	}
	return c.Buffer.Write(p)
}

// executor is a text or an HTML template.
type executor interface {
	Execute(w io.Writer, data any) error
}

// render fills one template. A field the payload lacks renders as nothing rather than
// Go's "<no value>".
func render(tpl executor, data any) (string, error) {
	type result struct {
		s   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		var b capped
		if err := tpl.Execute(&b, data); err != nil {
			done <- result{err: err}
			return
		}
		done <- result{s: strings.ReplaceAll(b.String(), "<no value>", "")}
	}()
	timer := time.NewTimer(renderTimeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.s, r.err
	case <-timer.C:
		// The rendering goroutine finishes on its own: its loops are bounded by the nesting
		// limit and the payload's size, and its output by maxRender.
		return "", fmt.Errorf("took longer than %s to render", renderTimeout)
	}
}

// identityEmails are the email identifiers of the profile in a change's payload.
func identityEmails(p map[string]any) []string {
	var out []string
	prof, _ := p["profile"].(map[string]any)
	ids, _ := prof["identities"].([]any)
	for _, id := range ids {
		if m, ok := id.(map[string]any); ok && m["kind"] == "email" {
			if v, ok := m["value"].(string); ok && v != "" {
				out = append(out, strings.ToLower(v))
			}
		}
	}
	return out
}

func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, k := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = obj[k]
	}
	s, _ := cur.(string)
	return s
}

// oneLine refuses a rendered header value that would start another header.
func oneLine(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if strings.ContainsAny(v, "\r\n") {
		return "", fmt.Errorf("%s renders to more than one line", field)
	}
	return v, nil
}

// Template is an email's subject and bodies compiled for rendering over any data: a
// journey's email step over the person's profile.
type Template struct{ t *templates }

// Rendered is a Template filled for one person.
type Rendered struct {
	Subject, Text, HTML string
}

// ParseTemplate compiles a subject and a text and/or HTML body (the same language and bounds
// as the email destination's: text/template, html/template for HTML, default and json).
func ParseTemplate(subject, text, html string) (*Template, error) {
	if strings.TrimSpace(subject) == "" {
		return nil, activation.Invalid("subject is required")
	}
	if strings.TrimSpace(text) == "" && strings.TrimSpace(html) == "" {
		return nil, activation.Invalid("needs a text or an html body (or both)")
	}
	t, err := compile(Config{Subject: subject, Text: text, HTML: html})
	if err != nil {
		return nil, activation.Invalid("%s", strings.TrimPrefix(kenner.ErrorMessage(err), "config."))
	}
	return &Template{t: t}, nil
}

// Render fills the template with data.
func (t *Template) Render(data any) (Rendered, error) {
	var r Rendered
	var err error
	if r.Subject, err = render(t.t.subject, data); err == nil {
		r.Subject, err = oneLine("subject", r.Subject)
	}
	if err != nil {
		return r, fmt.Errorf("subject: %w", err)
	}
	if t.t.text != nil {
		if r.Text, err = render(t.t.text, data); err != nil {
			return r, fmt.Errorf("text: %w", err)
		}
	}
	if t.t.html != nil {
		if r.HTML, err = render(t.t.html, data); err != nil {
			return r, fmt.Errorf("html: %w", err)
		}
	}
	return r, nil
}
