package syncrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/dbsync"
	"github.com/kenner-cdp/kenner/importer"
	"github.com/kenner-cdp/kenner/objstore"
	"github.com/kenner-cdp/kenner/privacy"
)

// dbConfig is a database sync's config: kenner sync's flags.
type dbConfig struct {
	DSN    string `json:"dsn"`
	Table  string `json:"table,omitempty"`
	Query  string `json:"query,omitempty"`
	Cursor string `json:"cursor"`
	ID     string `json:"id,omitempty"`
}

func (c dbConfig) spec() dbsync.Spec {
	return dbsync.Spec{DSN: c.DSN, Table: c.Table, Query: c.Query, CursorColumn: c.Cursor, IDColumn: c.ID}
}

// s3Config is a file sync's config: the bucket and folder, and the files' format (by their
// extension when not given).
type s3Config struct {
	objstore.Config
	Format string `json:"format,omitempty"`
}

// decodeConfig reads a sync's config strictly, so that a misspelt setting is an error.
func decodeConfig(raw json.RawMessage, into any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return kenner.Errorf(kenner.EInvalid, "config: %v", err)
	}
	return nil
}

// ParseSchedule reads a schedule: "every 15m" or "15m", a five-field cron expression
// ("30 2 * * *"), or a descriptor (@hourly, @daily, @every 2h). "" is no schedule (nil).
func ParseSchedule(s string) (cron.Schedule, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	every := strings.TrimSpace(strings.TrimPrefix(s, "every "))
	if d, err := time.ParseDuration(every); err == nil {
		if d < time.Second {
			return nil, kenner.Errorf(kenner.EInvalid, "schedule: an interval of at least 1s, not %q", s)
		}
		return cron.Every(d), nil
	}
	sched, err := cron.ParseStandard(s)
	if err != nil {
		return nil, kenner.Errorf(kenner.EInvalid, "schedule: %q is neither an interval (every 15m) nor a cron expression (30 2 * * *): %v", s, err)
	}
	return sched, nil
}

// NextRun is when a schedule next runs after from (nil: no schedule).
func NextRun(schedule string, from time.Time) (*time.Time, error) {
	sched, err := ParseSchedule(schedule)
	if err != nil || sched == nil {
		return nil, err
	}
	t := sched.Next(from).UTC()
	return &t, nil
}

// refTargets are the message fields a row's identifier is read from, in order of preference:
// what a deleted row's person is found by.
var refTargets = []struct{ target, kind string }{
	{"userId", kenner.KindUserID}, {"traits.email", kenner.KindEmail}, {"traits.phone", kenner.KindPhone},
	{"anonymousId", kenner.KindAnonymousID},
}

// rowRef returns how the identifier of a row is read under mapping m: the column mapped to
// the first of refTargets (or, with no columns, the row's own field); nil when none is.
func rowRef(m *importer.Mapping) func(row map[string]any) (kenner.Identifier, bool) {
	for _, rt := range refTargets {
		path := strings.Split(rt.target, ".")
		if len(m.Columns) > 0 {
			col := ""
			for name, c := range m.Columns {
				if strings.TrimSpace(c.Target) == rt.target && (col == "" || name < col) {
					col = name
				}
			}
			if col == "" {
				continue
			}
			path = strings.Split(col, ".")
		}
		kind := rt.kind
		return func(row map[string]any) (kenner.Identifier, bool) {
			var v any = row
			for _, p := range path {
				m, ok := v.(map[string]any)
				if !ok {
					return kenner.Identifier{}, false
				}
				v = m[p]
			}
			if v == nil {
				return kenner.Identifier{}, false
			}
			s := strings.TrimSpace(fmt.Sprint(v))
			return kenner.Identifier{Kind: kind, Value: s}, s != ""
		}
	}
	return nil
}

