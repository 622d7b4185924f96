// Package salesforce is the Salesforce CRM destination: people are upserted as Leads (or
// Contacts) through the REST API's sObject Collections upsert by an external ID field
// (PATCH /services/data/vXX.X/composite/sobjects/{object}/{field}, up to 200 records a
// request, one result per record), with their traits mapped onto fields and, for lead models,
// their stage. It signs in with the OAuth 2.0 client credentials flow of a connected app (or a
// given access token) and signs in again when the token expires.
package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/egress"
)

// Type is the destination type name.
const Type = "salesforce"

// MaxBatch is the most records one sObject Collections request takes.
const MaxBatch = 200

// DefaultFields map Segment's person traits onto the standard fields of Leads and Contacts
// (Company only on Leads, where it is required).
func DefaultFields(object string) map[string]string {
	f := map[string]string{"Email": "profile.traits.email", "FirstName": "profile.traits.first_name", "LastName": "profile.traits.last_name",
		"Phone": "profile.traits.phone", "Title": "profile.traits.title"}
	if object == "Lead" {
		f["Company"] = "profile.traits.company"
	}
	return f
}

// Config is a Salesforce destination's config.
type Config struct {
	// InstanceURL is the org's My Domain URL (https://acme.my.salesforce.com).
	InstanceURL string `json:"instance_url"`
	// ClientID and ClientSecret are a connected app's, with the client credentials flow on;
	// or AccessToken, a token obtained otherwise.
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	AccessToken  string `json:"access_token"`
	APIVersion   string `json:"api_version"` // default 60.0
	// Object is Lead (default) or Contact, or any object with an external ID field.
	Object string `json:"object"`
	// ExternalIDField is the object's External ID field that identifies a person (e.g.
	// Kenner_Id__c), filled from the identifier kind IDFrom (default user_id; profile_id for
	// Kenner's profile id, email for the email).
	ExternalIDField string `json:"external_id_field"`
	IDFrom          string `json:"id_from"`
	// Fields map fields to paths in the delivery (default DefaultFields); StageField receives a
	// lead model's stage through Stages, ScoreField the lead score.
	Fields     map[string]string `json:"fields"`
	StageField string            `json:"stage_field"`
	Stages     map[string]string `json:"stages"`
	ScoreField string            `json:"score_field"`
	Timeout    kenner.Duration   `json:"timeout"`
}

// ParseConfig reads and checks a config.
func ParseConfig(raw json.RawMessage, policy egress.Policy) (Config, error) {
	var c Config
	if len(raw) == 0 {
		return c, activation.Invalid("config.instance_url and config.external_id_field are required")
	}
	if err := activation.DecodeConfig(raw, &c); err != nil {
		return c, err
	}
	if err := activation.CheckURL("config.instance_url", c.InstanceURL, policy); err != nil {
		return c, err
	}
	if c.AccessToken == "" && (c.ClientID == "" || c.ClientSecret == "") {
		return c, activation.Invalid("config needs client_id and client_secret (a connected app with the client credentials flow), or an access_token")
	}
	if c.ExternalIDField == "" {
		return c, activation.Invalid("config.external_id_field is required: the External ID field that identifies a person (e.g. Kenner_Id__c)")
	}
	if c.APIVersion == "" {
		c.APIVersion = "60.0"
	}
	if c.Object == "" {
		c.Object = "Lead"
	}
	if c.IDFrom == "" {
		c.IDFrom = kenner.KindUserID
	}
	if c.Fields == nil {
		c.Fields = DefaultFields(c.Object)
	}
	if err := activation.ValidateMapping(c.Fields); err != nil {
		return c, err
	}
	if c.Timeout <= 0 {
		c.Timeout = kenner.Duration(20 * time.Second)
	}
	return c, nil
}

// Factory is the activation.Factory of Salesforce destinations.
func Factory(policy egress.Policy) activation.Factory {
	return func(d kenner.Destination) (activation.Sender, error) {
		c, err := ParseConfig(d.Config, policy)
		if err != nil {
			return nil, err
		}
		if d.BatchSize > MaxBatch {
			return nil, activation.Invalid("batch_size is at most %d for Salesforce (an sObject Collections request's limit)", MaxBatch)
		}
		return &sender{cfg: c, client: policy.HTTPClient(time.Duration(c.Timeout), max(d.Parallel, 2)), token: c.AccessToken}, nil
	}
}

type sender struct {
	cfg    Config
	client *http.Client

	mu    sync.Mutex
	token string
}

func (s *sender) Close() error { return nil }

