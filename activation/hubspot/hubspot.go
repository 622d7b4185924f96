// Package hubspot is the HubSpot CRM destination: people are upserted as HubSpot contacts
// through the CRM v3 batch upsert endpoint (POST /crm/v3/objects/contacts/batch/upsert), found
// by email or by a unique property of their own, with their traits mapped onto contact
// properties and, for lead models, their stage. Authenticated with a private app's access
// token; HubSpot's rate limit (429) is waited out as it asks.
package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/egress"
)

// Type is the destination type name.
const Type = "hubspot"

// MaxBatch is the most inputs HubSpot takes in one batch upsert.
const MaxBatch = 100

// DefaultProperties map Segment's person traits onto HubSpot's default contact properties.
var DefaultProperties = map[string]string{
	"email": "profile.traits.email", "firstname": "profile.traits.first_name", "lastname": "profile.traits.last_name",
	"phone": "profile.traits.phone", "company": "profile.traits.company", "jobtitle": "profile.traits.title",
}

// Config is a HubSpot destination's config.
type Config struct {
	// AccessToken is the private app's token (scope crm.objects.contacts.write).
	AccessToken string `json:"access_token"`
	// BaseURL is HubSpot's API (default https://api.hubapi.com).
	BaseURL string `json:"base_url"`
	// IDProperty is the contact property that identifies a person (default email; a unique
	// property of your own otherwise), read from the identifier kind IDFrom (default: email
	// for email, else user_id; profile_id for Kenner's profile id).
	IDProperty string `json:"id_property"`
	IDFrom     string `json:"id_from"`
	// Properties map contact properties to paths in the delivery (default DefaultProperties);
	// StageProperty receives a lead model's stage (through Stages, Kenner's stage name → the
	// property's value, e.g. {"MQL": "marketingqualifiedlead"} for lifecyclestage), and
	// ScoreProperty the lead score.
	Properties    map[string]string `json:"properties"`
	StageProperty string            `json:"stage_property"`
	Stages        map[string]string `json:"stages"`
	ScoreProperty string            `json:"score_property"`
	Timeout       kenner.Duration   `json:"timeout"`
}

// ParseConfig reads and checks a config.
func ParseConfig(raw json.RawMessage, policy egress.Policy) (Config, error) {
	var c Config
	if len(raw) == 0 {
		return c, activation.Invalid("config.access_token is required (a HubSpot private app's token)")
	}
	if err := activation.DecodeConfig(raw, &c); err != nil {
		return c, err
	}
	if c.AccessToken == "" {
		return c, activation.Invalid("config.access_token is required (a HubSpot private app's token)")
	}
	if c.BaseURL == "" {
		c.BaseURL = "https://api.hubapi.com"
	}
	if err := activation.CheckURL("config.base_url", c.BaseURL, policy); err != nil {
		return c, err
	}
	if c.IDProperty == "" {
		c.IDProperty = "email"
	}
	if c.IDFrom == "" {
		c.IDFrom = kenner.KindUserID
		if c.IDProperty == "email" {
			c.IDFrom = kenner.KindEmail
		}
	}
	if c.Properties == nil {
		c.Properties = DefaultProperties
	}
	if err := activation.ValidateMapping(c.Properties); err != nil {
		return c, err
	}
	if c.Timeout <= 0 {
		c.Timeout = kenner.Duration(15 * time.Second)
	}
	return c, nil
}

// Factory is the activation.Factory of HubSpot destinations.
func Factory(policy egress.Policy) activation.Factory {
	return func(d kenner.Destination) (activation.Sender, error) {
		c, err := ParseConfig(d.Config, policy)
		if err != nil {
			return nil, err
		}
		if d.BatchSize > MaxBatch {
			return nil, activation.Invalid("batch_size is at most %d for HubSpot (its batch upsert limit)", MaxBatch)
		}
		return &sender{cfg: c, client: policy.HTTPClient(time.Duration(c.Timeout), max(d.Parallel, 2))}, nil
	}
}

