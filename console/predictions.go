package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/predict"
)

// flatScores lists a profile's predictions as dotted names and readable values.
func flatScores(prefix string, v any) []nameValue {
	var out []nameValue
	predict.Leaves(prefix, v, func(name string, leaf any) {
		switch x := leaf.(type) {
		case float64:
			out = append(out, nameValue{name, strconv.FormatFloat(x, 'f', -1, 64)})
		case nil:
		default:
			out = append(out, nameValue{name, fmt.Sprint(x)})
		}
	})
	return out
}

// modelRow is a model in the list.
type modelRow struct {
	ID, Name, Kind, Status, Message, Metric, Trained string
	Version                                          int
}

// modelView is one model's page: its definition and card, readable.
type modelView struct {
	kenner.Model
	Params      []nameValue
	Segments    []segmentShare // clv: customers per RFM cell
	Calibration []calibrationRow
	Top         []weightRow
	Facts       []nameValue
	Versions    []kenner.ModelVersion
	Rules       string    // lead: the rules as the form writes them
	Pairs       []pairRow // affinity: products bought together
	KindName    string
}

type pairRow struct{ A, B, Buyers, Lift string }

type segmentShare struct {
	Name    string
	Count   int
	Percent float64
}

type calibrationRow struct{ Band, Count, Predicted, Observed string }

type weightRow struct {
	Feature, Weight string
	Positive        bool
	Width           float64 // percent of the largest weight
}

func headline(m kenner.Model) string {
	var card map[string]any
	if json.Unmarshal(m.Card, &card) != nil {
		return ""
	}
	if auc, ok := card["auc"].(float64); ok {
		return fmt.Sprintf("AUC %.3f on %v held out", auc, card["holdout"])
	}
	if n, ok := card["customers"].(float64); ok {
		return fmt.Sprintf("%s buyers, %v repeat", thousands(int64(n)), card["repeat_buyers"])
	}
	if n, ok := card["leads"].(float64); ok && m.Kind == kenner.ModelLead && len(m.Stages) > 0 {
		top := m.Stages[len(m.Stages)-1].Name
		k, _ := card["stages"].(map[string]any)[top].(float64)
		return fmt.Sprintf("%s leads, %s %s", thousands(int64(n)), thousands(int64(k)), top)
	}
	if n, ok := card["buyers"].(float64); ok {
		return fmt.Sprintf("%s buyers, %v products", thousands(int64(n)), card["products"])
	}
	return ""
}

// kindName is how the console names a model kind.
func kindName(kind string) string {
	switch kind {
	case kenner.ModelCLV:
		return "Lifetime value"
	case kenner.ModelClassifier:
		return "Classifier"
	case kenner.ModelLead:
		return "Lead scoring"
	case kenner.ModelAffinity:
		return "Recommendations"
	}
	return kind
}

// parseLeadRules reads the console's rule lines: "30 Demo Requested" (points per event),
// "10 page /pricing" (points per view of a page whose path starts so), "15 if <condition>"
// (points while the profile meets it).
func parseLeadRules(text string) ([]kenner.LeadRule, error) {
	var out []kenner.LeadRule
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		num, rest, _ := strings.Cut(line, " ")
		points, err := strconv.ParseFloat(num, 64)
		rest = strings.TrimSpace(rest)
		if err != nil || rest == "" {
			return nil, fmt.Errorf("rule line %d: start with the points, then an event, page /path or if <condition> (%q)", i+1, line)
		}
		switch {
		case strings.HasPrefix(rest, "page "):
			path := strings.TrimSpace(strings.TrimPrefix(rest, "page "))
			out = append(out, kenner.LeadRule{Event: "$page", Where: "e.context.page.path.startsWith(" + strconv.Quote(path) + ")", Points: points})
		case strings.HasPrefix(rest, "if "):
			out = append(out, kenner.LeadRule{Condition: strings.TrimSpace(strings.TrimPrefix(rest, "if ")), Points: points})
		default:
			out = append(out, kenner.LeadRule{Event: rest, Points: points})
		}
	}
	return out, nil
}

// leadRuleLines writes rules back as the console's lines.
func leadRuleLines(rules []kenner.LeadRule) string {
	var b strings.Builder
	for _, r := range rules {
		p := strconv.FormatFloat(r.Points, 'f', -1, 64)
		switch {
		case r.Condition != "":
			fmt.Fprintf(&b, "%s if %s\n", p, r.Condition)
		case r.Event == "$page" && strings.HasPrefix(r.Where, "e.context.page.path.startsWith("):
			path, _ := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(r.Where, "e.context.page.path.startsWith("), ")"))
			fmt.Fprintf(&b, "%s page %s\n", p, path)
		case r.Where != "":
			fmt.Fprintf(&b, "%s %s where %s\n", p, r.Event, r.Where)
		default:
			fmt.Fprintf(&b, "%s %s\n", p, r.Event)
		}
	}
	return b.String()
}

