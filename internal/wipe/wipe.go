// Package wipe holds the one rule both SQL stores follow to delete a workspace: every table
// with a workspace_id column loses that workspace's rows, children before the rows they
// reference, and the few tables that hold a workspace's rows without the column follow
// their parent.
package wipe

import (
	"slices"
	"strings"
)

// referenced are tables whose rows other tables' rows point at (by a foreign key or by id):
// they are emptied after the others.
var referenced = []string{"separations", "models", "deliveries", "journeys", "syncs", "sources"}

// Untagged deletes the rows a workspace owns in tables without a workspace_id column; each
// statement takes the workspace id as its one parameter (?), and runs before Order's tables.
var Untagged = []string{
	`DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE workspace_id = ?)`,
}

// Order returns the tables with a workspace_id column (as the store's catalogue lists them)
// in the order to delete from: referenced tables last, the workspaces table itself not at all.
func Order(tables []string) []string {
	out := make([]string, 0, len(tables))
	var last []string
	for _, t := range tables {
		switch {
		case t == "workspaces":
		case slices.Contains(referenced, t):
			last = append(last, t)
		default:
			out = append(out, t)
		}
	}
	slices.Sort(out)
	slices.SortFunc(last, func(a, b string) int { return slices.Index(referenced, a) - slices.Index(referenced, b) })
	return append(out, last...)
}

// Dollar writes a statement's one parameter as PostgreSQL's $1.
func Dollar(q string) string { return strings.ReplaceAll(q, "?", "$1") }