type sender struct {
	cfg    Config
	client *http.Client
}

func (s *sender) Close() error { return nil }

type input struct {
	IDProperty string         `json:"idProperty"`
	ID         string         `json:"id"`
	Properties map[string]any `json:"properties"`
}

// Send upserts the batch's people in one request.
func (s *sender) Send(ctx context.Context, msgs []activation.Message) []activation.Result {
	out := make([]activation.Result, len(msgs))
	var inputs []input
	var idx []int
	for i, m := range msgs {
		c, ok := activation.ContactOf(m.Payload)
		if !ok {
			out[i] = activation.Result{Response: "skipped: not a person to upsert"}
			continue
		}
		id := c.IDValue(s.cfg.IDFrom)
		if id == "" {
			out[i] = activation.Result{Err: fmt.Errorf("the person has no %s to find the contact by (%s)", s.cfg.IDFrom, s.cfg.IDProperty), Permanent: true}
			continue
		}
		props := c.Record(s.cfg.Properties, s.cfg.StageProperty, s.cfg.Stages, s.cfg.ScoreProperty)
		for k, v := range props {
			props[k] = propertyValue(v)
		}
		delete(props, s.cfg.IDProperty) // it is the id
		inputs = append(inputs, input{IDProperty: s.cfg.IDProperty, ID: id, Properties: props})
		idx = append(idx, i)
	}
	if len(inputs) == 0 {
		return out
	}
	res := s.upsert(ctx, inputs)
	for j, i := range idx {
		out[i] = res[j]
	}
	return out
}

// propertyValue writes a value as HubSpot's API takes property values: text.
func propertyValue(v any) any {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// upsert posts the inputs and reads HubSpot's answer into one result per input: a 207 names
// the inputs it refused in its errors' context.ids.
func (s *sender) upsert(ctx context.Context, inputs []input) []activation.Result {
	body, _ := json.Marshal(map[string]any{"inputs": inputs})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(s.cfg.BaseURL, "/")+"/crm/v3/objects/contacts/batch/upsert", bytes.NewReader(body))
	if err != nil {
		return activation.Failed(len(inputs), activation.Result{Err: err, Permanent: true})
	}
	req.Header.Set("Authorization", "Bearer "+s.cfg.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return activation.Failed(len(inputs), activation.Result{Err: egress.Generic(err)})
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	res := activation.Result{Status: resp.StatusCode, Response: activation.Excerpt(raw)}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		res.Err = fmt.Errorf("HubSpot answered %d", resp.StatusCode)
		if res.RetryAfter = activation.RetryAfter(resp.Header.Get("Retry-After"), time.Now()); res.RetryAfter == 0 {
			res.RetryAfter = 10 * time.Second // HubSpot's rate limit window
		}
		return activation.Failed(len(inputs), res)
	case resp.StatusCode == http.StatusMultiStatus:
		var multi struct {
			Errors []struct {
				Message string `json:"message"`
				Context struct {
					IDs []string `json:"ids"`
				} `json:"context"`
			} `json:"errors"`
		}
		json.Unmarshal(raw, &multi)
		refused := map[string]string{}
		for _, e := range multi.Errors {
			for _, id := range e.Context.IDs {
				refused[id] = e.Message
			}
		}
		out := make([]activation.Result, len(inputs))
		for i, in := range inputs {
			out[i] = activation.Result{Status: resp.StatusCode, Response: "upserted"}
			if msg, ok := refused[in.ID]; ok {
				out[i] = activation.Result{Status: resp.StatusCode, Err: fmt.Errorf("HubSpot refused the contact: %s", msg), Permanent: true, Response: activation.Excerpt([]byte(msg))}
			}
		}
		return out
	case resp.StatusCode >= 300:
		res.Err = fmt.Errorf("HubSpot answered %d", resp.StatusCode)
		res.Permanent = true // a bad token or a bad property stays bad
		return activation.Failed(len(inputs), res)
	}
	return activation.Failed(len(inputs), res)
}
