package kenner

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"
)

// ReportKinds are the analytics reports a saved report can be.
var ReportKinds = []string{"attribution", "campaigns", "trends", "funnels", "retention", "revenue"}

// SavedReport is an analytics report kept under a name for the workspace's dashboard: its
// kind and its settings as the report's query string.
type SavedReport struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"-"`
	Name        string    `json:"name"`
	Kind        string    `json:"kind"`
	Query       string    `json:"query"`
	CreatedBy   string    `json:"created_by,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// Check normalizes a saved report and says what is wrong with it.
func (r *SavedReport) Check() error {
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" || len(r.Name) > 200 {
		return Errorf(EInvalid, "name: give the report a name (up to 200 characters)")
	}
	if !slices.Contains(ReportKinds, r.Kind) {
		return Errorf(EInvalid, "kind: want one of %s, not %q", strings.Join(ReportKinds, ", "), r.Kind)
	}
	q, err := url.ParseQuery(strings.TrimPrefix(r.Query, "?"))
	if err != nil || len(r.Query) > 4000 {
		return Errorf(EInvalid, "query: not a query string of the report's settings")
	}
	q.Del("tab")
	r.Query = q.Encode()
	return nil
}

// ReportStore keeps saved reports (configuration: ResetDerived keeps them).
type ReportStore interface {
	// SaveReport stores a new report, filling its id and time (EConflict: the name is taken).
	SaveReport(ctx context.Context, r *SavedReport) error
	// Reports lists a workspace's saved reports in the order they were saved.
	Reports(ctx context.Context, workspaceID string) ([]SavedReport, error)
	DeleteReport(ctx context.Context, workspaceID, id string) error
}
