package email

import (
	"bytes"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"io"
	"strings"
	texttemplate "text/template"

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
	}
	return t, nil
}

// executor is a text or an HTML template.
type executor interface {
	Execute(w io.Writer, data any) error
}

// render fills one template. A field the payload lacks renders as nothing rather than
// Go's "<no value>".
func render(tpl executor, data any) (string, error) {
	var b bytes.Buffer
	if err := tpl.Execute(&b, data); err != nil {
		return "", err
	}
	return strings.ReplaceAll(b.String(), "<no value>", ""), nil
}

// recipient is where an email about a payload goes when the config names no template: the
// person's email identity, else an email trait of the profile or the event.
func recipient(p map[string]any) string {
	if prof, ok := p["profile"].(map[string]any); ok {
		if ids, ok := prof["identities"].([]any); ok {
			for _, id := range ids {
				if m, ok := id.(map[string]any); ok && m["kind"] == "email" {
					if v, ok := m["value"].(string); ok && v != "" {
						return v
					}
				}
			}
		}
		if v := str(prof, "traits", "email"); v != "" {
			return v
		}
	}
	for _, path := range [][]string{{"message", "traits", "email"}, {"message", "context", "traits", "email"}, {"message", "properties", "email"}} {
		if v := str(p, path...); v != "" {
			return v
		}
	}
	return ""
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
