package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/standardize"
)

const importCSV = "id;email;phone;country\n" +
	"u1; Ada@Example.COM ;030 1234567;Deutschland\n" +
	"u2;grace@example.com;+1 415 555 2671;USA\n" +
	";nobody@example.com;;FR\n"

func withStandardization(sc *stackConfig) {
	rules, err := standardize.NewRules(nil, "DE")
	if err != nil {
		panic(err)
	}
	sc.ingest.Standardize = rules
}

// postImport sends a file as the request body, settings in the query string.
func (s *stack) postImport(t *testing.T, token string, q url.Values, file string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url+"/v1/imports?"+q.Encode(), strings.NewReader(file))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "text/csv")
	return doJSON(t, req)
}

func doJSON(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %s", resp.Status, b)
	}
	return resp.StatusCode, out
}

func TestImportAPI(t *testing.T) {
	s := newStack(t, withStandardization)
	admin := s.tokens[kenner.RoleAdmin]
	mapping := "columns: {id: userId, email: traits.email, phone: traits.phone, country: traits.country}"
	q := url.Values{"source": {"web"}, "type": {"identify"}, "mapping": {mapping}, "file": {"crm.csv"}}

	code, rep := s.postImport(t, admin, q, importCSV)
	if code != 200 {
		t.Fatalf("POST /v1/imports: %d %v", code, rep)
	}
	if rep["rows"] != 3.0 || rep["imported"] != 2.0 || rep["rejected"] != 1.0 || rep["status"] != "done" || rep["file"] != "crm.csv" {
		t.Fatalf("report: %v", rep)
	}
	rejects := rep["rejects"].([]any)
	if r := rejects[0].(map[string]any); r["line"] != 4.0 || !strings.Contains(r["reason"].(string), "no identifier") {
		t.Errorf("reject: %v", r)
	}

	// The profile has the standardized values, and the originals in the traits' provenance.
	var traits map[string]any
	waitFor(t, func() bool {
		code, out := s.do(t, "GET", "/v1/profiles/user_id:u1/traits", admin, "")
		traits, _ = out["traits"].(map[string]any)
		return code == 200 && traits["country"] != nil
	})
	email := traits["email"].(map[string]any)
	if email["value"] != "ada@example.com" || email["original"] != " Ada@Example.COM " {
		t.Errorf("email trait: %v", email)
	}
	if c := traits["country"].(map[string]any); c["value"] != "DE" || c["original"] != "Deutschland" {
		t.Errorf("country trait: %v", c)
	}
	code, prof := s.do(t, "GET", "/v1/profiles/email:ada@example.com", admin, "")
	if code != 200 || prof["traits"].(map[string]any)["phone"] != "+49301234567" {
		t.Errorf("profile by email: %d %v", code, prof)
	}
	// A viewer sees the original masked too.
	_, vt := s.do(t, "GET", "/v1/profiles/id:"+prof["id"].(string)+"/traits", s.tokens[kenner.RoleViewer], "")
	if b, _ := json.Marshal(vt); bytes.Contains(b, []byte("Ada@Example")) {
		t.Errorf("a viewer sees the original email: %s", b)
	}

	// The same file as multipart: nothing new.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("source", "web")
	mw.WriteField("type", "identify")
	mw.WriteField("mapping", mapping)
	fw, _ := mw.CreateFormFile("file", "crm.csv")
	fw.Write([]byte(importCSV))
	mw.Close()
	req, _ := http.NewRequest("POST", s.url+"/v1/imports", &body)
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	code, again := doJSON(t, req)
	if code != 200 || again["imported"] != 0.0 || again["duplicates"] != 2.0 {
		t.Errorf("second import: %d %v", code, again)
	}

	// Both are listed, newest first, and can be fetched.
	code, list := s.do(t, "GET", "/v1/imports", admin, "")
	imports := list["imports"].([]any)
	if code != 200 || len(imports) != 2 || imports[0].(map[string]any)["id"] != again["id"] {
		t.Fatalf("list: %d %v", code, list)
	}
	code, got := s.do(t, "GET", "/v1/imports/"+rep["id"].(string), admin, "")
	if code != 200 || got["imported"] != 2.0 || len(got["rejects"].([]any)) != 1 {
		t.Errorf("get: %d %v", code, got)
	}
}

func TestImportAPIErrors(t *testing.T) {
	s := newStack(t)
	admin := s.tokens[kenner.RoleAdmin]
	good := "columns: {id: userId}"
	for _, tc := range []struct {
		name  string
		token string
		q     url.Values
		code  int
		want  string
	}{
		{"no source", admin, url.Values{"type": {"identify"}, "mapping": {good}}, 400, "source is required"},
		{"unknown source", admin, url.Values{"source": {"nope"}, "type": {"identify"}, "mapping": {good}}, 404, "no source"},
		{"bad mapping", admin, url.Values{"source": {"web"}, "type": {"identify"}, "mapping": {"columns: [1,2"}}, 400, "mapping"},
		{"column not in file", admin, url.Values{"source": {"web"}, "type": {"identify"}, "mapping": {"columns: {uid: userId}"}}, 400, `"uid"`},
		{"bad type", admin, url.Values{"source": {"web"}, "type": {"buy"}, "mapping": {good}}, 400, "import type"},
		{"marketer", s.tokens[kenner.RoleMarketer], url.Values{"source": {"web"}, "type": {"identify"}, "mapping": {good}}, 403, "admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := s.postImport(t, tc.token, tc.q, importCSV)
			e, _ := out["error"].(map[string]any)
			if code != tc.code || e == nil || !strings.Contains(e["message"].(string), tc.want) {
				t.Errorf("got %d %v, want %d with %q", code, out, tc.code, tc.want)
			}
		})
	}
}
