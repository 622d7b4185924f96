package kenner

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Kinds of scheduled sync.
const (
	// SyncDatabase reads the rows of a PostgreSQL or MySQL table or query changed since a
	// cursor (what kenner sync does from the command line).
	SyncDatabase = "database"
	// SyncS3 imports the CSV or NDJSON files that appear in an S3-compatible bucket, each once.
	SyncS3 = "s3"
)

// What a scheduled database sync does for a row that is gone from the source.
const (
	DeleteIgnore   = ""         // nothing
	DeleteMark     = "mark"     // sets the traits deleted_in_source and deleted_in_source_at
	DeleteSuppress = "suppress" // withdraws consent to the sync's suppress purposes
	DeleteErase    = "erase"    // erases the person (an erasure request)
)

// DeleteActions are the actions a sync may take for a deleted row.
var DeleteActions = []string{DeleteIgnore, DeleteMark, DeleteSuppress, DeleteErase}

// Statuses of a sync run.
const (
	SyncRunning = "running"
	SyncDone    = "done"
	SyncFailed  = "failed"
)

// Sync is a pull scheduled by the server: a database table or a bucket of files, imported into
// a source through an import mapping on a schedule (an interval or a cron expression).
type Sync struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"-"`
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	SourceID    string `json:"source_id"`
	// Type is the message type every row makes (identify, track, ...); the mapping's when empty.
	Type    string          `json:"type,omitempty"`
	Mapping json.RawMessage `json:"mapping,omitempty"`
	// Schedule is "every 15m" (or "15m"), a five-field cron expression ("0 3 * * *") or a
	// descriptor (@hourly, @daily); "" runs only when asked.
	Schedule string `json:"schedule"`
	// Config holds the kind's settings: database {dsn, table | query, cursor, id}; s3
	// {endpoint, bucket, prefix, region, access_key_id, secret_access_key, insecure, format}.
	// Credentials (dsn, secret_access_key) are write-only and encrypted at rest.
	Config json.RawMessage `json:"config"`
	// OnDelete is what a database sync does for a row gone from the source (needs config.id);
	// SuppressPurposes are the purposes "suppress" withdraws (default marketing).
	OnDelete         string   `json:"on_delete,omitempty"`
	SuppressPurposes []string `json:"suppress_purposes,omitempty"`
	// DeleteLimit is the largest share of known rows (percent) one run may act on as deleted:
	// a source that suddenly returns nothing (a wrong table, a permission) must not erase
	// everyone. 0 means the default, 50.
	DeleteLimit int  `json:"delete_limit_percent,omitempty"`
	Paused      bool `json:"paused"`
	// State is where the sync stopped (a database sync's cursor), kept by the runs.
	State     json.RawMessage `json:"state,omitempty"`
	NextRunAt *time.Time      `json:"next_run_at,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// DefaultDeleteLimit is the share of known rows (percent) a run may treat as deleted.
const DefaultDeleteLimit = 50

// CheckShape normalizes what every sync needs whatever its kind, and says what is wrong.
func (s *Sync) CheckShape() error {
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" || len(s.Name) > 100 {
		return Errorf(EInvalid, "name: give the sync a name (up to 100 characters)")
	}
	if s.Kind != SyncDatabase && s.Kind != SyncS3 {
		return Errorf(EInvalid, "kind: want %q or %q, not %q", SyncDatabase, SyncS3, s.Kind)
	}
	if !slices.Contains(DeleteActions, s.OnDelete) {
		return Errorf(EInvalid, "on_delete: want mark, suppress or erase (or nothing), not %q", s.OnDelete)
	}
	if s.OnDelete != DeleteIgnore && s.Kind != SyncDatabase {
		return Errorf(EInvalid, "on_delete: only a database sync can see rows deleted from its source")
	}
	if s.DeleteLimit < 0 || s.DeleteLimit > 100 {
		return Errorf(EInvalid, "delete_limit_percent: between 1 and 100 (0: the default, %d)", DefaultDeleteLimit)
	}
	if len(s.Config) == 0 {
		s.Config = json.RawMessage("{}")
	}
	return nil
}

// SyncRun is one run of a sync: what started it, how far it got and what it did.
type SyncRun struct {
	ID          string `json:"id"`
	SyncID      string `json:"sync_id"`
	WorkspaceID string `json:"-"`
	// Trigger is "schedule" or "manual"; Node the server that ran it.
	Trigger string `json:"trigger"`
	Node    string `json:"node,omitempty"`
	Status  string `json:"status"`
	Error   string `json:"error,omitempty"`

	Rows       int `json:"rows"`
	Imported   int `json:"imported"`
	Duplicates int `json:"duplicates"`
	Rejected   int `json:"rejected"`
	// Deleted counts rows found gone from the source and acted on; Files the files imported.
	Deleted   int      `json:"deleted"`
	Files     []string `json:"files,omitempty"`
	ImportIDs []string `json:"import_ids,omitempty"`

	StartedAt  time.Time  `json:"started_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// SyncRunStaleAfter is how long a running run may go without saving progress before another
// may start: runs save progress every few seconds, so this long a silence means the process
// running it stopped.
const SyncRunStaleAfter = 2 * time.Minute

// SyncItem is something a sync has seen in its source: a row's key with the identifier the
// row was imported under (to act on the person when the row is deleted), or a file's name
// and version (so that each is imported once).
type SyncItem struct {
	Key string     `json:"key"`
	Ref Identifier `json:"ref"`
}

// SyncStore keeps scheduled syncs, their runs and what they have seen (configuration and
// its history: ResetDerived keeps them).
type SyncStore interface {
	// SaveSync creates or replaces a sync (EConflict: another sync has the name).
	SaveSync(ctx context.Context, s *Sync) error
	Sync(ctx context.Context, workspaceID, id string) (*Sync, error)
	// Syncs lists a workspace's syncs by name.
	Syncs(ctx context.Context, workspaceID string) ([]Sync, error)
	// SyncsDue lists the syncs of every workspace, not paused, whose next run is due at now.
	SyncsDue(ctx context.Context, now time.Time) ([]Sync, error)
	// DeleteSync deletes a sync with its runs and items.
	DeleteSync(ctx context.Context, workspaceID, id string) error
	// StartSyncRun records run as running and sets the sync's next run, unless another run
	// of the sync is running and saved progress after staleBefore (EConflict): one run at a
	// time per sync, across every server sharing the store.
	StartSyncRun(ctx context.Context, run *SyncRun, next *time.Time, staleBefore time.Time) error
	// SaveSyncRun saves a run's progress or outcome; SaveSyncState the sync's state.
	SaveSyncRun(ctx context.Context, run *SyncRun) error
	SaveSyncState(ctx context.Context, workspaceID, id string, state json.RawMessage) error
	// SyncRuns lists a sync's runs newest first.
	SyncRuns(ctx context.Context, workspaceID, syncID string, limit int) ([]SyncRun, error)
	// PutSyncItems records items (replacing one with the same key); SyncItems pages through
	// them in key order after a key; DeleteSyncItems forgets some.
	PutSyncItems(ctx context.Context, workspaceID, syncID string, items []SyncItem) error
	SyncItems(ctx context.Context, workspaceID, syncID, after string, limit int) ([]SyncItem, error)
	DeleteSyncItems(ctx context.Context, workspaceID, syncID string, keys []string) error
}
