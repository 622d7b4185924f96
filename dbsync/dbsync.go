// Package dbsync reads the rows of a PostgreSQL or MySQL table or query that changed since a
// cursor, in cursor order, as NDJSON objects (column name → value) for the importer, and keeps
// the cursor between runs.
package dbsync

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"
	"github.com/kenner-cdp/kenner"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// Cursor is where a sync stopped: the cursor column's value of the last row read and, when
// the sync has an id column, that row's id (rows with the same cursor value are ordered and
// resumed by id, so that none is skipped or read twice).
type Cursor struct {
	Value string `json:"value,omitempty"`
	ID    string `json:"id,omitempty"`
}

// Spec says what to read.
type Spec struct {
	// DSN is postgres://... or mysql://user:pass@host:port/db.
	DSN string
	// Table or Query (a SELECT) is the rows' origin.
	Table, Query string
	// CursorColumn orders the rows and marks progress (an updated-at or an increasing id);
	// IDColumn, when given, breaks ties between rows with the same cursor value.
	CursorColumn, IDColumn string
}

// Source is an open database to sync from.
type Source struct {
	db      *sql.DB
	dialect string // postgres or mysql
	spec    Spec
}

var ident = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$`)

// CheckSpec says what is wrong with a spec, without connecting.
func CheckSpec(spec Spec) error {
	if !strings.HasPrefix(spec.DSN, "postgres://") && !strings.HasPrefix(spec.DSN, "postgresql://") && !strings.HasPrefix(spec.DSN, "mysql://") {
		return kenner.Errorf(kenner.EInvalid, "the database (--from, or a sync's dsn) must be a postgres:// or mysql:// URL")
	}
	if (spec.Table == "") == (spec.Query == "") {
		return kenner.Errorf(kenner.EInvalid, "give a table or a query (one of them)")
	}
	if spec.CursorColumn == "" {
		return kenner.Errorf(kenner.EInvalid, "a cursor column is required (an updated-at or an increasing id)")
	}
	for _, name := range []string{spec.Table, spec.CursorColumn, spec.IDColumn} {
		if name != "" && !ident.MatchString(name) {
			return kenner.Errorf(kenner.EInvalid, "%q is not a plain table or column name", name)
		}
	}
	return nil
}

// Open checks the spec and connects.
func Open(ctx context.Context, spec Spec) (*Source, error) {
	if err := CheckSpec(spec); err != nil {
		return nil, err
	}
	db, dialect, err := Connect(spec.DSN)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, kenner.Errorf(kenner.EUnavailable, "connect to the %s database: %v", dialect, err)
	}
	s := &Source{spec: spec, dialect: dialect}
	s.db = db
	return s, nil
}

// Connect opens a postgres:// or mysql:// URL and says which of the two it is.
func Connect(dsn string) (*sql.DB, string, error) {
	var driver, dialect string
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		dialect, driver = "postgres", "pgx"
	case strings.HasPrefix(dsn, "mysql://"):
		var err error
		if dsn, err = mysqlDSN(dsn); err != nil {
			return nil, "", err
		}
		dialect, driver = "mysql", "mysql"
	default:
		return nil, "", kenner.Errorf(kenner.EInvalid, "--from must be a postgres:// or mysql:// URL")
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, "", kenner.Errorf(kenner.EInvalid, "--from: %v", err)
	}
	return db, dialect, nil
}

// mysqlDSN turns mysql://user:pass@host:port/db?params into the driver's form, reading times
// as UTC time values.
func mysqlDSN(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", kenner.Errorf(kenner.EInvalid, "--from: %v", err)
	}
	c := mysql.NewConfig()
	c.User = u.User.Username()
	c.Passwd, _ = u.User.Password()
	c.Net, c.Addr = "tcp", u.Host
	if u.Port() == "" {
		c.Addr = u.Host + ":3306"
	}
	c.DBName = strings.TrimPrefix(u.Path, "/")
	c.ParseTime, c.Loc = true, time.UTC
	c.Params = map[string]string{}
	for k, v := range u.Query() {
		c.Params[k] = v[0]
	}
	return c.FormatDSN(), nil
}

// Probe runs the sync's query for no rows: the table or query and its columns are there.
func (s *Source) Probe(ctx context.Context) error {
	q, args := s.query(Cursor{})
	rows, err := s.db.QueryContext(ctx, q+" LIMIT 0", args...)
	if err != nil {
		return kenner.Errorf(kenner.EInvalid, "query the %s database: %v", s.dialect, err)
	}
	return rows.Close()
}

// Close closes the connection.
func (s *Source) Close() error { return s.db.Close() }

func (s *Source) quote(name string) string {
	q := `"`
	if s.dialect == "mysql" {
		q = "`"
	}
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = q + p + q
	}
	return strings.Join(parts, ".")
}

func (s *Source) param(n int) string {
	if s.dialect == "mysql" {
		return "?"
	}
	return fmt.Sprintf("$%d", n)
}

// query is the SQL that reads the rows after c, in cursor order.
func (s *Source) query(c Cursor) (string, []any) {
	from := s.quote(s.spec.Table)
	if s.spec.Query != "" {
		from = "(" + strings.TrimRight(strings.TrimSpace(s.spec.Query), ";") + ")"
	}
	cur := "kenner_sync." + s.quote(s.spec.CursorColumn)
	q := "SELECT * FROM " + from + " AS kenner_sync"
	order := " ORDER BY " + cur
	var args []any
	if s.spec.IDColumn != "" {
		id := "kenner_sync." + s.quote(s.spec.IDColumn)
		order += ", " + id
		if c.Value != "" {
			q += fmt.Sprintf(" WHERE %s > %s OR (%s = %s AND %s > %s)", cur, s.param(1), cur, s.param(2), id, s.param(3))
			args = []any{c.Value, c.Value, c.ID}
		}
	} else if c.Value != "" {
		q += fmt.Sprintf(" WHERE %s > %s", cur, s.param(1))
		args = []any{c.Value}
	}
	return q + order, args
}

// Read writes the rows after c to w as NDJSON, in cursor order, and returns the cursor of the
// last row written and how many rows there were. The cursor column's values must not be
// null.
func (s *Source) Read(ctx context.Context, c Cursor, w io.Writer) (Cursor, int, error) {
	return s.ReadEach(ctx, c, w, nil)
}

// ReadEach is Read calling each, when not nil, with every row written and its id column's
// value (as Keys gives it; "" without an id column).
func (s *Source) ReadEach(ctx context.Context, c Cursor, w io.Writer, each func(id string, row map[string]any)) (Cursor, int, error) {
	q, args := s.query(c)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return c, 0, kenner.Errorf(kenner.EInvalid, "query the %s database: %v", s.dialect, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return c, 0, err
	}
	curIdx, idIdx := -1, -1
	for i, col := range cols {
		if col == lastPart(s.spec.CursorColumn) {
			curIdx = i
		}
		if s.spec.IDColumn != "" && col == lastPart(s.spec.IDColumn) {
			idIdx = i
		}
	}
	if curIdx < 0 || (s.spec.IDColumn != "" && idIdx < 0) {
		return c, 0, kenner.Errorf(kenner.EInvalid, "the rows have no column %q (columns: %s)", s.spec.CursorColumn, strings.Join(cols, ", "))
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	enc := json.NewEncoder(w)
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return c, n, err
		}
		obj := make(map[string]any, len(cols))
		for i, col := range cols {
			obj[col] = jsonValue(vals[i])
		}
		if each != nil {
			id := ""
			if idIdx >= 0 {
				id = s.cursorValue(vals[idIdx])
			}
			each(id, obj)
		}
		if err := enc.Encode(obj); err != nil {
			return c, n, err
		}
		if vals[curIdx] == nil {
			return c, n, kenner.Errorf(kenner.EInvalid, "a row has no value in the cursor column %q", s.spec.CursorColumn)
		}
		c.Value = s.cursorValue(vals[curIdx])
		if idIdx >= 0 {
			c.ID = s.cursorValue(vals[idIdx])
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return c, n, fmt.Errorf("read rows: %w", err)
	}
	return c, n, nil
}

// Keys reads the id column of every row of the table or query: the rows the source holds now,
// to tell which ones were deleted.
func (s *Source) Keys(ctx context.Context) (map[string]struct{}, error) {
	if s.spec.IDColumn == "" {
		return nil, kenner.Errorf(kenner.EInvalid, "telling deleted rows needs an id column")
	}
	from := s.quote(s.spec.Table)
	if s.spec.Query != "" {
		from = "(" + strings.TrimRight(strings.TrimSpace(s.spec.Query), ";") + ")"
	}
	rows, err := s.db.QueryContext(ctx, "SELECT kenner_sync."+s.quote(lastPart(s.spec.IDColumn))+" FROM "+from+" AS kenner_sync")
	if err != nil {
		return nil, kenner.Errorf(kenner.EInvalid, "query the %s database: %v", s.dialect, err)
	}
	defer rows.Close()
	keys := map[string]struct{}{}
	for rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		if v != nil {
			keys[s.cursorValue(v)] = struct{}{}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	return keys, nil
}

func lastPart(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// cursorValue writes a value as the database reads it back as a query parameter.
func (s *Source) cursorValue(v any) string {
	if t, ok := v.(time.Time); ok {
		if s.dialect == "mysql" {
			return t.UTC().Format("2006-01-02 15:04:05.999999")
		}
		return t.Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(jsonValue(v))
	var str string
	if json.Unmarshal(b, &str) == nil {
		return str
	}
	return string(b)
}

// jsonValue is a column value as JSON: times in RFC 3339, text as strings.
func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return x // base64, as encoding/json writes bytes
	}
	return v
}