// Check normalizes a sync about to be saved and says what is wrong with it, without
// connecting to anything (Test does). It sets the next run from the schedule.
func (r *Runner) Check(ctx context.Context, sy *kenner.Sync) error {
	if err := sy.CheckShape(); err != nil {
		return err
	}
	if sy.SourceID == "" {
		return kenner.Errorf(kenner.EInvalid, "source: name the source the rows are imported into")
	}
	src, err := r.cfg.Store.SourceByID(ctx, sy.SourceID)
	if err != nil || src.WorkspaceID != sy.WorkspaceID {
		return kenner.Errorf(kenner.EInvalid, "source: no source %q", sy.SourceID)
	}
	m, err := importer.ParseMapping(sy.Mapping)
	if err != nil {
		return kenner.Errorf(kenner.EInvalid, "%v", err)
	}
	typ := strings.ToLower(strings.TrimSpace(sy.Type))
	if typ == "" {
		typ = strings.ToLower(strings.TrimSpace(m.Type))
	}
	if !slices.Contains(importer.Types, typ) {
		return kenner.Errorf(kenner.EInvalid, "type: each row makes a message of type %s, not %q", strings.Join(importer.Types, ", "), typ)
	}
	sy.Type = typ
	if _, err := ParseSchedule(sy.Schedule); err != nil {
		return err
	}
	switch sy.Kind {
	case kenner.SyncDatabase:
		var c dbConfig
		if err := decodeConfig(sy.Config, &c); err != nil {
			return err
		}
		if err := dbsync.CheckSpec(c.spec()); err != nil {
			return kenner.Errorf(kenner.EInvalid, "config: %s", kenner.ErrorMessage(err))
		}
		if sy.OnDelete != kenner.DeleteIgnore {
			if c.ID == "" {
				return kenner.Errorf(kenner.EInvalid, "on_delete: telling deleted rows needs config.id, a column that names each row")
			}
			if rowRef(m) == nil {
				return kenner.Errorf(kenner.EInvalid, "on_delete: the mapping must map a column to userId, traits.email, traits.phone or anonymousId, to find the person of a deleted row")
			}
		}
		if sy.OnDelete == kenner.DeleteErase && r.cfg.Eraser == nil {
			return kenner.Errorf(kenner.EInvalid, "on_delete: this server cannot erase (no eraser)")
		}
		if sy.OnDelete == kenner.DeleteSuppress {
			if len(sy.SuppressPurposes) == 0 {
				sy.SuppressPurposes = []string{"marketing"}
			}
			if sy.SuppressPurposes, err = privacy.CheckPurposes(sy.SuppressPurposes); err != nil {
				return err
			}
		} else {
			sy.SuppressPurposes = nil
		}
	case kenner.SyncS3:
		var c s3Config
		if err := decodeConfig(sy.Config, &c); err != nil {
			return err
		}
		if _, err := objstore.New(c.Config, r.cfg.Egress, "config"); err != nil {
			return err
		}
		if f := strings.ToLower(c.Format); f != "" && f != importer.FormatCSV && f != importer.FormatNDJSON {
			return kenner.Errorf(kenner.EInvalid, "config.format: csv or ndjson (or nothing: by each file's extension), not %q", c.Format)
		}
	}
	if sy.DeleteLimit == 0 && sy.OnDelete != kenner.DeleteIgnore {
		sy.DeleteLimit = kenner.DefaultDeleteLimit
	}
	next, err := NextRun(sy.Schedule, r.cfg.Now())
	if err != nil {
		return err
	}
	sy.NextRunAt = next
	return nil
}

// Test connects to a sync's origin and says what it sees: the database answers the query (and
// how many rows are past the cursor is not counted, to stay cheap), the bucket lists.
func (r *Runner) Test(ctx context.Context, sy *kenner.Sync) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	switch sy.Kind {
	case kenner.SyncDatabase:
		var c dbConfig
		if err := decodeConfig(sy.Config, &c); err != nil {
			return "", err
		}
		src, err := dbsync.Open(ctx, c.spec())
		if err != nil {
			return "", err
		}
		defer src.Close()
		if err := src.Probe(ctx); err != nil {
			return "", err
		}
		return "connected; the query reads rows with the cursor column " + c.Cursor, nil
	case kenner.SyncS3:
		var c s3Config
		if err := decodeConfig(sy.Config, &c); err != nil {
			return "", err
		}
		cl, err := objstore.New(c.Config, r.cfg.Egress, "config")
		if err != nil {
			return "", err
		}
		objs, err := cl.List(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("connected; %d files under s3://%s/%s", len(objs), c.Bucket, c.Prefix), nil
	}
	return "", kenner.Errorf(kenner.EInvalid, "kind: %q", sy.Kind)
}
