package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/analytics"
)

// analyticsForm is the analytics page's settings, read from its query (the forms are GET, so a
// report is a link to share and bookmark).
type analyticsForm struct {
	Tab                                 string
	From, To                            string
	Conversion, By, Lookback            string
	Event, Measure, Interval, Breakdown string
	// Property, when given, breaks a trend or a funnel down by an event property instead.
	Property                             string
	Compare                              bool
	Steps, Window, Order, FunnelBreakdwn string
	Start, Return, Period                string
	Model                                string
	Segment                              string
}

func readAnalyticsForm(q url.Values) analyticsForm {
	get := func(k, def string) string {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			return v
		}
		return def
	}
	now := time.Now().UTC()
	return analyticsForm{
		Tab:  get("tab", "attribution"),
		From: get("from", now.AddDate(0, 0, -30).Format(time.DateOnly)), To: get("to", now.Format(time.DateOnly)),
		Conversion: get("conversion", kenner.DefaultOrderEvent), By: get("by", "channel"), Lookback: get("lookback", "30d"),
		Event: get("event", "$page"), Measure: get("measure", analytics.Unique), Interval: get("interval", analytics.Day), Breakdown: get("breakdown", ""),
		Compare: q.Get("compare") == "true",
		Steps:   get("steps", "$page\nProduct Added\n"+kenner.DefaultOrderEvent), Window: get("window", "7d"), Order: get("order", analytics.Ordered),
		FunnelBreakdwn: get("funnel_breakdown", ""), Property: strings.TrimSpace(get("property", "")),
		Start: get("start", "$page"), Return: get("return", kenner.DefaultOrderEvent), Period: get("period", analytics.Week),
		Model: get("model", analytics.LastNonDirect),
	}
}

// attributionRow is a key (a channel, a campaign) with its conversions under every model.
type attributionRow struct {
	Key   string
	Cells []attributionCell // per model
}

type attributionCell struct{ Conversions, Revenue string }

type funnelBar struct {
	Name, People, FromPrev, FromStart, Median string
	Width                                     float64
}

type cohortRow struct {
	Start  string
	People int
	Cells  []cohortCell
}

type cohortCell struct {
	Share string
	Alpha float64
}

func (c *Console) analytics(w http.ResponseWriter, r *http.Request, rq *request) {
	c.analyticsPage(w, r, rq, "", "")
}

func (c *Console) analyticsPage(w http.ResponseWriter, r *http.Request, rq *request, notice, errMsg string) {
	f := readAnalyticsForm(r.URL.Query())
	q := r.URL.Query()
	q.Del("tab")
	data := map[string]any{"Form": f, "Notice": notice, "Error": errMsg, "CanSave": rq.user.Role.AtLeast(kenner.RoleMarketer), "Query": q.Encode()}
	if f.Tab == "trends" || f.Tab == "funnels" {
		var segs struct {
			Segments []kenner.Segment `json:"segments"`
		}
		if err := c.call(r.Context(), rq, "GET", "/v1/segments", nil, &segs); err == nil {
			data["Segments"] = segs.Segments
		}
	}
	if f.Tab == "dashboard" {
		var out struct {
			Reports []kenner.SavedReport `json:"reports"`
		}
		if err := c.call(r.Context(), rq, "GET", "/v1/reports", nil, &out); err != nil {
			data["Error"] = kenner.ErrorMessage(err)
		}
		var boards []map[string]any
		for i, rep := range out.Reports {
			q, _ := url.ParseQuery(rep.Query)
			q.Set("tab", rep.Kind)
			link := "/console/analytics?" + q.Encode()
			q.Set("chart", fmt.Sprintf("chart-%d", i))
			q.Set("board", "1")
			boards = append(boards, map[string]any{"Saved": rep, "Link": link, "Fragment": "/console/analytics/report?" + q.Encode()})
		}
		data["Dashboard"] = boards
	} else {
		// The report itself arrives in a second request (it can take the projection seconds
		// at a million people): the page shows at once, with the form.
		fq := r.URL.Query()
		fq.Set("tab", f.Tab)
		fq.Set("chart", "trend-chart")
		data["Fragment"] = "/console/analytics/report?" + fq.Encode()
		data["HasReport"] = true
	}
	c.page(w, "analytics", rq, "analytics", "Analytics", data)
}