// Send upserts the batch's people in one request.
func (s *sender) Send(ctx context.Context, msgs []activation.Message) []activation.Result {
	out := make([]activation.Result, len(msgs))
	var records []map[string]any
	var idx []int
	for i, m := range msgs {
		c, ok := activation.ContactOf(m.Payload)
		if !ok {
			out[i] = activation.Result{Response: "skipped: not a person to upsert"}
			continue
		}
		id := c.IDValue(s.cfg.IDFrom)
		if id == "" {
			out[i] = activation.Result{Err: fmt.Errorf("the person has no %s for %s", s.cfg.IDFrom, s.cfg.ExternalIDField), Permanent: true}
			continue
		}
		rec := c.Record(s.cfg.Fields, s.cfg.StageField, s.cfg.Stages, s.cfg.ScoreField)
		rec["attributes"] = map[string]string{"type": s.cfg.Object}
		rec[s.cfg.ExternalIDField] = id
		records = append(records, rec)
		idx = append(idx, i)
	}
	if len(records) == 0 {
		return out
	}
	res := s.upsert(ctx, records, true)
	for j, i := range idx {
		out[i] = res[j]
	}
	return out
}

// upsert sends the records; a 401 signs in again once.
func (s *sender) upsert(ctx context.Context, records []map[string]any, retryAuth bool) []activation.Result {
	token, err := s.accessToken(ctx)
	if err != nil {
		return activation.Failed(len(records), activation.Result{Err: err})
	}
	body, _ := json.Marshal(map[string]any{"allOrNone": false, "records": records})
	endpoint := fmt.Sprintf("%s/services/data/v%s/composite/sobjects/%s/%s", strings.TrimRight(s.cfg.InstanceURL, "/"), s.cfg.APIVersion,
		url.PathEscape(s.cfg.Object), url.PathEscape(s.cfg.ExternalIDField))
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, endpoint, bytes.NewReader(body))
	if err != nil {
		return activation.Failed(len(records), activation.Result{Err: err, Permanent: true})
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return activation.Failed(len(records), activation.Result{Err: egress.Generic(err)})
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	res := activation.Result{Status: resp.StatusCode, Response: activation.Excerpt(raw)}
	switch {
	case resp.StatusCode == http.StatusUnauthorized && retryAuth && s.cfg.ClientID != "":
		s.mu.Lock()
		if s.token == token {
			s.token = "" // expired or revoked: sign in again
		}
		s.mu.Unlock()
		return s.upsert(ctx, records, false)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		res.Err = fmt.Errorf("Salesforce answered %d", resp.StatusCode)
		res.RetryAfter = activation.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return activation.Failed(len(records), res)
	case resp.StatusCode >= 300:
		// REQUEST_LIMIT_EXCEEDED comes as a 403: the org's daily API allowance, worth waiting for.
		res.Err = fmt.Errorf("Salesforce answered %d", resp.StatusCode)
		res.Permanent = !strings.Contains(string(raw), "REQUEST_LIMIT_EXCEEDED")
		if !res.Permanent {
			res.RetryAfter = time.Hour
		}
		return activation.Failed(len(records), res)
	}
	var results []struct {
		ID      string `json:"id"`
		Success bool   `json:"success"`
		Created bool   `json:"created"`
		Errors  []struct {
			StatusCode string   `json:"statusCode"`
			Message    string   `json:"message"`
			Fields     []string `json:"fields"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &results); err != nil || len(results) != len(records) {
		res.Err = fmt.Errorf("Salesforce's answer has %d results for %d records", len(results), len(records))
		return activation.Failed(len(records), res)
	}
	out := make([]activation.Result, len(records))
	for i, r := range results {
		if r.Success {
			what := "updated"
			if r.Created {
				what = "created"
			}
			out[i] = activation.Result{Status: resp.StatusCode, Response: what + " " + r.ID}
			continue
		}
		var msgs []string
		for _, e := range r.Errors {
			msgs = append(msgs, e.StatusCode+": "+e.Message)
		}
		why := strings.Join(msgs, "; ")
		out[i] = activation.Result{Status: resp.StatusCode, Err: fmt.Errorf("Salesforce refused the record: %s", why), Permanent: true, Response: activation.Excerpt([]byte(why))}
	}
	return out
}

// accessToken is the token in use, signing in with the client credentials flow when there is
// none.
func (s *sender) accessToken(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" {
		return s.token, nil
	}
	if s.cfg.ClientID == "" {
		return "", fmt.Errorf("the access token was refused and there are no client credentials to get another")
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.cfg.ClientID}, "client_secret": {s.cfg.ClientSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(s.cfg.InstanceURL, "/")+"/services/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("sign in to Salesforce: %w", egress.Generic(err))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var tok struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	json.Unmarshal(raw, &tok)
	if resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		return "", fmt.Errorf("sign in to Salesforce: %d %s %s", resp.StatusCode, tok.Error, tok.Description)
	}
	s.token = tok.AccessToken
	return s.token, nil
}
