// Package export is the audience file export destination: segment entries and exits written
// as CSV or NDJSON files of added and removed people to a directory, each identifier
// normalized and SHA-256 hashed the way ad platforms' customer-match uploads expect (Kenner
// already keeps emails trimmed and lowercased and phones in E.164). Each request becomes one
// file, named after its first delivery, written to a temporary name and renamed, so a retry
// rewrites the same file instead of adding a second one.
package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
)

// Type is the destination type name.
const Type = "file"

// Config is a file export's config: the directory (created if missing) and the format.
type Config struct {
	Dir    string `json:"dir"`
	Format string `json:"format"` // csv (default) or ndjson
	// Kinds are the identifier kinds exported (default email, phone); others, like
	// user_id or an external id, are hashed the same way.
	Kinds []string `json:"kinds"`
	// Plain exports the identifiers as they are, for systems that do their own matching.
	Plain bool `json:"plain"`
}

// New is the activation.Factory of file exports.
func New(d kenner.Destination) (activation.Sender, error) {
	var c Config
	if len(d.Config) > 0 {
		if err := json.Unmarshal(d.Config, &c); err != nil {
			return nil, activation.Invalid("config: %v", err)
		}
	}
	if c.Dir == "" || !filepath.IsAbs(c.Dir) {
		return nil, activation.Invalid("config.dir must be an absolute directory path, not %q", c.Dir)
	}
	switch c.Format {
	case "":
		c.Format = "csv"
	case "csv", "ndjson":
	default:
		return nil, activation.Invalid(`config.format must be "csv" or "ndjson", not %q`, c.Format)
	}
	if len(c.Kinds) == 0 {
		c.Kinds = []string{"email", "phone"}
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, activation.Invalid("config.dir: %v", err)
	}
	return &sender{cfg: c, kinds: c.Kinds}, nil
}

type sender struct {
	cfg   Config
	kinds []string
}

// Row is one line of an export: a person added to or removed from a segment, by one
// identifier.
type Row struct {
	Action    string `json:"action"` // add or remove
	SegmentID string `json:"segment_id"`
	ProfileID string `json:"profile_id"`
	Kind      string `json:"kind"`
	Value     string `json:"value"` // hex SHA-256 unless the export is plain
	At        string `json:"at"`
}

// Hash is how identifiers are hashed: hex SHA-256 of the normalized value.
func Hash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

func (s *sender) Send(ctx context.Context, msgs []activation.Message) []activation.Result {
	var rows []Row
	for _, m := range msgs {
		rows = append(rows, s.rows(m)...)
	}
	if len(rows) == 0 {
		return make([]activation.Result, len(msgs)) // nothing to export (profile updates, events)
	}
	var buf bytes.Buffer
	if s.cfg.Format == "ndjson" {
		enc := json.NewEncoder(&buf)
		for _, r := range rows {
			enc.Encode(r)
		}
	} else {
		w := csv.NewWriter(&buf)
		w.Write([]string{"action", "segment_id", "profile_id", "kind", "value", "at"})
		for _, r := range rows {
			w.Write([]string{r.Action, r.SegmentID, r.ProfileID, r.Kind, r.Value, r.At})
		}
		w.Flush()
	}
	name := fmt.Sprintf("kenner-%012d-%d.%s", msgs[0].ID, len(msgs), s.cfg.Format)
	path := filepath.Join(s.cfg.Dir, name)
	if err := writeAtomic(path, buf.Bytes()); err != nil {
		return activation.Failed(len(msgs), activation.Result{Err: err})
	}
	return make([]activation.Result, len(msgs))
}

func (s *sender) rows(m activation.Message) []Row {
	var p struct {
		Type    string `json:"type"`
		At      string `json:"at"`
		Segment struct {
			ID string `json:"id"`
		} `json:"segment"`
		Profile struct {
			ID         string              `json:"id"`
			Identities []kenner.Identifier `json:"identities"`
		} `json:"profile"`
	}
	if json.Unmarshal(m.Payload, &p) != nil {
		return nil
	}
	action := map[string]string{kenner.ChangeSegmentEntered: "add", kenner.ChangeSegmentExited: "remove"}[p.Type]
	if action == "" {
		return nil
	}
	var out []Row
	for _, kind := range s.kinds {
		for _, id := range p.Profile.Identities {
			if id.Kind != kind {
				continue
			}
			v := id.Value
			if !s.cfg.Plain {
				v = Hash(v)
			}
			out = append(out, Row{Action: action, SegmentID: p.Segment.ID, ProfileID: p.Profile.ID, Kind: kind, Value: v, At: p.At})
		}
	}
	return out
}

// writeAtomic writes data to path through a temporary file and a rename, so readers never
// see half a file, and fsyncs it so that a delivered export survives a crash.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (s *sender) Close() error { return nil }
