package importer

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Mapping says how the rows of a file become Segment messages. It is written in YAML (or
// JSON, which YAML reads too):
//
//	type: identify                # or --as
//	columns:
//	  Customer ID: userId
//	  E-Mail: traits.email
//	  Signed up: {target: traits.created_at, type: date, format: DD/MM/YYYY}
//	  Amount: {target: properties.revenue, type: number}
//	event: Order Completed        # a track import's event name, when no column holds it
//	timestamp_format: DD.MM.YYYY HH:mm
//	constants: {properties.currency: EUR}
//	delimiter: ";"                # sniffed from the header when not given
//	encoding: latin1              # utf-8 by default; a BOM is always recognized
//
// Columns of CSV files are header names; columns of NDJSON files are dotted paths into
// each object. An NDJSON file imported without columns holds Segment messages as they are.
type Mapping struct {
	Type            string            `yaml:"type" json:"type,omitempty"`
	Columns         map[string]Column `yaml:"columns" json:"columns,omitempty"`
	Event           string            `yaml:"event" json:"event,omitempty"`
	TimestampFormat string            `yaml:"timestamp_format" json:"timestamp_format,omitempty"`
	Constants       map[string]any    `yaml:"constants" json:"constants,omitempty"`
	Delimiter       string            `yaml:"delimiter" json:"delimiter,omitempty"`
	Encoding        string            `yaml:"encoding" json:"encoding,omitempty"`
	Format          string            `yaml:"format" json:"format,omitempty"`
	// KeepEmpty sets empty cells as empty strings; by default an empty cell sets nothing,
	// so that a sparse export does not blank out traits.
	KeepEmpty bool `yaml:"keep_empty" json:"keep_empty,omitempty"`
}

// Column is where one column goes and how its text is read.
type Column struct {
	Target string `yaml:"target" json:"target"`
	// Type is string (the default), number, integer, boolean, date or json.
	Type string `yaml:"type" json:"type,omitempty"`
	// Format is the date format of a date column (see Mapping.TimestampFormat).
	Format string `yaml:"format" json:"format,omitempty"`
}

// UnmarshalYAML reads a column written as its target alone or as an object.
func (c *Column) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		c.Target = n.Value
		return nil
	}
	type plain Column
	return n.Decode((*plain)(c))
}

// ParseMapping reads a mapping file (YAML or JSON). Unknown keys are errors, so that a typo
// does not silently import nothing.
func ParseMapping(data []byte) (*Mapping, error) {
	m := &Mapping{}
	if len(bytes.TrimSpace(data)) == 0 {
		return m, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	return m, nil
}

// Types of message an import makes.
var Types = []string{"identify", "track", "group", "page", "screen"}

// value types of columns
var columnTypes = []string{"", "string", "number", "integer", "boolean", "date", "json"}

// fixedTargets are the message fields a column can fill besides traits, properties and context.
var fixedTargets = []string{"userId", "anonymousId", "event", "timestamp", "messageId", "groupId", "name"}

// target is a compiled column target: a path into the message.
type target struct {
	path []string
	typ  string
	// layout is the Go time layout of a date, "" for the usual formats; format is how the
	// mapping wrote it.
	layout, format string
}

// compile checks a target and splits it into its path.
func compileTarget(s, typ, format, defaultFormat string) (target, error) {
	s = strings.TrimSpace(s)
	typ = strings.ToLower(strings.TrimSpace(typ))
	if !slices.Contains(columnTypes, typ) {
		return target{}, fmt.Errorf("unknown type %q (want string, number, integer, boolean, date or json)", typ)
	}
	path, err := TargetPath(s)
	if err != nil {
		return target{}, err
	}
	t := target{path: path, typ: typ}
	if path[0] == "timestamp" {
		t.typ = "date"
		if format == "" {
			format = defaultFormat
		}
	}
	if t.typ == "date" && format != "" {
		t.layout, t.format = Layout(format), format
	}
	return t, nil
}

// TargetPath checks a message field that a column (or a webhook mapping) may fill and splits
// it into its path.
func TargetPath(s string) ([]string, error) {
	path := strings.Split(strings.TrimSpace(s), ".")
	for _, p := range path {
		if p == "" {
			return nil, fmt.Errorf("target %q has an empty path element", s)
		}
	}
	switch {
	case len(path) == 1 && slices.Contains(fixedTargets, path[0]):
	case len(path) > 1 && (path[0] == "traits" || path[0] == "properties" || path[0] == "context"):
	default:
		return nil, fmt.Errorf("unknown target %q (want userId, anonymousId, event, timestamp, messageId, groupId, name, or traits.<name>, properties.<name>, context.<name>)", s)
	}
	return path, nil
}

// Layout turns a date format written with the usual tokens (YYYY-MM-DD HH:mm:ss, or
// strftime's %Y-%m-%d %H:%M:%S) into a Go layout; a Go layout is returned as it is.
func Layout(format string) string {
	if strings.Contains(format, "%") {
		r := strings.NewReplacer("%Y", "2006", "%y", "06", "%m", "01", "%d", "02", "%e", "_2", "%H", "15", "%I", "03",
			"%M", "04", "%S", "05", "%p", "PM", "%b", "Jan", "%B", "January", "%a", "Mon", "%A", "Monday",
			"%z", "-0700", "%Z", "MST", "%f", "000000", "%%", "%")
		return r.Replace(format)
	}
	if !strings.Contains(format, "YY") && !strings.Contains(format, "DD") && !strings.Contains(format, "HH") {
		return format
	}
	r := strings.NewReplacer("YYYY", "2006", "YY", "06", "MMMM", "January", "MMM", "Jan", "MM", "01", "DD", "02",
		"HH", "15", "hh", "03", "mm", "04", "ss", "05", "SSS", "000", "A", "PM", "a", "pm", "ZZ", "-0700", "Z", "Z07:00")
	return r.Replace(format)
}