// dashboardAge is how old an answer the console shows: the dashboard's reports are computed
// again every DashboardEvery, so they are never older than twice that.
const (
	DashboardEvery = time.Minute
	dashboardAge   = 2 * DashboardEvery
	exploreAge     = 5 * time.Second
)

// analyticsFragment renders one report (a tab's results, or a dashboard card's) for the page
// that asked for it.
func (c *Console) analyticsFragment(w http.ResponseWriter, r *http.Request, rq *request) {
	q := r.URL.Query()
	f := readAnalyticsForm(q)
	chart := q.Get("chart")
	if chart == "" || !chartID.MatchString(chart) {
		chart = "trend-chart"
	}
	// A dashboard card takes the answer the background computed (at most two minutes old); a
	// report being explored takes one at most a few seconds old, so that what just happened
	// shows.
	age := exploreAge
	if q.Get("board") == "1" {
		age = dashboardAge
	}
	data := c.analyticsReport(r.Context(), rq, f, chart, age)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := c.pages["analytics"].ExecuteTemplate(w, "report", data); err != nil {
		c.logger.Error("analytics report fragment", "err", err)
	}
}

var chartID = regexp.MustCompile(`^[a-z]+-[a-z0-9-]+$`)

// WarmDashboards computes every workspace's saved reports every DashboardEvery, as the
// dashboard asks for them, so that a dashboard opens with kept answers (within 2 minutes of
// the events) instead of computing each report while the marketer waits. It returns when ctx
// ends.
func (c *Console) WarmDashboards(ctx context.Context) {
	t := time.NewTicker(DashboardEvery)
	defer t.Stop()
	for {
		c.warmDashboards(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Console) warmDashboards(ctx context.Context) {
	wss, err := c.api.Workspaces(ctx)
	if err != nil {
		return
	}
	for _, ws := range wss {
		rq := &request{tok: &kenner.Token{ID: "console-dashboard", WorkspaceID: ws.ID, Role: kenner.RoleViewer}}
		var out struct {
			Reports []kenner.SavedReport `json:"reports"`
		}
		if err := c.call(ctx, rq, "GET", "/v1/reports", nil, &out); err != nil {
			continue
		}
		for _, rep := range out.Reports {
			if ctx.Err() != nil {
				return
			}
			q, _ := url.ParseQuery(rep.Query)
			q.Set("tab", rep.Kind)
			c.analyticsReport(ctx, rq, readAnalyticsForm(q), "warm", 0) // computed now, and kept
		}
	}
}

// saveReport saves the report the page shows for the dashboard.
func (c *Console) saveReport(w http.ResponseWriter, r *http.Request, rq *request) {
	r.ParseForm()
	q, _ := url.ParseQuery(r.PostFormValue("query"))
	kind := q.Get("tab")
	var rep kenner.SavedReport
	if err := c.call(r.Context(), rq, "POST", "/v1/reports", map[string]string{"name": r.PostFormValue("name"), "kind": kind, "query": q.Encode()}, &rep); err != nil {
		r.URL.RawQuery = q.Encode()
		w.WriteHeader(http.StatusBadRequest)
		c.analyticsPage(w, r, rq, "", kenner.ErrorMessage(err))
		return
	}
	http.Redirect(w, r, "/console/analytics?tab=dashboard", http.StatusSeeOther)
}

// deleteReport takes a report off the dashboard.
func (c *Console) deleteReport(w http.ResponseWriter, r *http.Request, rq *request) {
	if err := c.call(r.Context(), rq, "DELETE", "/v1/reports/"+url.PathEscape(r.PathValue("id")), nil, nil); err != nil {
		r.URL.RawQuery = "tab=dashboard"
		c.analyticsPage(w, r, rq, "", kenner.ErrorMessage(err))
		return
	}
	http.Redirect(w, r, "/console/analytics?tab=dashboard", http.StatusSeeOther)
}

// analyticsReport computes one report's view (a tab's results) for the page or the dashboard.
func (c *Console) analyticsReport(ctx context.Context, rq *request, f analyticsForm, chartID string, maxAge time.Duration) map[string]any {
	data := map[string]any{"Form": f, "Models": analytics.Models, "ModelNames": modelNames, "ChartID": chartID}
	age := "&max_age=" + strconv.Itoa(int(maxAge.Seconds()))
	rng := url.Values{"from": {f.From}, "to": {f.To}}
	var errMsg string
	switch f.Tab {
	case "attribution":
		q := url.Values{"conversion": {f.Conversion}, "by": {f.By}, "lookback": {f.Lookback}, "from": rng["from"], "to": rng["to"]}
		var out struct {
			Conversions    int                           `json:"conversions"`
			Revenue        float64                       `json:"revenue"`
			Unattributed   int                           `json:"unattributed"`
			Models         map[string][]analytics.Credit `json:"models"`
			RemovalEffects map[string]float64            `json:"removal_effects"`
		}
		if err := c.call(ctx, rq, "GET", "/v1/analytics/attribution?"+q.Encode()+age, nil, &out); err != nil {
			errMsg = kenner.ErrorMessage(err)
			break
		}
		keys := map[string]bool{}
		var order []string
		for _, m := range analytics.Models {
			for _, cr := range out.Models[m] {
				if !keys[cr.Key] {
					keys[cr.Key] = true
					order = append(order, cr.Key)
				}
			}
		}
		var rows []attributionRow
		for _, k := range order {
			row := attributionRow{Key: k}
			for _, m := range analytics.Models {
				var conv, rev float64
				for _, cr := range out.Models[m] {
					if cr.Key == k {
						conv, rev = cr.Conversions, cr.Revenue
					}
				}
				row.Cells = append(row.Cells, attributionCell{strconv.FormatFloat(conv, 'f', 1, 64), strconv.FormatFloat(rev, 'f', 2, 64)})
			}
			rows = append(rows, row)
		}
		data["Attribution"] = map[string]any{"Rows": rows, "Conversions": out.Conversions, "Revenue": strconv.FormatFloat(out.Revenue, 'f', 2, 64),
			"Unattributed": out.Unattributed, "Effects": sortedEffects(out.RemovalEffects)}
	case "campaigns":
		q := url.Values{"conversion": {f.Conversion}, "lookback": {f.Lookback}, "from": rng["from"], "to": rng["to"]}
		var out struct {
			Currency  string         `json:"currency"`
			CLVModel  string         `json:"clv_model"`
			Campaigns []campaignJSON `json:"campaigns"`
			Channels  []campaignJSON `json:"channels"`
		}
		if err := c.call(ctx, rq, "GET", "/v1/analytics/campaigns?"+q.Encode()+age, nil, &out); err != nil {
			errMsg = kenner.ErrorMessage(err)
			break
		}
		view := func(xs []campaignJSON) []campaignView {
			var rows []campaignView
			for _, x := range xs {
				v := campaignView{Name: x.Key, Channel: x.Channel, Spend: money(x.Spend), Conversions: strconv.FormatFloat(x.Conversions[f.Model], 'f', 1, 64),
					Revenue: money(x.Revenue[f.Model]), ROAS: "–", CAC: "–"}
				switch {
				case x.Channel == "(no campaign)":
					v.Name = "direct, organic and referral visits"
				case x.Campaign != "" || x.Source != "":
					v.Name = strings.Trim(x.Source+" / "+x.Medium+" / "+x.Campaign, " /")
				}
				if r, ok := x.ROAS[f.Model]; ok {
					v.ROAS = strconv.FormatFloat(r, 'f', 2, 64) + "×"
				}
				if cac, ok := x.CAC[f.Model]; ok {
					v.CAC = money(cac)
				}
				v.CLV, v.CLVROI = money(x.CLV[f.Model]), "–"
				if roi, ok := x.CLVROI[f.Model]; ok {
					v.CLVROI = strconv.FormatFloat(100*roi, 'f', 0, 64) + "%"
				}
				rows = append(rows, v)
			}
			return rows
		}
		data["Campaigns"] = map[string]any{"Currency": out.Currency, "CLVModel": out.CLVModel, "Rows": view(out.Campaigns), "Channels": view(out.Channels)}
	case "trends":
		bd := f.Breakdown
		if f.Property != "" {
			bd = f.Property
		}
		q := url.Values{"event": {f.Event}, "measure": {f.Measure}, "interval": {f.Interval}, "breakdown": {bd}, "segment": {f.Segment}, "from": rng["from"], "to": rng["to"]}
		if f.Compare {
			q.Set("compare", "true")
		}
		var out struct {
			Periods  []time.Time        `json:"periods"`
			Series   []analytics.Series `json:"series"`
			Previous *struct {
				Series []analytics.Series `json:"series"`
			} `json:"previous"`
		}
		if err := c.call(ctx, rq, "GET", "/v1/analytics/trends?"+q.Encode()+age, nil, &out); err != nil {
			errMsg = kenner.ErrorMessage(err)
			break
		}
		chart := map[string]any{"x": unixSeconds(out.Periods)}
		var series []map[string]any
		for i, s := range out.Series {
			if i == 8 {
				break // the eight largest: a chart of fifty lines says nothing
			}
			series = append(series, map[string]any{"label": breakdownLabel(s.Breakdown), "y": s.Values, "total": s.Total})
		}
		if out.Previous != nil {
			// The period before as one line: everyone, whatever the breakdown.
			sum := make([]float64, len(out.Periods))
			var total float64
			for _, s := range out.Previous.Series {
				for i := range min(len(sum), len(s.Values)) {
					sum[i] += s.Values[i]
				}
				total += s.Total
			}
			series = append(series, map[string]any{"label": "previous period", "y": sum, "total": total, "dash": true})
			data["Previous"] = map[string]any{"Total": total}
		}
		chart["series"] = series
		data["Trend"] = map[string]any{"Chart": chart, "Series": out.Series, "Periods": out.Periods}
	case "revenue":
		q := url.Values{"event": {f.Conversion}, "interval": {f.Interval}, "from": rng["from"], "to": rng["to"]}
		type figures struct {
			Revenue            float64 `json:"revenue"`
			Orders             float64 `json:"orders"`
			Customers          float64 `json:"customers"`
			AverageOrder       float64 `json:"average_order_value"`
			RevenuePerCustomer float64 `json:"revenue_per_customer"`
		}
		var out struct {
			Current, Previous figures
			Change            map[string]*float64 `json:"change"`
			Periods           []time.Time         `json:"periods"`
			ByPeriod          []float64           `json:"revenue_by_period"`
			PrevByPeriod      []float64           `json:"previous_by_period"`
			ByChannel         []struct {
				Channel string  `json:"channel"`
				Revenue float64 `json:"revenue"`
				Share   float64 `json:"share"`
			} `json:"by_channel"`
		}
		if err := c.call(ctx, rq, "GET", "/v1/analytics/revenue?"+q.Encode()+age, nil, &out); err != nil {
			errMsg = kenner.ErrorMessage(err)
			break
		}
		delta := func(k string) string {
			v := out.Change[k]
			if v == nil {
				return "no figure the period before"
			}
			sign := "+"
			if *v < 0 {
				sign = ""
			}
			return sign + strconv.FormatFloat(100**v, 'f', 1, 64) + "% on the period before"
		}
		cards := []map[string]string{
			{"N": money(out.Current.Revenue), "L": "revenue", "D": delta("revenue")},
			{"N": strconv.FormatFloat(out.Current.Orders, 'f', 0, 64), "L": "orders", "D": delta("orders")},
			{"N": strconv.FormatFloat(out.Current.Customers, 'f', 0, 64), "L": "customers", "D": delta("customers")},
			{"N": money(out.Current.AverageOrder), "L": "average order", "D": delta("average_order_value")},
			{"N": money(out.Current.RevenuePerCustomer), "L": "revenue per customer", "D": ""},
		}
		var channels []map[string]any
		for _, ch := range out.ByChannel {
			channels = append(channels, map[string]any{"Channel": ch.Channel, "Revenue": money(ch.Revenue), "Share": share(ch.Share), "Width": 100 * ch.Share})
		}
		chart := map[string]any{"x": unixSeconds(out.Periods), "series": []map[string]any{
			{"label": "revenue", "y": out.ByPeriod}, {"label": "previous period", "y": out.PrevByPeriod, "dash": true}}}
		data["Revenue"] = map[string]any{"Cards": cards, "Channels": channels, "Chart": chart}
	case "funnels":
		var steps []string
		for _, s := range strings.Split(f.Steps, "\n") {
			if s = strings.TrimSpace(s); s != "" {
				steps = append(steps, s)
			}
		}
		bd := f.FunnelBreakdwn
		if f.Property != "" {
			bd = f.Property
		}
		q := url.Values{"step": steps, "window": {f.Window}, "order": {f.Order}, "breakdown": {bd}, "segment": {f.Segment}, "from": rng["from"], "to": rng["to"]}
		var out struct {
			Results []analytics.FunnelResult `json:"results"`
		}
		if err := c.call(ctx, rq, "GET", "/v1/analytics/funnels?"+q.Encode()+age, nil, &out); err != nil {
			errMsg = kenner.ErrorMessage(err)
			break
		}
		type group struct {
			Name      string
			Bars      []funnelBar
			Converted int
			Median    string
		}
		var groups []group
		for _, res := range out.Results {
			g := group{Name: breakdownLabel(res.Breakdown), Converted: res.Converted, Median: seconds(res.MedianToConvert)}
			for i, st := range res.Steps {
				g.Bars = append(g.Bars, funnelBar{Name: steps[i], People: thousands(int64(st.People)), FromPrev: share(st.FromPrevious),
					FromStart: share(st.FromStart), Median: seconds(st.MedianFromPrev), Width: 100 * st.FromStart})
			}
			groups = append(groups, g)
		}
		data["Funnel"] = groups
	case "retention":
		q := url.Values{"start": {f.Start}, "return": {f.Return}, "period": {f.Period}, "periods": {"8"}, "from": rng["from"], "to": rng["to"]}
		var out struct {
			Cohorts []analytics.Cohort `json:"cohorts"`
		}
		if err := c.call(ctx, rq, "GET", "/v1/analytics/retention?"+q.Encode()+age, nil, &out); err != nil {
			errMsg = kenner.ErrorMessage(err)
			break
		}
		var rows []cohortRow
		for _, co := range out.Cohorts {
			row := cohortRow{Start: co.Start.Format(time.DateOnly), People: co.People}
			for _, sh := range co.Shares {
				row.Cells = append(row.Cells, cohortCell{Share: share(sh), Alpha: 0.08 + 0.8*sh})
			}
			rows = append(rows, row)
		}
		data["Retention"] = rows
	}
	data["Error"] = errMsg
	return data
}

var modelNames = map[string]string{analytics.FirstTouch: "First touch", analytics.LastTouch: "Last touch", analytics.LastNonDirect: "Last non-direct",
	analytics.Linear: "Linear", analytics.TimeDecay: "Time decay", analytics.Position: "Position (40/20/40)", analytics.DataDriven: "Data-driven"}

type effectRow struct {
	Channel, Effect string
	Width           float64
}

func sortedEffects(m map[string]float64) []effectRow {
	var out []effectRow
	for _, ch := range sortedCounts(toCounts(m)) {
		out = append(out, effectRow{Channel: ch.Name, Effect: share(m[ch.Name]), Width: 100 * m[ch.Name]})
	}
	return out
}

func toCounts(m map[string]float64) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = int(v * 1e6)
	}
	return out
}

