// Package export is the audience file export destination: a segment's members written as CSV
// or NDJSON files, each identifier normalized and SHA-256 hashed the way ad platforms'
// customer-match uploads expect (Kenner already keeps emails trimmed and lowercased and
// phones in E.164), to a directory, to S3-compatible storage, or both.
//
// Exports are incremental (who entered or left: one file per request, named after its first
// delivery, so a retry rewrites the same file instead of adding a second one) and full (every
// current member of each segment, on a schedule or on request, named after the export's time).
// Files are written to a temporary name and renamed, so readers never see half of one.
package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/kenner-cdp/kenner/objstore"
	"path/filepath"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/egress"
)

// Type is the destination type name.
const Type = "file"

// Config is a file export's config.
type Config struct {
	// Dir is where files are written (created if missing); optional when S3 is set.
	Dir    string `json:"dir"`
	Format string `json:"format"` // csv (default) or ndjson
	// Kinds are the identifier kinds exported (default email, phone); others, like
	// user_id or an external id, are hashed the same way.
	Kinds []string `json:"kinds"`
	// Plain exports the identifiers as they are, for systems that do their own matching.
	Plain bool `json:"plain"`
	// FullEvery queues a full export of the segments' members every period (a duration
	// such as "24h", aligned to UTC); empty: full exports only on request.
	FullEvery string `json:"full_every"`
	// Incremental false turns off the files of entries and exits (full exports only).
	Incremental *bool `json:"incremental"`
	// S3 uploads every file to S3-compatible storage too.
	S3 *S3Config `json:"s3"`
}

// Options are where file exports may write: Root confines directories (an export's dir is
// a directory inside it; empty: directory exports are refused), Egress the S3 endpoints.
type Options struct {
	Root   string
	Egress egress.Policy
}

// Factory is the activation.Factory of file exports; full exports read members from aud.
func Factory(aud activation.Audience, opts Options) activation.Factory {
	return func(d kenner.Destination) (activation.Sender, error) { return newSender(d, aud, opts) }
}

// confine resolves an export's dir inside root: a relative dir is taken under root, an
// absolute one must lie within it, and ".." cannot climb out. Symbolic links are not
// followed at this point; the directory is created, lazily, with 0700.
func confine(root, dir string) (string, error) {
	if root == "" {
		return "", activation.Invalid("config.dir: this server takes no directory exports (start it with --export-root DIR to allow them), use s3")
	}
	root = filepath.Clean(root)
	p := dir
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	}
	p = filepath.Clean(p)
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", activation.Invalid("config.dir must be inside the export root %s, not %q", root, dir)
	}
	return p, nil
}

func newSender(d kenner.Destination, aud activation.Audience, opts Options) (*sender, error) {
	var c Config
	if len(d.Config) > 0 {
		if err := json.Unmarshal(d.Config, &c); err != nil {
			return nil, activation.Invalid("config: %v", err)
		}
	}
	if c.Dir == "" && c.S3 == nil {
		return nil, activation.Invalid("config needs dir (a directory inside the export root), s3, or both")
	}
	if c.Dir != "" {
		dir, err := confine(opts.Root, c.Dir)
		if err != nil {
			return nil, err
		}
		c.Dir = dir
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
	s := &sender{cfg: c, ws: d.WorkspaceID, aud: aud, incremental: c.Incremental == nil || *c.Incremental}
	if c.FullEvery != "" {
		every, err := time.ParseDuration(c.FullEvery)
		if err != nil || every < time.Minute {
			return nil, activation.Invalid("config.full_every must be a duration of at least 1m, such as \"24h\", not %q", c.FullEvery)
		}
		s.every = every
	}
	if c.S3 != nil {
		up, err := newUploader(*c.S3, opts.Egress)
		if err != nil {
			return nil, err
		}
		s.s3 = up
	}
	return s, nil
}

type sender struct {
	cfg         Config
	ws          string
	aud         activation.Audience
	every       time.Duration
	incremental bool
	s3          *objstore.Client
}

// Hash is how identifiers are hashed: hex SHA-256 of the normalized value.
func Hash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// SnapshotEvery makes file exports activation.Snapshotters.
func (s *sender) SnapshotEvery() time.Duration { return s.every }

func (s *sender) Send(ctx context.Context, msgs []activation.Message) []activation.Result {
	results := make([]activation.Result, len(msgs))
	var rows []Row
	first := int64(-1)
	for i, m := range msgs {
		if m.Type == activation.DeliverySnapshot {
			results[i] = s.snapshot(ctx, m)
			continue
		}
		if !s.incremental {
			continue
		}
		r := s.changeRows(m)
		if len(r) > 0 && first < 0 {
			first = m.ID
		}
		rows = append(rows, r...)
	}
	if len(rows) == 0 {
		return results // nothing to export (profile updates, events)
	}
	name := fmt.Sprintf("kenner-%012d-%d.%s", first, len(msgs), s.cfg.Format)
	err := s.write(ctx, name, func(w rowWriter) error {
		for _, r := range rows {
			if err := w.Write(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for i, m := range msgs {
			if m.Type != activation.DeliverySnapshot {
				results[i] = activation.Result{Err: err}
			}
		}
	}
	return results
}

// snapshot writes one file per segment with every current member.
func (s *sender) snapshot(ctx context.Context, m activation.Message) activation.Result {
	var snap activation.Snapshot
	if err := json.Unmarshal(m.Payload, &snap); err != nil {
		return activation.Result{Err: fmt.Errorf("full export payload: %w", err), Permanent: true}
	}
	at := snap.At.UTC().Format(time.RFC3339)
	for _, seg := range snap.Segments {
		name := fmt.Sprintf("kenner-full-%s-%s.%s", seg.ID, snap.At.UTC().Format("20060102T150405Z"), s.cfg.Format)
		err := s.write(ctx, name, func(w rowWriter) error {
			return s.aud.Members(ctx, s.ws, seg.ID, func(p *kenner.Profile) error {
				ids := make([]kenner.Identifier, len(p.Identities))
				for i, id := range p.Identities {
					ids[i] = id.Identifier
				}
				for _, r := range s.rows("member", seg.ID, p.ID, ids, at) {
					if err := w.Write(r); err != nil {
						return err
					}
				}
				return nil
			})
		})
		if err != nil {
			return activation.Result{Err: fmt.Errorf("full export of %s: %w", seg.ID, err)}
		}
	}
	return activation.Result{}
}

func (s *sender) changeRows(m activation.Message) []Row {
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
	return s.rows(action, p.Segment.ID, p.Profile.ID, p.Profile.Identities, p.At)
}

// rows are the lines for one person: one per exported identifier.
func (s *sender) rows(action, segmentID, profileID string, ids []kenner.Identifier, at string) []Row {
	var out []Row
	for _, kind := range s.cfg.Kinds {
		for _, id := range ids {
			if id.Kind != kind {
				continue
			}
			v := id.Value
			if !s.cfg.Plain {
				v = Hash(v)
			}
			out = append(out, Row{Action: action, SegmentID: segmentID, ProfileID: profileID, Kind: kind, Value: v, At: at})
		}
	}
	return out
}

func (s *sender) Close() error { return nil }
