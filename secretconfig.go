package kenner

import (
	"encoding/json"
	"strconv"
	"strings"
)

// secretKeys are the config fields of destinations (at any depth) that hold credentials: the
// API shows them as "(set)" and the store keeps them encrypted. Every value under "headers"
// is one too: receivers take API keys in headers.
var secretKeys = map[string]bool{
	"secret": true, "password": true, "write_key": true, "secret_access_key": true,
	"api_key": true, "token": true, "access_token": true, "client_secret": true, "dsn": true,
}

// MapSecrets applies fn to every secret string value of a destination's config (see
// secretKeys), with its path ("s3.secret_access_key", "headers.Authorization"), and returns
// the config with the results; a config with none comes back as it is.
func MapSecrets(cfg json.RawMessage, fn func(path, v string) (string, error)) (json.RawMessage, error) {
	if len(cfg) == 0 {
		return cfg, nil
	}
	var doc any
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return cfg, nil // not ours to judge: the destination's own check reports it
	}
	changed := false
	var walk func(v any, path string, secret bool) (any, error)
	walk = func(v any, path string, secret bool) (any, error) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				p := k
				if path != "" {
					p = path + "." + k
				}
				nv, err := walk(c, p, secret || secretKeys[strings.ToLower(k)] || strings.EqualFold(k, "headers"))
				if err != nil {
					return nil, err
				}
				x[k] = nv
			}
		case []any:
			for i, c := range x {
				nv, err := walk(c, path+"."+strconv.Itoa(i), secret)
				if err != nil {
					return nil, err
				}
				x[i] = nv
			}
		case string:
			if secret && x != "" {
				s, err := fn(path, x)
				if err != nil {
					return nil, err
				}
				changed = changed || s != x
				return s, nil
			}
		}
		return v, nil
	}
	doc, err := walk(doc, "", false)
	if err != nil || !changed {
		return cfg, err
	}
	return json.Marshal(doc)
}

// SecretShown stands for a secret in the API's answers: secrets are write-only.
const SecretShown = "(set)"

// HideSecrets replaces every secret of a config with SecretShown.
func HideSecrets(cfg json.RawMessage) json.RawMessage {
	out, _ := MapSecrets(cfg, func(string, string) (string, error) { return SecretShown, nil })
	return out
}

// KeepSecrets puts back, in an edited config, the secrets that a client sent back as it was
// shown them (SecretShown), from the config it edits; a SecretShown with nothing to restore
// is refused, so the placeholder never becomes a password.
func KeepSecrets(edited, old json.RawMessage) (json.RawMessage, error) {
	prev := map[string]string{}
	MapSecrets(old, func(path, v string) (string, error) { prev[path] = v; return v, nil })
	return MapSecrets(edited, func(path, v string) (string, error) {
		if v != SecretShown {
			return v, nil
		}
		if p, ok := prev[path]; ok {
			return p, nil
		}
		return "", Errorf(EInvalid, "config.%s is %q, which stands for a secret already set, but none is", path, SecretShown)
	})
}