func breakdownLabel(b string) string {
	switch b {
	case "":
		return "all"
	case "$all":
		return "everyone"
	}
	return b
}

func unixSeconds(ts []time.Time) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.Unix()
	}
	return out
}

func share(x float64) string { return strconv.FormatFloat(100*x, 'f', 1, 64) + "%" }

func seconds(s float64) string {
	if s == 0 {
		return "–"
	}
	return (time.Duration(s) * time.Second).Round(time.Minute).String()
}

// campaignJSON is a row of /v1/analytics/campaigns.
type campaignJSON struct {
	Key         string             `json:"key"`
	Source      string             `json:"source"`
	Medium      string             `json:"medium"`
	Campaign    string             `json:"campaign"`
	Channel     string             `json:"channel"`
	Spend       float64            `json:"spend"`
	Conversions map[string]float64 `json:"conversions"`
	Revenue     map[string]float64 `json:"revenue"`
	ROAS        map[string]float64 `json:"roas"`
	CAC         map[string]float64 `json:"cac"`
	CLV         map[string]float64 `json:"clv"`
	CLVROI      map[string]float64 `json:"clv_roi"`
}

type campaignView struct{ Name, Channel, Spend, Conversions, Revenue, ROAS, CAC, CLV, CLVROI string }

func money(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }
