package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/analytics"
	"github.com/kenner-cdp/kenner/web"
)

// maxSpendRows bounds one POST /v1/spend.
const maxSpendRows = 10000

func (s *Server) putSpend(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	// The rows come as {"spend": [...]}, {"rows": [...]} or a bare array.
	var raw json.RawMessage
	if err := web.Decode(r, 8<<20, &raw); err != nil {
		return err
	}
	var body struct {
		Spend []kenner.Spend `json:"spend"`
		Rows  []kenner.Spend `json:"rows"`
	}
	var err error
	if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && trimmed[0] == '[' {
		err = json.Unmarshal(trimmed, &body.Spend)
	} else {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		err = dec.Decode(&body)
	}
	if err != nil {
		return kenner.Errorf(kenner.EInvalid, "request body: %v", err)
	}
	body.Spend = append(body.Spend, body.Rows...)
	if len(body.Spend) == 0 || len(body.Spend) > maxSpendRows {
		return kenner.Errorf(kenner.EInvalid, "spend: send 1 to %d rows", maxSpendRows)
	}
	for i := range body.Spend {
		if err := body.Spend[i].Check(); err != nil {
			return kenner.Errorf(kenner.EInvalid, "spend[%d]: %v", i, err)
		}
	}
	if err := s.deps.Store.PutSpend(r.Context(), tok.WorkspaceID, body.Spend); err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, map[string]any{"stored": len(body.Spend)})
	return nil
}

func (s *Server) listSpend(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	from, to, _, err := analyticsRange(r.URL.Query(), time.Now())
	if err != nil {
		return err
	}
	rows, err := s.deps.Store.SpendBetween(r.Context(), tok.WorkspaceID, from.Format(time.DateOnly), to.Add(-time.Millisecond).Format(time.DateOnly))
	if err != nil {
		return err
	}
	if wantsCSV(r) {
		var out [][]string
		for _, x := range rows {
			out = append(out, []string{x.Day, x.Source, x.Medium, x.Campaign, num(x.Amount), x.Currency})
		}
		writeTable(w, "spend", []string{"date", "source", "medium", "campaign", "amount", "currency"}, out)
		return nil
	}
	web.JSON(w, http.StatusOK, map[string]any{"spend": nonNil(rows)})
	return nil
}

func (s *Server) putCurrencyRates(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	var rates kenner.CurrencyRates
	if err := web.Decode(r, 1<<20, &rates); err != nil {
		return err
	}
	if err := rates.Check(); err != nil {
		return err
	}
	rates.UpdatedAt = time.Now().UTC()
	if err := s.deps.Store.SetCurrencyRates(r.Context(), tok.WorkspaceID, &rates); err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, rates)
	return nil
}

