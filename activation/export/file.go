package export

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"

	"github.com/kenner-cdp/kenner/internal/csvcell"
)

// Row is one line of an export: a person added to or removed from a segment (incremental) or
// a member (full), by one identifier.
type Row struct {
	Action    string `json:"action"` // add, remove or member
	SegmentID string `json:"segment_id"`
	ProfileID string `json:"profile_id"`
	Kind      string `json:"kind"`
	Value     string `json:"value"` // hex SHA-256 unless the export is plain
	At        string `json:"at"`
}

type rowWriter interface {
	Write(r Row) error
	Flush() error
}

type csvRows struct{ w *csv.Writer }

func (c csvRows) Write(r Row) error {
	return c.w.Write(csvcell.Row([]string{r.Action, r.SegmentID, r.ProfileID, r.Kind, r.Value, r.At}))
}

func (c csvRows) Flush() error { c.w.Flush(); return c.w.Error() }

type ndjsonRows struct{ enc *json.Encoder }

func (n ndjsonRows) Write(r Row) error { return n.enc.Encode(r) }
func (n ndjsonRows) Flush() error      { return nil }

func (s *sender) rowWriter(w io.Writer) (rowWriter, error) {
	if s.cfg.Format == "ndjson" {
		return ndjsonRows{json.NewEncoder(w)}, nil
	}
	c := csvRows{csv.NewWriter(w)}
	return c, c.w.Write([]string{"action", "segment_id", "profile_id", "kind", "value", "at"})
}

// write streams a file's rows to a temporary file, fsyncs it so that a delivered export
// survives a crash, then renames it into the directory and uploads it.
func (s *sender) write(ctx context.Context, name string, fill func(w rowWriter) error) error {
	var f *os.File
	var err error
	if s.cfg.Dir != "" {
		// Created on the first file, not when the config is saved: saving a destination
		// makes no directory anywhere.
		if err := os.MkdirAll(s.cfg.Dir, 0o700); err != nil {
			return err
		}
		f, err = os.OpenFile(filepath.Join(s.cfg.Dir, name+".tmp"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	} else {
		f, err = os.CreateTemp("", "kenner-export-*")
	}
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	buf := bufio.NewWriterSize(f, 256<<10)
	rw, err := s.rowWriter(buf)
	if err == nil {
		err = fill(rw)
	}
	if err == nil {
		err = rw.Flush()
	}
	if err == nil {
		err = buf.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	path := tmp
	if s.cfg.Dir != "" {
		path = filepath.Join(s.cfg.Dir, name)
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	if s.s3 != nil {
		return s.s3.Upload(ctx, name, path, s.contentType())
	}
	return nil
}

func (s *sender) contentType() string {
	if s.cfg.Format == "ndjson" {
		return "application/x-ndjson"
	}
	return "text/csv"
}
