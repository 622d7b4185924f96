package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// febrlRunParams are the comparisons and blocking rules for the Febrl person records, as a
// match run's parameters.
const febrlRunParams = `"fields": [
	{"name": "given_name", "kind": "name", "tf": true}, {"name": "surname", "kind": "name", "tf": true},
	{"name": "street_number", "kind": "code"}, {"name": "address_1", "kind": "text"}, {"name": "address_2", "kind": "text"},
	{"name": "suburb", "kind": "text", "tf": true}, {"name": "postcode", "kind": "code"}, {"name": "state", "kind": "exact"},
	{"name": "date_of_birth", "kind": "code"}, {"name": "soc_sec_id", "kind": "code"}],
"blocking": [{"fields": ["postcode"]}, {"fields": ["date_of_birth"]}, {"fields": ["soc_sec_id"]},
	{"fields": ["given_name", "surname"], "phonetic": true}]`

// importFebrl imports Febrl files through kenner import: each record an identify call with
// its rec_id as the external id febrl_id (and as its anonymous id), the other columns as
// traits. It returns the rec_ids.
func importFebrl(t *testing.T, url, token string, files []string, extra ...string) []string {
	t.Helper()
	dir := sharedData(t, "febrl")
	tmp := t.TempDir()
	var out strings.Builder
	w := csv.NewWriter(&out)
	var header []string
	var ids []string
	for _, name := range files {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if header == nil {
			for _, h := range rows[0] {
				header = append(header, strings.TrimSpace(h))
			}
			w.Write(append([]string{"anon"}, header...))
		}
		for _, row := range rows[1:] {
			for i := range row {
				row[i] = strings.TrimSpace(row[i])
			}
			ids = append(ids, row[0])
			w.Write(append([]string{row[0]}, row...))
		}
	}
	w.Flush()
	file := filepath.Join(tmp, "people.csv")
	os.WriteFile(file, []byte(out.String()), 0o600)
	mapping := "columns:\n  anon: anonymousId\n  rec_id: traits.febrl_id\n"
	for _, h := range header[1:] {
		mapping += fmt.Sprintf("  %s: traits.%s\n", h, h)
	}
	mapFile := filepath.Join(tmp, "map.yaml")
	os.WriteFile(mapFile, []byte(mapping), 0o600)
	code, stdout, stderr := runCLI(t, append([]string{"import", file, "--url", url, "--token", token, "--as", "identify", "--map", mapFile}, extra...)...)
	if code != 0 {
		t.Fatalf("import: %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("import %v: %s", files, strings.TrimSpace(stdout))
	return ids
}

// awaitMatchRun polls a run until it ends and returns it.
func awaitMatchRun(t *testing.T, api func(method, path, body string) (int, map[string]any), id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		code, run := api("GET", "/v1/match/runs/"+id, "")
		if code != 200 {
			t.Fatalf("match run: %d %v", code, run)
		}
		if run["status"] != "running" {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("match run still running: %v", run)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func startMatchRun(t *testing.T, api func(method, path, body string) (int, map[string]any), body string) map[string]any {
	t.Helper()
	code, run := api("POST", "/v1/match/runs", body)
	if code != 202 {
		t.Fatalf("start match run: %d %v", code, run)
	}
	run = awaitMatchRun(t, api, run["id"].(string))
	if run["status"] != "done" {
		t.Fatalf("match run: %v", run)
	}
	return run
}

// febrlClusters reads back from the profile API which records share a profile: every
// record's profile, by its febrl_id, and the febrl_ids it holds.
func febrlClusters(t *testing.T, api func(method, path, body string) (int, map[string]any), ids []string) map[string][]string {
	t.Helper()
	clusters := map[string][]string{}
	for _, id := range ids {
		code, p := api("GET", "/v1/profiles/"+url.PathEscape("febrl_id:"+id), "")
		if code != 200 {
			t.Fatalf("profile of %s: %d %v", id, code, p)
		}
		pid := p["id"].(string)
		if _, ok := clusters[pid]; ok {
			continue
		}
		for _, idt := range p["identities"].([]any) {
			if m := idt.(map[string]any); m["kind"] == "febrl_id" {
				clusters[pid] = append(clusters[pid], m["value"].(string))
			}
		}
	}
	return clusters
}

// pairScores scores the pairs of records sharing a profile against the truth (rec-N-...: the
// same N is the same person); cross, when set, counts only pairs it accepts.
func pairScores(ids []string, clusters map[string][]string, cross func(a, b string) bool) (precision, recall, f1 float64, predicted int) {
	person := func(id string) string { return strings.Split(id, "-")[1] }
	count := func(groups [][]string, right bool) (n, ok int) {
		for _, g := range groups {
			for i := range g {
				for j := i + 1; j < len(g); j++ {
					if cross != nil && !cross(g[i], g[j]) {
						continue
					}
					n++
					if person(g[i]) == person(g[j]) {
						ok++
					}
				}
			}
		}
		return n, ok
	}
	var pred [][]string
	for _, g := range clusters {
		pred = append(pred, g)
	}
	byPerson := map[string][]string{}
	for _, id := range ids {
		byPerson[person(id)] = append(byPerson[person(id)], id)
	}
	var truth [][]string
	for _, g := range byPerson {
		truth = append(truth, g)
	}
	n, right := count(pred, true)
	all, _ := count(truth, true)
	precision, recall = float64(right)/float64(n), float64(right)/float64(all)
	return precision, recall, 2 * precision * recall / (precision + recall), n
}

// febrlServer starts a server that knows febrl_id as an external id kind.
func febrlServer(t *testing.T) (*child, initialCredentials, func(method, path, body string) (int, map[string]any)) {
	t.Helper()
	sharedData(t, "febrl")
	data := t.TempDir()
	s := startServer(t, data, "--external-ids", "febrl_id")
	creds := credentialsOf(t, data)
	return s, creds, adminAPI(t, s.url, creds.AdminToken)
}

// TestMatchFebrlLinkage goes through the product: Febrl's 4a and 4b files (5,000 people in
// each, each person once in each) are imported into one workspace, a match run over the
// workspace merges the records that name one person, and the merges read back from the
// profile API are scored against the truth.
func TestMatchFebrlLinkage(t *testing.T) {
	s, creds, api := febrlServer(t)
	// 4a first; then 4b with --match: its records are matched against the profiles of 4a
	// (and each other) as the import ends.
	ids := importFebrl(t, s.url, creds.AdminToken, []string{"dataset4a.csv"})
	params := filepath.Join(t.TempDir(), "params.json")
	os.WriteFile(params, []byte(`{`+febrlRunParams+`}`), 0o600)
	start := time.Now()
	ids = append(ids, importFebrl(t, s.url, creds.AdminToken, []string{"dataset4b.csv"}, "--match-params", params)...)
	t.Logf("4b imported and matched in %v", time.Since(start))
	code, runs := api("GET", "/v1/match/runs", "")
	if code != 200 || len(runs["runs"].([]any)) != 1 {
		t.Fatalf("runs: %d %v", code, runs)
	}
	run := runs["runs"].([]any)[0].(map[string]any)
	if run["status"] != "done" {
		t.Fatalf("the import's match run: %v", run)
	}
	res := run["result"].(map[string]any)
	t.Logf("run: %v; candidate pairs per rule %v, λ %v, thresholds %v / %v, seconds %v", run["message"], res["candidate_pairs_per_rule"],
		res["model"].(map[string]any)["lambda"], res["merge_weight"], res["review_weight"], res["seconds"])
	clusters := febrlClusters(t, api, ids)
	cross := func(a, b string) bool { return strings.HasSuffix(a, "-org") != strings.HasSuffix(b, "-org") }
	precision, recall, f1, n := pairScores(ids, clusters, cross)
	t.Logf("4a × 4b through the product: %d pairs merged across the files; precision %.4f, recall %.4f, F1 %.4f", n, precision, recall, f1)
	if precision < 0.99 || recall < 0.99 {
		t.Errorf("precision %.4f, recall %.4f: want both >= 0.99", precision, recall)
	}
}

// TestMatchFebrlDedupe deduplicates Febrl's dataset3 (5,000 records of 2,000 people with up to
// 5 duplicates each) through the product and scores the pairs.
func TestMatchFebrlDedupe(t *testing.T) {
	s, creds, api := febrlServer(t)
	ids := importFebrl(t, s.url, creds.AdminToken, []string{"dataset3.csv"})

	// A dry run says what would merge, and merges nothing.
	dry := startMatchRun(t, api, `{"dry_run": true, `+febrlRunParams+`}`)
	res := dry["result"].(map[string]any)
	if res["records"].(float64) != 5000 || res["merges"].(float64) < 2900 || len(res["would_merge"].([]any)) == 0 || len(res["threshold_curve"].([]any)) < 10 {
		t.Errorf("dry run: %v", dry)
	}
	if code, p := api("GET", "/v1/profiles/febrl_id:rec-0-org", ""); code != 200 || len(p["identities"].([]any)) != 2 {
		t.Fatalf("after a dry run: %d %v, want the record alone", code, p)
	}
	run := startMatchRun(t, api, `{`+febrlRunParams+`}`)
	t.Logf("run: %v", run["message"])

	// The merges are recorded as probabilistic, with the weight and each field's part.
	code, m := api("GET", "/v1/profiles/febrl_id:rec-264-org/merges", "")
	if code != 200 {
		t.Fatalf("merges: %d %v", code, m)
	}
	var found bool
	for _, d := range m["merges"].([]any) {
		d := d.(map[string]any)
		if d["action"] == "probabilistic" && strings.Contains(d["reason"].(string), "weight") && strings.Contains(d["reason"].(string), "surname") {
			found = true
		}
	}
	if !found {
		t.Errorf("merges of rec-264: %v, want a probabilistic merge with its weight and fields", m["merges"])
	}
	precision, recall, f1, n := pairScores(ids, febrlClusters(t, api, ids), nil)
	t.Logf("dataset3 through the product: %d pairs; precision %.4f, recall %.4f, F1 %.4f", n, precision, recall, f1)
	if f1 < 0.95 {
		t.Errorf("F1 %.4f, want >= 0.95", f1)
	}
}

// TestMatchReviewAndSplit: a pair a person rejects never comes back, to review or to merge;
// a pair accepted is merged as probabilistic and split back exactly; a merge a run made is
// split back exactly and the next run leaves it split.
func TestMatchReviewAndSplit(t *testing.T) {
	s, creds, api := febrlServer(t)
	importFebrl(t, s.url, creds.AdminToken, []string{"dataset2.csv"})
	identities := func(ref string) []string {
		t.Helper()
		path, query, _ := strings.Cut(ref, "?")
		code, p := api("GET", "/v1/profiles/"+url.PathEscape(path)+"?"+query, "")
		if code != 200 {
			t.Fatalf("profile %s: %d %v", ref, code, p)
		}
		var out []string
		for _, idt := range p["identities"].([]any) {
			m := idt.(map[string]any)
			out = append(out, m["kind"].(string)+":"+m["value"].(string))
		}
		slices.Sort(out)
		return out
	}
	// Merge only the sure pairs, and send a wide band below to review.
	params := `{"merge_probability": 0.999999, "review_probability": 0.001, ` + febrlRunParams + `}`
	run := startMatchRun(t, api, params)
	t.Logf("run: %v", run["message"])
	code, list := api("GET", "/v1/match/reviews?limit=500", "")
	if code != 200 {
		t.Fatalf("reviews: %d %v", code, list)
	}
	reviews := list["reviews"].([]any)
	if len(reviews) < 2 {
		t.Fatalf("%d reviews, want at least two to decide", len(reviews))
	}
	side := func(rv map[string]any, s string) map[string]any { return rv[s].(map[string]any) }
	febrlID := func(sd map[string]any) string {
		for _, id := range sd["identifiers"].([]any) {
			if m := id.(map[string]any); m["kind"] == "febrl_id" {
				return m["value"].(string)
			}
		}
		t.Fatalf("side without a febrl_id: %v", sd)
		return ""
	}
	rejected, accepted := reviews[0].(map[string]any), reviews[1].(map[string]any)
	if len(side(rejected, "a")["values"].(map[string]any)) == 0 || len(rejected["fields"].([]any)) == 0 {
		t.Errorf("a review without the records side by side or the fields: %v", rejected)
	}
	ra, rb := febrlID(side(rejected, "a")), febrlID(side(rejected, "b"))
	if code, rv := api("POST", fmt.Sprintf("/v1/match/reviews/%v/reject", rejected["id"]), ""); code != 200 || rv["status"] != "rejected" {
		t.Fatalf("reject: %d %v", code, rv)
	}
	if code, rv := api("POST", fmt.Sprintf("/v1/match/reviews/%v/reject", rejected["id"]), ""); code != 409 {
		t.Errorf("reject twice: %d %v, want 409", code, rv)
	}

	aa, ab := febrlID(side(accepted, "a")), febrlID(side(accepted, "b"))
	beforeA, beforeB := identities("febrl_id:"+aa), identities("febrl_id:"+ab)
	if code, rv := api("POST", fmt.Sprintf("/v1/match/reviews/%v/accept", accepted["id"]), ""); code != 200 || rv["status"] != "accepted" {
		t.Fatalf("accept: %d %v", code, rv)
	}
	merged := identities("febrl_id:" + aa + "?consistent=true")
	if want := slices.Sorted(slices.Values(slices.Concat(beforeA, beforeB))); !slices.Equal(merged, want) {
		t.Fatalf("after accepting: %v, want %v", merged, want)
	}
	code, m := api("GET", "/v1/profiles/"+url.PathEscape("febrl_id:"+aa)+"/merges", "")
	if code != 200 || !strings.Contains(fmt.Sprint(m["merges"]), "accepted in review") {
		t.Errorf("merges after accepting: %d %v", code, m)
	}
	// Split back exactly: the identifiers B had go out.
	var out []map[string]string
	for _, id := range beforeB {
		kind, value, _ := strings.Cut(id, ":")
		out = append(out, map[string]string{"kind": kind, "value": value})
	}
	body, _ := json.Marshal(map[string]any{"identifiers": out})
	if code, r := api("POST", "/v1/profiles/"+url.PathEscape("febrl_id:"+aa)+"/split", string(body)); code != 200 {
		t.Fatalf("split: %d %v", code, r)
	}
	if got := identities("febrl_id:" + aa); !slices.Equal(got, beforeA) {
		t.Errorf("after the split: %v, want %v", got, beforeA)
	}
	if got := identities("febrl_id:" + ab); !slices.Equal(got, beforeB) {
		t.Errorf("after the split: %v, want %v", got, beforeB)
	}

	// The same run again: the rejected pair neither merges nor comes back to review, and the
	// split pair stays split.
	rerun := startMatchRun(t, api, `{"review_probability": 0.001, `+febrlRunParams+`}`)
	skipped := rerun["result"].(map[string]any)["skipped"].(map[string]any)
	t.Logf("rerun: %v, skipped %v", rerun["message"], skipped)
	if skipped["rejected in review"] == nil || skipped["split apart before"] == nil {
		t.Errorf("rerun skipped %v, want the rejected pair and the split pair", skipped)
	}
	if got := identities("febrl_id:" + ra + "?consistent=true"); slices.Contains(got, "febrl_id:"+rb) {
		t.Errorf("the rejected pair merged: %v", got)
	}
	if got := identities("febrl_id:" + aa); !slices.Equal(got, beforeA) {
		t.Errorf("the split pair merged again: %v, want %v", got, beforeA)
	}
	code, list = api("GET", "/v1/match/reviews?status=any&limit=500", "")
	for _, rv := range list["reviews"].([]any) {
		rv := rv.(map[string]any)
		a, b := febrlID(side(rv, "a")), febrlID(side(rv, "b"))
		if rv["status"] == "pending" && (a == ra && b == rb || a == rb && b == ra) {
			t.Errorf("the rejected pair is back in review: %v", rv)
		}
	}
}

// TestImportMatchNeedsServer: --match runs on a server; without --url the import says so and
// exits 2 before it reads anything.
func TestImportMatchNeedsServer(t *testing.T) {
	csv, mapping := writeImportFiles(t)
	code, _, stderr := runCLI(t, "import", csv, "--data", t.TempDir(), "--as", "identify", "--map", mapping, "--match")
	if code != 2 || !strings.Contains(stderr, "--match runs on the server") {
		t.Errorf("import --match without --url: exit %d, %q", code, stderr)
	}
}
