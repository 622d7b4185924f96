package importer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/importer"
	"github.com/kenner-cdp/kenner/ingest"
	"github.com/kenner-cdp/kenner/nats"
	"github.com/kenner-cdp/kenner/sqlite"
	"github.com/kenner-cdp/kenner/standardize"
	"github.com/prometheus/client_golang/prometheus"
)

var src = &kenner.Source{ID: "src_crm", WorkspaceID: "ws", Name: "crm"}

type harness struct {
	log    *nats.Log
	imp    *importer.Importer
	sink   importer.Sink
	ledger importer.Ledger
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	ctx := context.Background()
	l, err := nats.Open(ctx, nats.Options{Dir: t.TempDir(), Partitions: 2}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kenner.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	rules, err := standardize.NewRules(nil, "DE")
	if err != nil {
		t.Fatal(err)
	}
	h := ingest.New(l, nil, ingest.NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler), ingest.Config{Standardize: rules})
	return &harness{log: l, imp: importer.New(h, store), sink: h, ledger: store}
}

func (h *harness) run(t *testing.T, file, mapping string, opts importer.Options) *kenner.Import {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if mapping != "" {
		data, err := os.ReadFile(filepath.Join("testdata", mapping))
		if err != nil {
			t.Fatal(err)
		}
		if opts.Mapping, err = importer.ParseMapping(data); err != nil {
			t.Fatal(err)
		}
	}
	rep := &kenner.Import{ID: "imp_test"}
	if err := h.imp.Run(t.Context(), src, f, opts, rep); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

// messages reads every message in the log, keyed by userId.
func (h *harness) messages(t *testing.T) map[string]map[string]any {
	t.Helper()
	heads, err := h.log.Heads(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for p, head := range heads {
		if head == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err := h.log.Read(ctx, p, 0, func(_ context.Context, recs []kenner.LogRecord) error {
			for _, r := range recs {
				for _, e := range r.Events {
					var m map[string]any
					if err := json.Unmarshal(e, &m); err != nil {
						t.Fatal(err)
					}
					id, _ := m["userId"].(string)
					if id == "" {
						id, _ = m["anonymousId"].(string)
					}
					out[id] = m
				}
				if r.Seq >= head {
					cancel()
				}
			}
			return nil
		})
		cancel()
		if err != nil && ctx.Err() == nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestMessyCSV(t *testing.T) {
	h := newHarness(t)
	var rejectedRaw []string
	rep := h.run(t, "customers.csv", "customers.yaml", importer.Options{Type: "identify",
		OnReject: func(_ kenner.ImportIssue, raw []byte) { rejectedRaw = append(rejectedRaw, string(raw)) }})

	counts := [5]int{rep.Rows, rep.Imported, rep.Duplicates, rep.Rejected, rep.Warnings}
	if want := [5]int{9, 5, 1, 3, 1}; counts != want {
		t.Errorf("rows, imported, duplicates, rejected, warnings = %v, want %v (rejects %+v)", counts, want, rep.Rejects)
	}
	wantRejects := []kenner.ImportIssue{
		{Line: 7, Reason: "no identifier: userId and anonymousId are both empty"},
		{Line: 8, Reason: "a quoted field is not closed before the end of the file"},
		{Line: 10, Reason: "9 fields, but the header has 8"},
	}
	if diff := cmp.Diff(wantRejects, rep.Rejects); diff != "" {
		t.Errorf("rejects (-want +got):\n%s", diff)
	}
	if len(rejectedRaw) != 3 || !strings.HasPrefix(rejectedRaw[1], `1005;"broken@`) {
		t.Errorf("rejected rows as read: %q", rejectedRaw)
	}
	if len(rep.Issues) != 1 || rep.Issues[0].Line != 9 || !strings.Contains(rep.Issues[0].Reason, "traits.phone") {
		t.Errorf("warnings: %+v", rep.Issues)
	}
	if rep.Status != kenner.ImportDone || rep.Format != "csv" || rep.Bytes == 0 {
		t.Errorf("status %q, format %q, bytes %d", rep.Status, rep.Format, rep.Bytes)
	}

	msgs := h.messages(t)
	traits := func(id string) map[string]any {
		m, ok := msgs[id]
		if !ok {
			t.Fatalf("no message for %s in the log (have %v)", id, keys(msgs))
		}
		return m["traits"].(map[string]any)
	}
	if diff := cmp.Diff(map[string]any{
		"email": "ada.lovelace@example.com", "phone": "+49301234567", "first_name": "Ada",
		"address": map[string]any{"country": "DE"}, "created_at": "2021-02-03", "plan": "pro",
		"notes": `likes "maths"; and poetry`,
	}, traits("1001")); diff != "" {
		t.Errorf("1001 traits (-want +got):\n%s", diff)
	}
	orig := msgs["1001"]["context"].(map[string]any)["original"].(map[string]any)["traits"].(map[string]any)
	if orig["email"] != "  ADA.Lovelace@Example.COM " || orig["phone"] != "030 1234567" {
		t.Errorf("originals of 1001: %v", orig)
	}
	for id, want := range map[string]map[string]any{
		"1002": {"phone": "+14155552671", "first_name": "Grace", "notes": "two\nlines"},
		"1003": {"phone": "+49307654321", "address": map[string]any{"country": "GB"}},
		"1006": {"phone": "call me", "first_name": "Katherine", "address": map[string]any{"country": "FR"}},
		"1008": {"phone": "+442079460958", "address": map[string]any{"country": "GB"}},
	} {
		got := traits(id)
		for k, v := range want {
			if diff := cmp.Diff(v, got[k]); diff != "" {
				t.Errorf("%s traits.%s (-want +got):\n%s", id, k, diff)
			}
		}
	}
	if _, ok := traits("1003")["notes"]; ok {
		t.Error("an empty cell set a trait")
	}
	if len(msgs) != 5 {
		t.Errorf("%d messages in the log, want 5: %v", len(msgs), keys(msgs))
	}

	// The same file again imports nothing: every row is known.
	again := h.run(t, "customers.csv", "customers.yaml", importer.Options{Type: "identify"})
	if again.Imported != 0 || again.Duplicates != 6 || again.Rejected != 3 {
		t.Errorf("second import: imported %d, duplicates %d, rejected %d; want 0, 6, 3", again.Imported, again.Duplicates, again.Rejected)
	}
}

func keys(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestEncodings(t *testing.T) {
	mapping := &importer.Mapping{Columns: map[string]importer.Column{"id": {Target: "userId"}, "name": {Target: "traits.last_name"}}}
	latin1 := []byte("id,name\n1,M\xfcller\n2,Fran\xe7ois\n")
	utf16 := []byte{0xFF, 0xFE}
	for _, r := range "id\tname\r\n1\tMüller\r\n2\tFrançois\r\n" {
		utf16 = append(utf16, byte(r), byte(r>>8))
	}
	for _, tc := range []struct {
		name, encoding string
		file           []byte
		imported       int
		rejected       int
	}{
		{"latin1 read as utf-8 is rejected row by row", "", latin1, 0, 2},
		{"latin1", "latin1", latin1, 2, 0},
		{"utf-16 with a byte order mark", "", utf16, 2, 0},
		{"utf-8 with a byte order mark", "", append([]byte("\xef\xbb\xbf"), "id,name\n1,Müller\n2,François\n"...), 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			m := *mapping
			m.Encoding = tc.encoding
			rep := &kenner.Import{}
			if err := h.imp.Run(t.Context(), src, bytes.NewReader(tc.file), importer.Options{Type: "identify", Mapping: &m}, rep); err != nil {
				t.Fatal(err)
			}
			if rep.Imported != tc.imported || rep.Rejected != tc.rejected {
				t.Fatalf("imported %d, rejected %d (%+v); want %d, %d", rep.Imported, rep.Rejected, rep.Rejects, tc.imported, tc.rejected)
			}
			if tc.rejected > 0 {
				if !strings.Contains(rep.Rejects[0].Reason, "latin1") {
					t.Errorf("reason %q does not say how to fix it", rep.Rejects[0].Reason)
				}
				return
			}
			msgs := h.messages(t)
			if got := msgs["1"]["traits"].(map[string]any)["last_name"]; got != "Müller" {
				t.Errorf("last_name = %q", got)
			}
			if got := msgs["2"]["traits"].(map[string]any)["last_name"]; got != "François" {
				t.Errorf("last_name = %q", got)
			}
		})
	}
}

func TestNDJSONAndTrack(t *testing.T) {
	h := newHarness(t)
	rep := h.run(t, "orders.ndjson", "orders.yaml", importer.Options{Type: "track"})
	if rep.Imported != 2 || rep.Rejected != 2 || rep.Format != "ndjson" {
		t.Fatalf("imported %d, rejected %d %+v, format %s", rep.Imported, rep.Rejected, rep.Rejects, rep.Format)
	}
	if diff := cmp.Diff([]kenner.ImportIssue{{Line: 3, Reason: "not valid JSON"}, {Line: 4, Reason: `column "order.total": not a number`}}, rep.Rejects); diff != "" {
		t.Errorf("rejects (-want +got):\n%s", diff)
	}
	m := h.messages(t)["u1"]
	if m["event"] != "Order Completed" || m["timestamp"] != "2024-03-01T10:30:00.000Z" {
		t.Errorf("event %v at %v", m["event"], m["timestamp"])
	}
	props := m["properties"].(map[string]any)
	if diff := cmp.Diff(map[string]any{"order_id": "A-1", "revenue": 1234.5, "currency": "EUR", "items": []any{"shoe", "sock"}}, props); diff != "" {
		t.Errorf("properties (-want +got):\n%s", diff)
	}
	if got := m["context"].(map[string]any)["traits"].(map[string]any)["email"]; got != "ada@example.com" {
		t.Errorf("context.traits.email = %v", got)
	}

	// A file of Segment messages imports as it is, with no mapping.
	h2 := newHarness(t)
	rep = h2.run(t, "segment.ndjson", "", importer.Options{Type: "track"})
	if rep.Imported != 2 || rep.Rejected != 1 {
		t.Fatalf("passthrough: imported %d, rejected %d %+v", rep.Imported, rep.Rejected, rep.Rejects)
	}
	if got := h2.messages(t)["u9"]["messageId"]; got != "m-9" {
		t.Errorf("messageId = %v, want the file's", got)
	}
}

func TestDryRunAppendsNothing(t *testing.T) {
	h := newHarness(t)
	rep := h.run(t, "customers.csv", "customers.yaml", importer.Options{Type: "identify", DryRun: true})
	if rep.Imported != 5 || len(rep.Sample) != 5 || !rep.DryRun {
		t.Fatalf("dry run: imported %d, sample %d", rep.Imported, len(rep.Sample))
	}
	if !strings.Contains(string(rep.Sample[0]), `"email":"ada.lovelace@example.com"`) {
		t.Errorf("sample is not standardized: %s", rep.Sample[0])
	}
	heads, _ := h.log.Heads(t.Context())
	for _, seq := range heads {
		if seq != 0 {
			t.Fatal("a dry run appended to the log")
		}
	}
	// Nor does it record keys: the real import afterwards imports everything.
	if rep := h.run(t, "customers.csv", "customers.yaml", importer.Options{Type: "identify"}); rep.Imported != 5 {
		t.Errorf("import after a dry run imported %d, want 5", rep.Imported)
	}
}

func TestMappingErrors(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct{ name, mapping, typ, want string }{
		{"column not in file", "columns: {Customer ID: userId, Mail: traits.email}", "identify", `column "Mail" of the mapping is not in the file`},
		{"unknown target", "columns: {Customer ID: user_id}", "identify", `unknown target "user_id"`},
		{"no identifier", "columns: {E-Mail: traits.email}", "identify", "neither userId nor anonymousId"},
		{"track without event", "columns: {Customer ID: userId}", "track", "needs an event name"},
		{"bad type", "columns: {Customer ID: userId}", "purchase", `import type "purchase"`},
		{"bad column type", "columns: {Customer ID: {target: userId, type: money}}", "identify", `unknown type "money"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := importer.ParseMapping([]byte(tc.mapping))
			if err != nil {
				t.Fatal(err)
			}
			f, _ := os.Open("testdata/customers.csv")
			defer f.Close()
			err = h.imp.Run(t.Context(), src, f, importer.Options{Type: tc.typ, Mapping: m}, &kenner.Import{})
			if kenner.ErrorCode(err) != kenner.EInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an invalid error containing %q", err, tc.want)
			}
		})
	}
	if _, err := importer.ParseMapping([]byte("colums: {a: userId}")); err == nil {
		t.Error("a misspelt key is accepted")
	}
}

func TestLayout(t *testing.T) {
	for in, want := range map[string]string{
		"DD.MM.YYYY HH:mm": "02.01.2006 15:04",
		"%d/%m/%Y %H:%M":   "02/01/2006 15:04",
		"2006-01-02":       "2006-01-02",
		"MM/DD/YY":         "01/02/06",
	} {
		if got := importer.Layout(in); got != want {
			t.Errorf("Layout(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteRejects(t *testing.T) {
	h := newHarness(t)
	rep := h.run(t, "customers.csv", "customers.yaml", importer.Options{Type: "identify"})
	f, _ := os.Open("testdata/customers.csv")
	defer f.Close()
	var out bytes.Buffer
	if err := importer.WriteRejects(f, nil, rep.Rejects, &out); err != nil {
		t.Fatal(err)
	}
	want := "_line;_reason;Customer ID;E-Mail;Phone;First Name;Country;Signed up;Plan;Notes\n" +
		"7;no identifier: userId and anonymousId are both empty;;nobody@example.com;;Nobody;FR;01.01.2020;free;no id here\n" +
		`8;a quoted field is not closed before the end of the file;1005;"broken@example.com;030 111;Broken;DE;01.01.2020;free;quote never closes` + "\n" +
		"10;9 fields, but the header has 8;1007;dorothy@example.com;030 222222;Dorothy;DE;01.01.2020;pro;extra;fields\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("rejects file (-want +got):\n%s", diff)
	}
}
