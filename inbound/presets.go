package inbound

import (
	"bytes"
	"embed"
	"path"
	"slices"
	"strings"

	"github.com/kenner-cdp/kenner"
	"go.yaml.in/yaml/v3"
)

//go:embed presets/*.yaml
var presetFiles embed.FS

// Presets lists the ready mappings by name.
func Presets() []string {
	entries, _ := presetFiles.ReadDir("presets")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	slices.Sort(out)
	return out
}

// PresetSource returns a preset's YAML, to show or to start a custom mapping from.
func PresetSource(name string) ([]byte, error) {
	b, err := presetFiles.ReadFile(path.Join("presets", name+".yaml"))
	if err != nil {
		return nil, kenner.Errorf(kenner.EInvalid, "unknown webhook preset %q (have %s)", name, strings.Join(Presets(), ", "))
	}
	return b, nil
}

func preset(name string) (kenner.WebhookMapping, error) {
	b, err := PresetSource(name)
	if err != nil {
		return kenner.WebhookMapping{}, err
	}
	return ParseMapping(b)
}

// ParseMapping reads a webhook mapping written in YAML or JSON. Unknown keys are errors.
func ParseMapping(b []byte) (kenner.WebhookMapping, error) {
	var m kenner.WebhookMapping
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return m, kenner.Errorf(kenner.EInvalid, "webhook mapping: %v", err)
	}
	return m, nil
}
