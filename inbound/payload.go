package inbound

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/url"
	"sort"
	"strings"

	"github.com/kenner-cdp/kenner"
)

// decodePayload reads a webhook body: JSON, or an HTML form (Mailchimp posts its webhooks
// form-encoded). Form keys written with brackets nest ("data[merges][EMAIL]" is
// payload.data.merges.EMAIL), and a form value that is a JSON array or object is decoded
// (Mailchimp Transactional posts its events as JSON in the field mandrill_events).
func decodePayload(body []byte, contentType string) (any, error) {
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/x-www-form-urlencoded" {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, kenner.Errorf(kenner.EInvalid, "payload is not a valid form: %v", err)
		}
		return formObject(vals), nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var payload any
	if err := dec.Decode(&payload); err != nil {
		return nil, kenner.Errorf(kenner.EInvalid, "payload is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, kenner.Errorf(kenner.EInvalid, "payload has more than one JSON value")
	}
	return payload, nil
}

// formObject nests a form's fields by their bracketed keys.
func formObject(vals url.Values) map[string]any {
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a stable result whatever the order of the fields
	out := map[string]any{}
	for _, k := range keys {
		path := formPath(k)
		node := out
		for _, p := range path[:len(path)-1] {
			child, ok := node[p].(map[string]any)
			if !ok {
				child = map[string]any{}
				node[p] = child
			}
			node = child
		}
		node[path[len(path)-1]] = formValue(vals[k][len(vals[k])-1])
	}
	return out
}

// formPath splits "data[merges][EMAIL]" into data, merges, EMAIL.
func formPath(k string) []string {
	head, rest, ok := strings.Cut(k, "[")
	if !ok || !strings.HasSuffix(rest, "]") {
		return []string{k}
	}
	path := []string{head}
	for _, p := range strings.Split(strings.TrimSuffix(rest, "]"), "][") {
		path = append(path, p)
	}
	return path
}

func formValue(v string) any {
	t := strings.TrimSpace(v)
	if strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
		dec := json.NewDecoder(strings.NewReader(t))
		dec.UseNumber()
		var x any
		if dec.Decode(&x) == nil && !dec.More() {
			return x
		}
	}
	return v
}
