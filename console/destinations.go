package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/kenner-cdp/kenner"
)

type segmentRef struct{ ID, Name string }

func (c *Console) segmentRefs(r *http.Request, rq *request) []segmentRef {
	var out struct {
		Segments []segmentRef `json:"segments"`
	}
	c.call(r.Context(), rq, "GET", "/v1/segments", nil, &out)
	return out.Segments
}

func (c *Console) newDestination(w http.ResponseWriter, r *http.Request, rq *request) {
	typ := r.URL.Query().Get("type")
	if typ == "" {
		typ = "webhook"
	}
	_, sources := c.sourceNames(r, rq)
	c.page(w, "destination_new", rq, "destinations", "New destination", map[string]any{"Type": typ, "Events": typ == "webhook",
		"Profiles": typ == "enrichment", "Leads": typ == "hubspot" || typ == "salesforce", "Segments": c.segmentRefs(r, rq), "Sources": sources})
}

// commaList splits "a, b ,c" into its items.
func commaList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// stageTable reads "MQL=marketingqualifiedlead, SQL=..." into a table.
func stageTable(s string) map[string]string {
	out := map[string]string{}
	for _, p := range commaList(s) {
		if k, v, ok := strings.Cut(p, "="); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// destinationForm turns the form into the API's definition, for the kind chosen.
func destinationForm(r *http.Request) map[string]any {
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	typ := f("type")
	cfg := map[string]any{}
	def := map[string]any{"name": f("name"), "type": typ}
	switch typ {
	case "hubspot":
		cfg["access_token"] = r.PostFormValue("hs_token")
		if p := f("hs_stage_property"); p != "" {
			cfg["stage_property"], cfg["stages"] = p, stageTable(f("hs_stages"))
		}
		def["batch_size"], def["rate_limit"] = 100, 9
	case "salesforce":
		cfg["instance_url"], cfg["client_id"], cfg["client_secret"] = f("sf_instance_url"), f("sf_client_id"), r.PostFormValue("sf_client_secret")
		cfg["object"], cfg["external_id_field"] = f("sf_object"), f("sf_external_id_field")
		if st := f("sf_stage_field"); st != "" {
			cfg["stage_field"] = st
		}
		def["batch_size"] = 200
	case "enrichment":
		cfg["url"], cfg["source"] = f("en_url"), f("en_source")
		if a := r.PostFormValue("en_authorization"); a != "" {
			cfg["headers"] = map[string]string{"Authorization": a}
		}
		if ts := commaList(f("en_traits")); len(ts) > 0 {
			cfg["traits"] = ts
		}
	default:
		cfg["url"] = f("url")
		if s := r.PostFormValue("secret"); s != "" {
			cfg["secret"] = s
		}
	}
	sub := map[string]any{"events": r.PostFormValue("events") != "", "profiles": r.PostFormValue("profiles") != "", "leads": r.PostFormValue("leads") != ""}
	if segs := r.PostForm["segments"]; len(segs) > 0 {
		sub["segments"] = segs
	}
	def["config"], def["subscribe"] = cfg, sub
	return def
}

func (c *Console) createDestination(w http.ResponseWriter, r *http.Request, rq *request) {
	r.ParseForm()
	def := destinationForm(r)
	var d struct{ ID string }
	if err := c.call(r.Context(), rq, "POST", "/v1/destinations", def, &d); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		sub := def["subscribe"].(map[string]any)
		_, sources := c.sourceNames(r, rq)
		f := r.PostFormValue
		c.page(w, "destination_new", rq, "destinations", "New destination", map[string]any{"Name": def["name"], "Type": def["type"], "URL": f("url"),
			"Events": sub["events"], "Profiles": sub["profiles"], "Leads": sub["leads"], "Segments": c.segmentRefs(r, rq), "Sources": sources,
			"HSStage": f("hs_stage_property"), "HSStages": f("hs_stages"), "SFURL": f("sf_instance_url"), "SFClient": f("sf_client_id"),
			"SFExt": f("sf_external_id_field"), "SFStage": f("sf_stage_field"), "ENURL": f("en_url"), "ENTraits": f("en_traits"),
			"Error": kenner.ErrorMessage(err)})
		return
	}
	http.Redirect(w, r, "/console/destinations/"+url.PathEscape(d.ID), http.StatusSeeOther)
}

type deliveryRow struct {
	Created, Type, Status, Key string
	Attempts                   int
}

func (c *Console) destinationView(r *http.Request, rq *request, notice string, failed bool) (map[string]any, error) {
	id := r.PathValue("id")
	var d struct {
		ID, Name, Type string
		Pending        int
		Paused         bool
	}
	if err := c.call(r.Context(), rq, "GET", "/v1/destinations/"+url.PathEscape(id), nil, &d); err != nil {
		return nil, err
	}
	var ds struct {
		Deliveries []struct {
			CreatedAt string `json:"created_at"`
			Type      string `json:"type"`
			Status    string `json:"status"`
			Attempts  int    `json:"attempts"`
			Key       string `json:"idempotency_key"`
		} `json:"deliveries"`
	}
	c.call(r.Context(), rq, "GET", "/v1/destinations/"+url.PathEscape(id)+"/deliveries?limit=50", nil, &ds)
	var rows []deliveryRow
	for _, x := range ds.Deliveries {
		rows = append(rows, deliveryRow{Created: strings.Replace(strings.TrimSuffix(x.CreatedAt, "Z"), "T", " ", 1), Type: x.Type, Status: x.Status, Attempts: x.Attempts, Key: x.Key})
	}
	return map[string]any{"ID": d.ID, "Name": d.Name, "Type": d.Type, "Pending": d.Pending, "Paused": d.Paused, "Deliveries": rows,
		"Notice": notice, "Failed": failed, "CanManage": rq.user.Role.AtLeast(kenner.RoleAdmin)}, nil
}

func (c *Console) destination(w http.ResponseWriter, r *http.Request, rq *request) {
	data, err := c.destinationView(r, rq, "", false)
	if err != nil {
		c.page(w, "list", rq, "destinations", "Destination", listData{Notice: kenner.ErrorMessage(err), Empty: "No such destination."})
		return
	}
	c.page(w, "destination", rq, "destinations", fmt.Sprint(data["Name"]), data)
}

func (c *Console) testDestination(w http.ResponseWriter, r *http.Request, rq *request) {
	var res struct {
		Delivered bool
		Status    int
		Response  string
		Error     string
		LatencyMS float64 `json:"latency_ms"`
	}
	notice, failed := "", false
	if err := c.call(r.Context(), rq, "POST", "/v1/destinations/"+url.PathEscape(r.PathValue("id"))+"/test", nil, &res); err != nil {
		notice, failed = "The test could not be sent: "+kenner.ErrorMessage(err), true
	} else if res.Delivered {
		notice = fmt.Sprintf("Delivered: the receiver answered %d in %.0f ms. %s", res.Status, res.LatencyMS, res.Response)
	} else {
		notice, failed = fmt.Sprintf("Not delivered: %s %s", res.Error, res.Response), true
	}
	c.destinationAfter(w, r, rq, notice, failed)
}

// pauseDestination pauses or resumes a destination.
func (c *Console) pauseDestination(w http.ResponseWriter, r *http.Request, rq *request) {
	paused := r.PostFormValue("paused") == "true"
	notice, failed := "Paused: deliveries queue up until you resume.", false
	if !paused {
		notice = "Resumed: the queue is being sent."
	}
	if err := c.call(r.Context(), rq, "PUT", "/v1/destinations/"+url.PathEscape(r.PathValue("id")), map[string]bool{"paused": paused}, nil); err != nil {
		notice, failed = kenner.ErrorMessage(err), true
	}
	c.destinationAfter(w, r, rq, notice, failed)
}

// replayDestination queues every dead letter of a destination again.
func (c *Console) replayDestination(w http.ResponseWriter, r *http.Request, rq *request) {
	var out struct {
		Requeued int `json:"requeued"`
	}
	notice, failed := "", false
	if err := c.call(r.Context(), rq, "POST", "/v1/destinations/"+url.PathEscape(r.PathValue("id"))+"/dead-letters/replay", map[string]any{}, &out); err != nil {
		notice, failed = kenner.ErrorMessage(err), true
	} else {
		notice = fmt.Sprintf("%d dead letters queued again.", out.Requeued)
	}
	c.destinationAfter(w, r, rq, notice, failed)
}

func (c *Console) destinationAfter(w http.ResponseWriter, r *http.Request, rq *request, notice string, failed bool) {
	data, err := c.destinationView(r, rq, notice, failed)
	if err != nil {
		c.page(w, "list", rq, "destinations", "Destination", listData{Notice: kenner.ErrorMessage(err), Empty: "No such destination."})
		return
	}
	c.page(w, "destination", rq, "destinations", fmt.Sprint(data["Name"]), data)
}