// parseStages reads "subscriber 0, MQL 50, SQL 100".
func parseStages(text string) ([]kenner.LeadStage, error) {
	var out []kenner.LeadStage
	for _, part := range strings.Split(text, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		i := strings.LastIndex(part, " ")
		if i < 0 {
			return nil, fmt.Errorf("stage %q: a name and a threshold, like MQL 50", part)
		}
		th, err := strconv.ParseFloat(part[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("stage %q: a name and a threshold, like MQL 50", part)
		}
		out = append(out, kenner.LeadStage{Name: strings.TrimSpace(part[:i]), Threshold: th})
	}
	return out, nil
}

func (c *Console) predictionsPage(w http.ResponseWriter, r *http.Request, rq *request, form map[string]string, notice, errMsg string) {
	var out struct {
		Models []kenner.Model `json:"models"`
	}
	if err := c.call(r.Context(), rq, "GET", "/v1/models", nil, &out); err != nil && errMsg == "" {
		errMsg = kenner.ErrorMessage(err)
	}
	var rows []modelRow
	for _, m := range out.Models {
		row := modelRow{ID: m.ID, Name: m.Name, Kind: kindName(m.Kind), Status: m.Status, Message: m.Message, Version: m.Version, Metric: headline(m)}
		if !m.TrainedAt.IsZero() {
			row.Trained = shortTime(m.TrainedAt.Format("2006-01-02T15:04:05Z07:00"))
		}
		rows = append(rows, row)
	}
	if form == nil {
		form = map[string]string{"kind": "clv", "event": kenner.DefaultOrderEvent, "revenue": kenner.DefaultRevenue, "item": kenner.DefaultItem,
			"rules": "30 Demo Requested\n10 page /pricing\n15 if has(traits.title) && traits.title.contains(\"VP\")", "stages": "subscriber 0, MQL 50, SQL 100", "half_life_days": "30"}
	}
	c.page(w, "predictions", rq, "predictions", "Predictions", map[string]any{"Models": rows, "Form": form,
		"CanEdit": rq.user.Role.AtLeast(kenner.RoleMarketer), "Notice": notice, "Error": errMsg})
}

func (c *Console) predictions(w http.ResponseWriter, r *http.Request, rq *request) {
	c.predictionsPage(w, r, rq, nil, "", "")
}

// createModel defines a model from the form and starts its first training.
func (c *Console) createModel(w http.ResponseWriter, r *http.Request, rq *request) {
	r.ParseForm()
	form := map[string]string{}
	for _, k := range []string{"name", "kind", "event", "revenue", "horizon_days", "calibration_end", "label", "rules", "stages", "half_life_days", "item"} {
		form[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	def := map[string]any{"name": form["name"], "kind": form["kind"]}
	switch form["kind"] {
	case kenner.ModelCLV:
		def["event"], def["revenue"], def["calibration_end"] = form["event"], form["revenue"], form["calibration_end"]
		if d, err := strconv.Atoi(form["horizon_days"]); err == nil {
			def["horizon_days"] = d
		}
	case kenner.ModelClassifier:
		def["label"] = form["label"]
	case kenner.ModelAffinity:
		def["event"], def["item"] = form["event"], form["item"]
	case kenner.ModelLead:
		rules, err := parseLeadRules(form["rules"])
		if err == nil {
			var stages []kenner.LeadStage
			if stages, err = parseStages(form["stages"]); err == nil {
				def["rules"], def["stages"] = rules, stages
				if d, e := strconv.Atoi(form["half_life_days"]); e == nil && d > 0 {
					def["half_life"] = fmt.Sprintf("%dd", d)
				}
			}
		}
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			c.predictionsPage(w, r, rq, form, "", err.Error())
			return
		}
	}
	var m kenner.Model
	if err := c.call(r.Context(), rq, "POST", "/v1/models", def, &m); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.predictionsPage(w, r, rq, form, "", kenner.ErrorMessage(err))
		return
	}
	if err := c.call(r.Context(), rq, "POST", "/v1/models/"+url.PathEscape(m.ID)+"/train", nil, nil); err != nil {
		c.predictionsPage(w, r, rq, nil, "", kenner.ErrorMessage(err))
		return
	}
	http.Redirect(w, r, "/console/predictions/"+url.PathEscape(m.ID), http.StatusSeeOther)
}

func (c *Console) trainModel(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	if err := c.call(r.Context(), rq, "POST", "/v1/models/"+url.PathEscape(id)+"/train", nil, nil); err != nil {
		c.modelPage(w, r, rq, id, kenner.ErrorMessage(err))
		return
	}
	http.Redirect(w, r, "/console/predictions/"+url.PathEscape(id), http.StatusSeeOther)
}

func (c *Console) deleteModel(w http.ResponseWriter, r *http.Request, rq *request) {
	if err := c.call(r.Context(), rq, "DELETE", "/v1/models/"+url.PathEscape(r.PathValue("id")), nil, nil); err != nil {
		c.predictionsPage(w, r, rq, nil, "", kenner.ErrorMessage(err))
		return
	}
	c.predictionsPage(w, r, rq, nil, "The model was deleted; its predictions are gone from profiles and segments.", "")
}

func (c *Console) model(w http.ResponseWriter, r *http.Request, rq *request) {
	c.modelPage(w, r, rq, r.PathValue("id"), "")
}

func (c *Console) modelPage(w http.ResponseWriter, r *http.Request, rq *request, id, errMsg string) {
	var m kenner.Model
	if err := c.call(r.Context(), rq, "GET", "/v1/models/"+url.PathEscape(id), nil, &m); err != nil {
		c.predictionsPage(w, r, rq, nil, "", kenner.ErrorMessage(err))
		return
	}
	v := modelView{Model: m, KindName: kindName(m.Kind)}
	var params, card map[string]any
	json.Unmarshal(m.Params, &params)
	json.Unmarshal(m.Card, &card)
	switch m.Kind {
	case kenner.ModelCLV:
		for _, k := range []string{"bgnbd", "gamma_gamma"} {
			for _, p := range flatScores(k, params[k]) {
				// Four significant figures: what the papers publish, and all a reader compares.
				if x, err := strconv.ParseFloat(p.Value, 64); err == nil {
					p.Value = strconv.FormatFloat(x, 'g', 4, 64)
				}
				v.Params = append(v.Params, p)
			}
		}
		var total int
		counts, _ := card["rfm_segments"].(map[string]any)
		for _, n := range counts {
			total += int(n.(float64))
		}
		for _, name := range predict.RFMSegments() {
			if n, ok := counts[name].(float64); ok && total > 0 {
				v.Segments = append(v.Segments, segmentShare{Name: name, Count: int(n), Percent: 100 * n / float64(total)})
			}
		}
		for _, k := range []string{"customers", "repeat_buyers"} {
			if n, ok := card[k].(float64); ok {
				v.Facts = append(v.Facts, nameValue{strings.ReplaceAll(k, "_", " "), thousands(int64(n))})
			}
		}
	case kenner.ModelClassifier:
		for _, k := range []string{"examples", "positives", "holdout"} {
			if n, ok := card[k].(float64); ok {
				v.Facts = append(v.Facts, nameValue{k, thousands(int64(n))})
			}
		}
		for _, k := range []string{"auc", "log_loss", "base_rate"} {
			if x, ok := card[k].(float64); ok {
				v.Facts = append(v.Facts, nameValue{strings.ReplaceAll(k, "_", " "), strconv.FormatFloat(x, 'f', 3, 64)})
			}
		}
		if s, ok := card["split"].(string); ok {
			v.Facts = append(v.Facts, nameValue{"holdout chosen by", s})
		}
		for _, b := range list(card["calibration"]) {
			b := b.(map[string]any)
			v.Calibration = append(v.Calibration, calibrationRow{
				Band:  fmt.Sprintf("%.2f – %.2f", b["from"], b["to"]),
				Count: fmt.Sprint(b["count"]), Predicted: fmt.Sprintf("%.1f%%", 100*b["predicted"].(float64)),
				Observed: fmt.Sprintf("%.1f%%", 100*b["observed"].(float64))})
		}
		var most float64
		for _, f := range list(card["top_features"]) {
			most = max(most, abs(f.(map[string]any)["weight"].(float64)))
		}
		for _, f := range list(card["top_features"]) {
			f := f.(map[string]any)
			wt := f["weight"].(float64)
			v.Top = append(v.Top, weightRow{Feature: fmt.Sprint(f["feature"]), Weight: fmt.Sprintf("%+.2f", wt), Positive: wt > 0, Width: 100 * abs(wt) / most})
		}
	case kenner.ModelLead:
		v.Rules = leadRuleLines(m.Rules)
		counts, _ := card["stages"].(map[string]any)
		total, _ := card["leads"].(float64)
		for _, st := range m.Stages {
			if counts == nil {
				break // not counted yet
			}
			n, _ := counts[st.Name].(float64)
			share := segmentShare{Name: fmt.Sprintf("%s (from %g points)", st.Name, st.Threshold), Count: int(n)}
			if total > 0 {
				share.Percent = 100 * n / total
			}
			v.Segments = append(v.Segments, share)
		}
	case kenner.ModelAffinity:
		for _, k := range []string{"buyers", "products"} {
			if n, ok := card[k].(float64); ok {
				v.Facts = append(v.Facts, nameValue{k, thousands(int64(n))})
			}
		}
		for _, p := range list(card["top_pairs"]) {
			p := p.(map[string]any)
			v.Pairs = append(v.Pairs, pairRow{A: fmt.Sprint(p["a"]), B: fmt.Sprint(p["b"]), Buyers: fmt.Sprint(p["buyers"]), Lift: fmt.Sprintf("%.1f×", p["lift"])})
		}
	}
	var vs struct {
		Versions []kenner.ModelVersion `json:"versions"`
	}
	c.call(r.Context(), rq, "GET", "/v1/models/"+url.PathEscape(id)+"/versions", nil, &vs)
	v.Versions = vs.Versions
	c.page(w, "model", rq, "predictions", "Model "+m.Name, map[string]any{"Model": v,
		"CanEdit": rq.user.Role.AtLeast(kenner.RoleMarketer), "Error": errMsg})
}

func list(v any) []any { l, _ := v.([]any); return l }

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
