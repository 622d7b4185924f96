package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// hubspotAPI is a local receiver that checks requests against HubSpot's documented batch
// upsert (POST /crm/v3/objects/contacts/batch/upsert, Bearer token, {"inputs": [{"idProperty",
// "id", "properties": {name: text}}]}, at most 100) and answers as HubSpot does: 200, a 429
// with Retry-After when told to, and a 207 naming an input it refuses.
type hubspotAPI struct {
	t        *testing.T
	mu       sync.Mutex
	contacts map[string]map[string]string
	requests int
	limited  int // answer 429 this many times
	problems []string
}

func (h *hubspotAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests++
	bad := func(why string) {
		h.problems = append(h.problems, why)
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"status":"error","message":%q,"category":"VALIDATION_ERROR"}`, why)
	}
	if r.Method != "POST" || r.URL.Path != "/crm/v3/objects/contacts/batch/upsert" {
		bad("unexpected " + r.Method + " " + r.URL.Path)
		return
	}
	if r.Header.Get("Authorization") != "Bearer pat-na1-test" || r.Header.Get("Content-Type") != "application/json" {
		w.WriteHeader(http.StatusUnauthorized)
		h.problems = append(h.problems, "no token")
		return
	}
	if h.limited > 0 {
		h.limited--
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT","category":"RATE_LIMITS"}`)
		return
	}
	var body struct {
		Inputs []struct {
			IDProperty string         `json:"idProperty"`
			ID         string         `json:"id"`
			Properties map[string]any `json:"properties"`
		} `json:"inputs"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || len(body.Inputs) == 0 || len(body.Inputs) > 100 {
		bad(fmt.Sprintf("body: %v (%d inputs)", err, len(body.Inputs)))
		return
	}
	var results []map[string]any
	var errs []map[string]any
	for _, in := range body.Inputs {
		if in.IDProperty != "email" || in.ID == "" {
			bad("input without idProperty email and an id")
			return
		}
		props := map[string]string{}
		for k, v := range in.Properties {
			s, ok := v.(string)
			if !ok {
				bad(fmt.Sprintf("property %s is %T, not text", k, v))
				return
			}
			props[k] = s
		}
		if !strings.Contains(in.ID, "@") {
			errs = append(errs, map[string]any{"status": "error", "category": "VALIDATION_ERROR", "message": "Email address " + in.ID + " is invalid", "context": map[string]any{"ids": []string{in.ID}}})
			continue
		}
		if h.contacts[in.ID] == nil {
			h.contacts[in.ID] = map[string]string{}
		}
		for k, v := range props {
			h.contacts[in.ID][k] = v
		}
		results = append(results, map[string]any{"id": fmt.Sprint(len(h.contacts)), "properties": props, "new": true})
	}
	out := map[string]any{"status": "COMPLETE", "results": results}
	if len(errs) > 0 {
		out["errors"], out["numErrors"] = errs, len(errs)
		w.WriteHeader(http.StatusMultiStatus)
	}
	json.NewEncoder(w).Encode(out)
}

// salesforceAPI checks the OAuth 2.0 client credentials sign-in and the sObject Collections
// upsert by external ID (PATCH /services/data/v60.0/composite/sobjects/Lead/Kenner_Id__c,
// {"allOrNone": false, "records": [{"attributes": {"type": "Lead"}, ...}]}, at most 200), and
// answers one result per record; the first token expires after one use.
type salesforceAPI struct {
	t        *testing.T
	mu       sync.Mutex
	tokens   int
	live     string
	records  map[string]map[string]any
	problems []string
}

func (s *salesforceAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path == "/services/oauth2/token" {
		b, _ := io.ReadAll(r.Body)
		f, _ := url.ParseQuery(string(b))
		if r.Method != "POST" || f.Get("grant_type") != "client_credentials" || f.Get("client_id") != "3MVG-app" || f.Get("client_secret") != "sf-secret" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"invalid client credentials"}`)
			return
		}
		s.tokens++
		s.live = fmt.Sprintf("00Dtoken%d", s.tokens)
		fmt.Fprintf(w, `{"access_token":%q,"instance_url":"http://%s","token_type":"Bearer","issued_at":"1707929340000"}`, s.live, r.Host)
		return
	}
	if r.Method != "PATCH" || r.URL.Path != "/services/data/v60.0/composite/sobjects/Lead/Kenner_Id__c" {
		s.problems = append(s.problems, "unexpected "+r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.live {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`)
		return
	}
	if s.tokens == 1 {
		s.live = "" // the first session expires after one use: the sender must sign in again
	}
	var body struct {
		AllOrNone bool             `json:"allOrNone"`
		Records   []map[string]any `json:"records"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Records) == 0 || len(body.Records) > 200 || body.AllOrNone {
		s.problems = append(s.problems, fmt.Sprintf("body %v", err))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var out []map[string]any
	for _, rec := range body.Records {
		attrs, _ := rec["attributes"].(map[string]any)
		id, _ := rec["Kenner_Id__c"].(string)
		if attrs["type"] != "Lead" || id == "" {
			s.problems = append(s.problems, fmt.Sprintf("record %v", rec))
		}
		if rec["LastName"] == nil || rec["Company"] == nil {
			out = append(out, map[string]any{"success": false, "errors": []map[string]any{{"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [LastName, Company]", "fields": []string{"LastName", "Company"}}}})
			continue
		}
		_, existed := s.records[id]
		s.records[id] = rec
		out = append(out, map[string]any{"id": "00Q" + id, "success": true, "errors": []any{}, "created": !existed})
	}
	json.NewEncoder(w).Encode(out)
}

// TestCRMHandOff: a lead crossing into MQL is upserted into HubSpot (by email, its stage in
// lifecyclestage) and Salesforce (a Lead by external ID, its stage in Status, its score),
// through the documented APIs, waiting out HubSpot's rate limit and signing in to Salesforce
// again when the session expires; a person HubSpot or Salesforce refuses is dead-lettered alone.
func TestCRMHandOff(t *testing.T) {
	hs := &hubspotAPI{t: t, contacts: map[string]map[string]string{}, limited: 1}
	hsrv := httptest.NewServer(hs)
	defer hsrv.Close()
	sf := &salesforceAPI{t: t, records: map[string]map[string]any{}}
	ssrv := httptest.NewServer(sf)
	defer ssrv.Close()

	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	api := adminAPI(t, s.url, creds.AdminToken)
	send := batchSender(t, s.url, creds.WriteKey)
	for _, bad := range []string{
		`{"name":"h","type":"hubspot","config":{},"subscribe":{"leads":true}}`,
		`{"name":"h","type":"hubspot","batch_size":500,"config":{"access_token":"x"},"subscribe":{"leads":true}}`,
		`{"name":"s","type":"salesforce","config":{"instance_url":"` + ssrv.URL + `","client_id":"a"},"subscribe":{"leads":true}}`,
		`{"name":"s","type":"salesforce","config":{"instance_url":"` + ssrv.URL + `","access_token":"t"},"subscribe":{"leads":true}}`,
	} {
		if code, out := api("POST", "/v1/destinations", bad); code != 400 {
			t.Errorf("%s: %d %v, want 400", bad, code, out)
		}
	}
	code, hd := api("POST", "/v1/destinations", `{"name":"hubspot","type":"hubspot","batch_size":100,"max_attempts":6,
		"config":{"access_token":"pat-na1-test","base_url":"`+hsrv.URL+`","stage_property":"lifecyclestage","stages":{"MQL":"marketingqualifiedlead"}},
		"subscribe":{"leads":true}}`)
	if code != 201 || hd["config"].(map[string]any)["access_token"] != "(set)" {
		t.Fatalf("hubspot destination: %d %v", code, hd)
	}
	if code, sd := api("POST", "/v1/destinations", `{"name":"salesforce","type":"salesforce","batch_size":200,"max_attempts":6,
		"config":{"instance_url":"`+ssrv.URL+`","client_id":"3MVG-app","client_secret":"sf-secret","external_id_field":"Kenner_Id__c",
		          "stage_field":"Status","stages":{"MQL":"Working - Contacted"},"score_field":"Lead_Score__c"},
		"subscribe":{"leads":true}}`); code != 201 {
		t.Fatalf("salesforce destination: %d %v", code, sd)
	}
	if code, m := api("POST", "/v1/models", `{"name":"lead","kind":"lead","rules":[{"event":"Demo Requested","points":60}],
		"stages":[{"name":"subscriber","threshold":0},{"name":"MQL","threshold":50}]}`); code != 201 {
		t.Fatalf("lead model: %d %v", code, m)
	}
	send(`{"batch":[
		{"type":"identify","userId":"l1","traits":{"email":"ada@acme.example","first_name":"Ada","last_name":"Lovelace","company":"Acme","title":"CTO"}},
		{"type":"identify","userId":"l2","traits":{"email":"not-an-email","first_name":"Bob"}},
		{"type":"track","userId":"l1","event":"Demo Requested"},
		{"type":"track","userId":"l2","event":"Demo Requested"}]}`)

	waitUntil(t, "Ada in HubSpot and Salesforce", func() bool {
		hs.mu.Lock()
		defer hs.mu.Unlock()
		sf.mu.Lock()
		defer sf.mu.Unlock()
		return hs.contacts["ada@acme.example"] != nil && sf.records["l1"] != nil
	})
	hs.mu.Lock()
	c := hs.contacts["ada@acme.example"]
	if c["firstname"] != "Ada" || c["lastname"] != "Lovelace" || c["company"] != "Acme" || c["jobtitle"] != "CTO" || c["lifecyclestage"] != "marketingqualifiedlead" {
		t.Errorf("HubSpot contact %v", c)
	}
	if hs.requests < 2 {
		t.Errorf("the 429 was not waited out: %d requests", hs.requests)
	}
	if len(hs.problems) > 0 {
		t.Errorf("HubSpot requests off the documented shape: %v", hs.problems)
	}
	hs.mu.Unlock()
	sf.mu.Lock()
	r := sf.records["l1"]
	if r["Email"] != "ada@acme.example" || r["LastName"] != "Lovelace" || r["Company"] != "Acme" || r["Status"] != "Working - Contacted" || r["Lead_Score__c"] != 60.0 {
		t.Errorf("Salesforce lead %v", r)
	}
	if len(sf.problems) > 0 {
		t.Errorf("Salesforce requests off the documented shape: %v", sf.problems)
	}
	sf.mu.Unlock()

	// Bob is refused by both (no valid email for HubSpot, no last name or company for
	// Salesforce): dead letters that say why, alone.
	for _, name := range []string{"hubspot", "salesforce"} {
		id := map[string]string{"hubspot": hd["id"].(string)}[name]
		if id == "" {
			_, list := api("GET", "/v1/destinations", "")
			for _, d := range list["destinations"].([]any) {
				if d.(map[string]any)["name"] == name {
					id = d.(map[string]any)["id"].(string)
				}
			}
		}
		waitUntil(t, name+"'s dead letter", func() bool {
			_, out := api("GET", "/v1/destinations/"+id+"/deliveries?status=dead", "")
			ds, _ := out["deliveries"].([]any)
			return len(ds) == 1
		})
		_, out := api("GET", "/v1/destinations/"+id+"/deliveries?status=dead", "")
		if b, _ := json.Marshal(out); !strings.Contains(string(b), map[string]string{"hubspot": "is invalid", "salesforce": "REQUIRED_FIELD_MISSING"}[name]) {
			t.Errorf("%s's dead letter does not say why: %s", name, b)
		}
	}

	// The first Salesforce session has expired: the next lead signs in again.
	send(`{"batch":[{"type":"identify","userId":"l3","traits":{"email":"grace@navy.example","last_name":"Hopper","company":"Navy"}},
		{"type":"track","userId":"l3","event":"Demo Requested"}]}`)
	waitUntil(t, "Grace in Salesforce", func() bool {
		sf.mu.Lock()
		defer sf.mu.Unlock()
		return sf.records["l3"] != nil
	})
	sf.mu.Lock()
	if sf.tokens < 2 {
		t.Errorf("signed in %d times, want a second sign-in after the session expired", sf.tokens)
	}
	sf.mu.Unlock()
}