func (s *Server) getCurrencyRates(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	rates, err := s.deps.Store.CurrencyRates(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	if rates == nil {
		return kenner.Errorf(kenner.ENotFound, "no currency rates set: PUT /v1/currency-rates {\"base\": \"EUR\", \"rates\": {\"USD\": 0.92}}")
	}
	web.JSON(w, http.StatusOK, rates)
	return nil
}

// campaignRow is a campaign's spend and what the models credit it with.
type campaignRow struct {
	Key         string             `json:"key"`
	Source      string             `json:"source"`
	Medium      string             `json:"medium"`
	Campaign    string             `json:"campaign"`
	Channel     string             `json:"channel"`
	Spend       float64            `json:"spend"`
	Conversions map[string]float64 `json:"conversions"`
	Revenue     map[string]float64 `json:"revenue"`
	ROAS        map[string]float64 `json:"roas,omitempty"` // revenue per unit spent
	CAC         map[string]float64 `json:"cac,omitempty"`  // spend per conversion
	// CLV is the predicted lifetime value of the customers each model credits the campaign
	// with, and CLVROI its return on the spend: (CLV - spend) / spend (with a CLV model).
	CLV    map[string]float64 `json:"clv,omitempty"`
	CLVROI map[string]float64 `json:"clv_roi,omitempty"`
}

func (c *campaignRow) finish() {
	c.ROAS, c.CAC = map[string]float64{}, map[string]float64{}
	for m, rev := range c.Revenue {
		if c.Spend > 0 {
			c.ROAS[m] = rev / c.Spend
		}
		if n := c.Conversions[m]; n > 0 && c.Spend > 0 {
			c.CAC[m] = c.Spend / n
		}
	}
	if c.CLV != nil {
		c.CLVROI = map[string]float64{}
		for m, v := range c.CLV {
			if c.Spend > 0 {
				c.CLVROI[m] = (v - c.Spend) / c.Spend
			}
		}
	}
}

// clvValue returns how the campaigns report reads the predicted lifetime value of the people
// who converted: the CLV model named (clv=), or the workspace's first trained one; nil when
// there is none (or clv=none).
func (s *Server) clvValue(ctx context.Context, ws, name string) (string, func(context.Context, []string) (map[string]float64, error), error) {
	if name == "none" || s.deps.Audience == nil {
		return "", nil, nil
	}
	models, err := s.deps.Store.Models(ctx, ws)
	if err != nil {
		return "", nil, err
	}
	var model *kenner.Model
	for i := range models {
		m := &models[i]
		if m.Kind == kenner.ModelCLV && (name == "" && m.Status == kenner.ModelTrained || m.Name == name) {
			model = m
			break
		}
	}
	if model == nil {
		if name != "" {
			return "", nil, kenner.Errorf(kenner.EInvalid, "clv: no CLV model named %q", name)
		}
		return "", nil, nil
	}
	eng, err := s.deps.Audience.Engine(ctx, ws)
	if err != nil {
		return "", nil, err
	}
	return model.Name, func(ctx context.Context, ids []string) (map[string]float64, error) {
		now := time.Now()
		out := make(map[string]float64, len(ids))
		for _, id := range ids {
			p, err := s.deps.Store.ProfileState(ctx, ws, kenner.Identifier{Kind: "id", Value: id})
			if kenner.ErrorCode(err) == kenner.ENotFound {
				continue // erased since
			}
			if err != nil {
				return nil, err
			}
			if pred, ok := eng.Predictions(p, now)[model.Name].(map[string]any); ok {
				if v, ok := pred["clv"].(float64); ok {
					out[id] = v
				}
			}
		}
		return out, nil
	}, nil
}

// analyticsCampaigns is return on ad spend: each campaign's spend in the range (converted to the
// rates' base currency) against the conversions and revenue each model credits it with, and
// the same per channel.
func (s *Server) analyticsCampaigns(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	ar, err := s.analyticsRequest(r)
	if err != nil {
		return err
	}
	rates, err := s.deps.Store.CurrencyRates(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	aq, err := attributionQuery(ar.q, ar.from, ar.to)
	if err != nil {
		return err
	}
	a, from, to := ar.a, ar.from, ar.to
	aq.Rates, aq.By = rates, "campaign_full"
	clvModel, value, err := s.clvValue(r.Context(), tok.WorkspaceID, ar.q.Get("clv"))
	if err != nil {
		return err
	}
	aq.PersonValue = value
	rep, err := a.Attribution(r.Context(), tok.WorkspaceID, aq)
	if err != nil {
		return err
	}
	spend, err := s.deps.Store.SpendBetween(r.Context(), tok.WorkspaceID, from.Format(time.DateOnly), to.Add(-time.Millisecond).Format(time.DateOnly))
	if err != nil {
		return err
	}
	rows := map[string]*campaignRow{}
	row := func(source, medium, campaign string) *campaignRow {
		k := analytics.CampaignKey(source, medium, campaign)
		c := rows[k]
		if c == nil {
			c = &campaignRow{Key: k, Source: source, Medium: medium, Campaign: campaign, Conversions: map[string]float64{}, Revenue: map[string]float64{},
				Channel: analytics.Classify(analytics.DefaultRules(), analytics.Touch{Source: source, Medium: medium, Campaign: campaign})}
			rows[k] = c
		}
		return c
	}
	var missing []string
	for _, sp := range spend {
		v, ok := rates.Convert(sp.Amount, sp.Currency)
		if !ok && !slices.Contains(missing, sp.Currency) {
			missing = append(missing, sp.Currency)
		}
		row(sp.Source, sp.Medium, sp.Campaign).Spend += v
	}
	if len(missing) > 0 {
		return kenner.Errorf(kenner.EInvalid, "the currency rates have no rate for %v: add it (PUT /v1/currency-rates)", missing)
	}
	// Credit to touches without campaign parameters (Direct, organic, referral) goes to a row
	// per channel: no spend there, but the revenue belongs in the totals.
	for _, m := range analytics.Models {
		for _, cr := range rep.Models[m] {
			c := rows[cr.Key]
			if c == nil {
				c = &campaignRow{Key: cr.Key, Conversions: map[string]float64{}, Revenue: map[string]float64{}}
				if cr.Key == analytics.CampaignKey("", "", "") {
					c.Channel = "(no campaign)" // direct, organic and referral visits
				} else if parts := splitKey(cr.Key); parts != nil {
					c.Source, c.Medium, c.Campaign = parts[0], parts[1], parts[2]
					c.Channel = analytics.Classify(analytics.DefaultRules(), analytics.Touch{Source: c.Source, Medium: c.Medium, Campaign: c.Campaign})
				}
				rows[cr.Key] = c
			}
			c.Conversions[m] += cr.Conversions
			c.Revenue[m] += cr.Revenue
			if value != nil {
				if c.CLV == nil {
					c.CLV = map[string]float64{}
				}
				c.CLV[m] += cr.Value
			}
		}
	}
	channels := map[string]*campaignRow{}
	var list []*campaignRow
	for _, c := range rows {
		c.finish()
		list = append(list, c)
		ch := channels[c.Channel]
		if ch == nil {
			ch = &campaignRow{Key: c.Channel, Channel: c.Channel, Conversions: map[string]float64{}, Revenue: map[string]float64{}}
			channels[c.Channel] = ch
		}
		ch.Spend += c.Spend
		for m, v := range c.Conversions {
			ch.Conversions[m] += v
		}
		for m, v := range c.Revenue {
			ch.Revenue[m] += v
		}
		if value != nil {
			if ch.CLV == nil {
				ch.CLV = map[string]float64{}
			}
			for m, v := range c.CLV {
				ch.CLV[m] += v
			}
		}
	}
	var byChannel []*campaignRow
	for _, ch := range channels {
		ch.finish()
		byChannel = append(byChannel, ch)
	}
	order := func(xs []*campaignRow) {
		sort.Slice(xs, func(i, j int) bool {
			return xs[i].Spend > xs[j].Spend || xs[i].Spend == xs[j].Spend && xs[i].Key < xs[j].Key
		})
	}
	order(list)
	order(byChannel)
	base := ""
	if rates != nil {
		base = rates.Base
	}
	if wantsCSV(r) {
		var out [][]string
		for _, c := range list {
			for _, m := range analytics.Models {
				out = append(out, []string{c.Channel, c.Source, c.Medium, c.Campaign, m, num(c.Spend), num(c.Conversions[m]), num(c.Revenue[m]),
					num(c.ROAS[m]), num(c.CAC[m]), num(c.CLV[m]), num(c.CLVROI[m])})
			}
		}
		writeTable(w, "campaigns", []string{"channel", "source", "medium", "campaign", "model", "spend", "conversions", "revenue", "roas", "cac", "clv", "clv_roi"}, out)
		return nil
	}
	out := map[string]any{"currency": base, "from": from, "to": to, "conversions": rep.Conversions, "revenue": rep.Revenue,
		"campaigns": list, "channels": byChannel}
	if value != nil {
		out["clv_model"], out["clv"] = clvModel, rep.Value
	}
	web.JSON(w, http.StatusOK, out)
	return nil
}

// splitKey splits a campaign key into source, medium and campaign ("(none)" read as empty).
func splitKey(k string) []string {
	var parts []string
	rest := k
	for range 2 {
		i := strings.Index(rest, " / ")
		if i < 0 {
			return nil
		}
		parts = append(parts, rest[:i])
		rest = rest[i+3:]
	}
	parts = append(parts, rest)
	for i, p := range parts {
		if p == "(none)" {
			parts[i] = ""
		}
	}
	return parts
}
