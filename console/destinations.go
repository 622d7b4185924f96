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
	c.page(w, "destination_new", rq, "destinations", "New destination", map[string]any{"Events": true, "Segments": c.segmentRefs(r, rq)})
}

func (c *Console) createDestination(w http.ResponseWriter, r *http.Request, rq *request) {
	r.ParseForm()
	cfg := map[string]any{"url": strings.TrimSpace(r.PostFormValue("url"))}
	if s := r.PostFormValue("secret"); s != "" {
		cfg["secret"] = s
	}
	sub := map[string]any{"events": r.PostFormValue("events") != "", "profiles": r.PostFormValue("profiles") != ""}
	if segs := r.PostForm["segments"]; len(segs) > 0 {
		sub["segments"] = segs
	}
	def := map[string]any{"name": r.PostFormValue("name"), "type": "webhook", "config": cfg, "subscribe": sub}
	var d struct{ ID string }
	if err := c.call(r.Context(), rq, "POST", "/v1/destinations", def, &d); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.page(w, "destination_new", rq, "destinations", "New destination", map[string]any{"Name": def["name"], "URL": cfg["url"],
			"Events": sub["events"], "Segments": c.segmentRefs(r, rq), "Error": kenner.ErrorMessage(err)})
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
