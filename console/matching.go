package console

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/match"
	"github.com/kenner-cdp/kenner/matchrun"
)

// matchFieldLines writes compared fields as the console's lines: "first_name name tf".
func matchFieldLines(fs []match.Field) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Name + " " + f.Kind)
		if f.TF {
			b.WriteString(" tf")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// matchBlockLines writes blocking rules as lines: "first_name+last_name phonetic", "zip prefix 3".
func matchBlockLines(bs []match.BlockSpec) string {
	var b strings.Builder
	for _, r := range bs {
		b.WriteString(strings.Join(r.Fields, "+"))
		if r.Phonetic {
			b.WriteString(" phonetic")
		}
		if r.Prefix > 0 {
			b.WriteString(" prefix " + strconv.Itoa(r.Prefix))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// parseMatchFields reads the field lines back.
func parseMatchFields(text string) ([]match.Field, error) {
	var out []match.Field
	for i, line := range strings.Split(text, "\n") {
		parts := strings.Fields(line)
		if len(parts) == 0 {
			continue
		}
		if len(parts) < 2 || len(parts) > 3 || len(parts) == 3 && parts[2] != "tf" {
			return nil, fmt.Errorf("compared fields, line %d: write the trait, its kind (exact, name, text or code) and optionally tf (%q)", i+1, line)
		}
		out = append(out, match.Field{Name: parts[0], Kind: parts[1], TF: len(parts) == 3})
	}
	return out, nil
}

// parseMatchBlocking reads the blocking lines back.
func parseMatchBlocking(text string) ([]match.BlockSpec, error) {
	var out []match.BlockSpec
	for i, line := range strings.Split(text, "\n") {
		parts := strings.Fields(line)
		if len(parts) == 0 {
			continue
		}
		b := match.BlockSpec{Fields: strings.Split(parts[0], "+")}
		switch {
		case len(parts) == 1:
		case len(parts) == 2 && parts[1] == "phonetic":
			b.Phonetic = true
		case len(parts) == 3 && parts[1] == "prefix":
			n, err := strconv.Atoi(parts[2])
			if err != nil || n < 1 {
				return nil, fmt.Errorf("blocking, line %d: prefix takes a number of characters (%q)", i+1, line)
			}
			b.Prefix = n
		default:
			return nil, fmt.Errorf("blocking, line %d: write fields joined by +, then optionally phonetic or prefix N (%q)", i+1, line)
		}
		out = append(out, b)
	}
	return out, nil
}

// runRow is a run in the list.
type runRow struct {
	ID, Status, Started, Summary string
	DryRun                       bool
}

func (c *Console) matching(w http.ResponseWriter, r *http.Request, rq *request) {
	c.matchingPage(w, r, rq, nil, "", "")
}

func (c *Console) matchingPage(w http.ResponseWriter, r *http.Request, rq *request, form map[string]string, notice, errMsg string) {
	var out struct {
		Runs    []kenner.MatchRun `json:"runs"`
		Reviews map[string]int    `json:"reviews"`
	}
	if err := c.call(r.Context(), rq, "GET", "/v1/match/runs?limit=50", nil, &out); err != nil && errMsg == "" {
		errMsg = kenner.ErrorMessage(err)
	}
	var rows []runRow
	for _, run := range out.Runs {
		var p matchrun.Params
		json.Unmarshal(run.Params, &p)
		rows = append(rows, runRow{ID: run.ID, Status: run.Status, Started: run.CreatedAt.Format("2006-01-02 15:04"), Summary: run.Message, DryRun: p.DryRun})
	}
	if form == nil {
		form = map[string]string{"fields": matchFieldLines(matchrun.DefaultFields), "blocking": matchBlockLines(matchrun.DefaultBlocking),
			"merge_probability": "0.99", "review_probability": "0.5", "dry_run": "on"}
	}
	c.page(w, "matching", rq, "matching", "Matching", map[string]any{"Runs": rows, "Reviews": out.Reviews, "Form": form,
		"CanRun": rq.user.Role.AtLeast(kenner.RoleAdmin), "Notice": notice, "Error": errMsg})
}

// startMatch starts a run from the form.
func (c *Console) startMatch(w http.ResponseWriter, r *http.Request, rq *request) {
	r.ParseForm()
	form := map[string]string{}
	for _, k := range []string{"fields", "blocking", "merge_probability", "review_probability", "dry_run"} {
		form[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	fail := func(msg string) {
		w.WriteHeader(http.StatusBadRequest)
		c.matchingPage(w, r, rq, form, "", msg)
	}
	fields, err := parseMatchFields(form["fields"])
	if err != nil {
		fail(err.Error())
		return
	}
	blocking, err := parseMatchBlocking(form["blocking"])
	if err != nil {
		fail(err.Error())
		return
	}
	params := map[string]any{"fields": fields, "blocking": blocking, "dry_run": form["dry_run"] == "on"}
	for _, k := range []string{"merge_probability", "review_probability"} {
		if form[k] == "" {
			continue
		}
		v, err := strconv.ParseFloat(form[k], 64)
		if err != nil {
			fail(fmt.Sprintf("%s: %q is not a number", strings.ReplaceAll(k, "_", " "), form[k]))
			return
		}
		params[k] = v
	}
	var run kenner.MatchRun
	if err := c.call(r.Context(), rq, "POST", "/v1/match/runs", params, &run); err != nil {
		fail(kenner.ErrorMessage(err))
		return
	}
	http.Redirect(w, r, "/console/matching/runs/"+url.PathEscape(run.ID), http.StatusSeeOther)
}

// curvePoint is the threshold curve as the chart reads it.
type curveChart struct {
	X         []float64 `json:"x"`
	Pairs     []int     `json:"pairs"`
	Precision []float64 `json:"precision"`
	Recall    []float64 `json:"recall"`
}

type levelRow struct {
	Field, Level, M, U, Weight string
	Positive                   bool
	Width                      float64
}

type countRow struct {
	Name  string
	Count int
}

func (c *Console) matchRun(w http.ResponseWriter, r *http.Request, rq *request) {
	var run kenner.MatchRun
	if err := c.call(r.Context(), rq, "GET", "/v1/match/runs/"+url.PathEscape(r.PathValue("id")), nil, &run); err != nil {
		c.matchingPage(w, r, rq, nil, "", kenner.ErrorMessage(err))
		return
	}
	var p matchrun.Params
	json.Unmarshal(run.Params, &p)
	var progress matchrun.Progress
	json.Unmarshal(run.Progress, &progress)
	data := map[string]any{"Run": run, "Params": p, "Progress": progress}
	if len(run.Result) > 0 {
		var res matchrun.Result
		if err := json.Unmarshal(run.Result, &res); err == nil {
			data["Result"] = res
			ch := curveChart{}
			var curve [][]string
			for _, pt := range res.Curve {
				ch.X = append(ch.X, pt.Weight)
				ch.Pairs = append(ch.Pairs, pt.Pairs)
				ch.Precision = append(ch.Precision, pt.Precision)
				ch.Recall = append(ch.Recall, pt.Recall)
				curve = append(curve, []string{strconv.FormatFloat(pt.Weight, 'f', 0, 64), strconv.FormatFloat(pt.Probability, 'f', 4, 64),
					thousands(int64(pt.Pairs)), strconv.FormatFloat(pt.Precision, 'f', 4, 64), strconv.FormatFloat(pt.Recall, 'f', 4, 64)})
			}
			data["Chart"], data["Curve"] = ch, curve
			var levels []levelRow
			var most float64
			for _, f := range res.Model.Fields {
				for _, l := range f.Levels {
					most = math.Max(most, math.Abs(l.Weight))
				}
			}
			for _, f := range res.Model.Fields {
				for _, l := range f.Levels {
					row := levelRow{Field: f.Name, Level: l.Level, M: strconv.FormatFloat(l.M, 'f', 4, 64), U: strconv.FormatFloat(l.U, 'f', 4, 64),
						Weight: strconv.FormatFloat(l.Weight, 'f', 2, 64), Positive: l.Weight >= 0}
					if most > 0 {
						row.Width = 100 * math.Abs(l.Weight) / most
					}
					levels = append(levels, row)
				}
			}
			data["Levels"] = levels
			data["Rules"] = sortedCounts(res.PerRule)
			data["Skipped"] = sortedCounts(res.Skipped)
		}
	}
	c.page(w, "matchrun", rq, "matching", "Match run "+run.ID, data)
}

func sortedCounts(m map[string]int) []countRow {
	var out []countRow
	for k, n := range m {
		out = append(out, countRow{k, n})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Count > out[j].Count || out[i].Count == out[j].Count && out[i].Name < out[j].Name
	})
	return out
}

// reviewView is one pair of the queue, side by side.
type reviewView struct {
	kenner.MatchReview
	Rows []reviewRow
}

type reviewRow struct {
	Field, A, B, Level, Contribution string
	Positive                         bool
	Width                            float64
}

func (c *Console) matchReviews(w http.ResponseWriter, r *http.Request, rq *request) {
	c.matchReviewsPage(w, r, rq, "", "")
}

func (c *Console) matchReviewsPage(w http.ResponseWriter, r *http.Request, rq *request, notice, errMsg string) {
	status := r.URL.Query().Get("status")
	if status == "" {
		status = kenner.ReviewPending
	}
	q := url.Values{"status": {status}, "limit": {"50"}}
	if cur := r.URL.Query().Get("cursor"); cur != "" {
		q.Set("cursor", cur)
	}
	var out struct {
		Reviews []kenner.MatchReview `json:"reviews"`
		Next    string               `json:"next"`
	}
	if err := c.call(r.Context(), rq, "GET", "/v1/match/reviews?"+q.Encode(), nil, &out); err != nil && errMsg == "" {
		errMsg = kenner.ErrorMessage(err)
	}
	var views []reviewView
	for _, rv := range out.Reviews {
		v := reviewView{MatchReview: rv}
		var most float64
		for _, f := range rv.Fields {
			most = math.Max(most, math.Abs(f.Contribution))
		}
		for _, f := range rv.Fields {
			row := reviewRow{Field: f.Field, A: rv.A.Values[f.Field], B: rv.B.Values[f.Field], Level: f.Level,
				Contribution: strconv.FormatFloat(f.Contribution, 'f', 2, 64), Positive: f.Contribution >= 0}
			if most > 0 {
				row.Width = 100 * math.Abs(f.Contribution) / most
			}
			v.Rows = append(v.Rows, row)
		}
		views = append(views, v)
	}
	c.page(w, "matchreviews", rq, "matching", "Match review", map[string]any{"Reviews": views, "Status": status, "Next": out.Next,
		"CanDecide": rq.user.Role.AtLeast(kenner.RoleAdmin), "Notice": notice, "Error": errMsg})
}

// decideReview accepts or rejects a pair from the queue.
func (c *Console) decideReview(w http.ResponseWriter, r *http.Request, rq *request) {
	verb := r.PathValue("verb")
	if verb != "accept" && verb != "reject" {
		http.NotFound(w, r)
		return
	}
	var rv kenner.MatchReview
	if err := c.call(r.Context(), rq, "POST", "/v1/match/reviews/"+url.PathEscape(r.PathValue("id"))+"/"+verb, nil, &rv); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.matchReviewsPage(w, r, rq, "", kenner.ErrorMessage(err))
		return
	}
	notice := fmt.Sprintf("Merged %s and %s. A split on the profile undoes it.", rv.A.ProfileID, rv.B.ProfileID)
	if rv.Status == kenner.ReviewRejected {
		notice = fmt.Sprintf("Rejected: %s and %s stay apart, and no later run proposes them again.", rv.A.ProfileID, rv.B.ProfileID)
	}
	c.matchReviewsPage(w, r, rq, notice, "")
}
