package kenner

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Statuses of an import.
const (
	ImportRunning = "running"
	ImportDone    = "done"
	ImportFailed  = "failed"
)

// Import is one bulk load of a file (CSV or NDJSON) into a source, with its progress and
// outcome. Reasons name columns and problems, never the values of a row, so that the record
// holds no personal data.
type Import struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"workspace_id"`
	SourceID    string `json:"source_id"`
	File        string `json:"file,omitempty"`
	Type        string `json:"type"`
	Format      string `json:"format,omitempty"`
	DryRun      bool   `json:"dry_run"`
	Status      string `json:"status"`
	Error       string `json:"error,omitempty"`

	Rows       int   `json:"rows"`
	Imported   int   `json:"imported"`
	Duplicates int   `json:"duplicates"`
	Rejected   int   `json:"rejected"`
	Warnings   int   `json:"warnings"`
	Bytes      int64 `json:"bytes"`
	TotalBytes int64 `json:"total_bytes,omitempty"`

	// Rejects lists rejected rows by line (the first MaxImportIssues of them), Issues the
	// values kept as sent because they had no standard form (the first 100).
	Rejects          []ImportIssue `json:"rejects"`
	RejectsTruncated bool          `json:"rejects_truncated,omitempty"`
	Issues           []ImportIssue `json:"warnings_sample,omitempty"`
	// Sample holds, for a dry run, the first messages as they would be stored.
	Sample []json.RawMessage `json:"sample,omitempty"`

	StartedAt  time.Time  `json:"started_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// ImportStaleAfter is how long a running import may go without saving progress before it is
// taken for interrupted: imports save progress at least once a chunk, every second or so
// while rows flow, so minutes of silence mean the process that ran it stopped.
const ImportStaleAfter = 5 * time.Minute

// Interrupted reports whether the import is recorded as running but its process stopped
// (a crash, a kill, a restart) without finishing it.
func (im *Import) Interrupted(now time.Time) bool {
	return im.Status == ImportRunning && now.Sub(im.UpdatedAt) > ImportStaleAfter
}

// MarkInterrupted records an interrupted import as failed, saying how far it got and that
// running it again is safe.
func (im *Import) MarkInterrupted(now time.Time) {
	im.Status = ImportFailed
	im.Error = fmt.Sprintf("interrupted: the process running it stopped after %d rows (no progress since %s); "+
		"run the import again: rows already imported are recognized as duplicates", im.Rows, im.UpdatedAt.Format(time.RFC3339))
	im.FinishedAt = &now
}

// MaxImportIssues bounds the rejects an import record lists.
const MaxImportIssues = 10000

// ImportIssue is a rejected row (or a warning about one): its line in the file and why.
type ImportIssue struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// ImportStore keeps import records and the ledger of imported rows that makes importing the
// same file again import nothing twice.
type ImportStore interface {
	// SaveImport creates or replaces an import record.
	SaveImport(ctx context.Context, im *Import) error
	Import(ctx context.Context, workspaceID, id string) (*Import, error)
	// Imports lists imports newest first.
	Imports(ctx context.Context, workspaceID, after string, limit int) ([]Import, string, error)
	// ImportKeysSeen reports, for each row key, whether AddImportKeys recorded it.
	ImportKeysSeen(ctx context.Context, workspaceID string, keys [][]byte) ([]bool, error)
	// AddImportKeys records row keys (adding one already there is no error).
	AddImportKeys(ctx context.Context, workspaceID string, keys [][]byte) error
}
