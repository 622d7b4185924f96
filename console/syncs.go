package console

import (
	"encoding/json"
	"fmt"
	"go.yaml.in/yaml/v3"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
)

// syncForm is the new-sync form's fields, as typed.
var syncFormFields = []string{"name", "kind", "source", "type", "schedule", "mapping", "on_delete", "suppress_purposes",
	"dsn", "table", "query", "cursor", "id", "endpoint", "bucket", "prefix", "region", "access_key_id", "secret_access_key", "path_style", "format"}

// syncView is a sync as its list and page show it.
type syncView struct {
	kenner.Sync
	Source  string           `json:"-"`
	LastRun *kenner.SyncRun  `json:"last_run"`
	Runs    []kenner.SyncRun `json:"runs"`
	Config  map[string]any   `json:"config"`
}

// Origin says where a sync reads from, in a line.
func (v syncView) Origin() string {
	str := func(k string) string { s, _ := v.Config[k].(string); return s }
	if v.Kind == kenner.SyncS3 {
		return "s3://" + str("bucket") + "/" + str("prefix")
	}
	if t := str("table"); t != "" {
		return "table " + t + " by " + str("cursor")
	}
	return "a query, by " + str("cursor")
}

// when writes a time (or a pointer to one) shortly, in UTC; "" for none.
func when(v any) string {
	switch t := v.(type) {
	case time.Time:
		return t.UTC().Format("2006-01-02 15:04:05")
	case *time.Time:
		if t != nil {
			return t.UTC().Format("2006-01-02 15:04:05")
		}
	}
	return ""
}

func (c *Console) sourceNames(r *http.Request, rq *request) (map[string]string, []string) {
	var out struct {
		Sources []struct{ ID, Name string } `json:"sources"`
	}
	_ = c.call(r.Context(), rq, "GET", "/v1/sources", nil, &out)
	byID := map[string]string{}
	var names []string
	for _, s := range out.Sources {
		byID[s.ID] = s.Name
		names = append(names, s.Name)
	}
	return byID, names
}

func (c *Console) syncs(w http.ResponseWriter, r *http.Request, rq *request) {
	c.syncsPage(w, r, rq, nil, "", "")
}

func (c *Console) syncsPage(w http.ResponseWriter, r *http.Request, rq *request, form map[string]string, notice, errMsg string) {
	var out struct {
		Syncs []syncView `json:"syncs"`
	}
	if err := c.call(r.Context(), rq, "GET", "/v1/syncs", nil, &out); err != nil && errMsg == "" {
		errMsg = kenner.ErrorMessage(err)
	}
	byID, names := c.sourceNames(r, rq)
	for i := range out.Syncs {
		out.Syncs[i].Source = byID[out.Syncs[i].SourceID]
	}
	if form == nil {
		form = map[string]string{"kind": "database", "type": "identify", "schedule": "every 15m", "cursor": "updated_at", "id": "id",
			"mapping": "columns:\n  id: userId\n  email: traits.email\n  first_name: traits.first_name\n  updated_at: timestamp\n"}
		if len(names) > 0 {
			form["source"] = names[0]
		}
	}
	c.page(w, "syncs", rq, "sources", "Syncs", map[string]any{"Syncs": out.Syncs, "Sources": names, "Form": form,
		"Notice": notice, "Error": errMsg, "CanEdit": rq.user.Role.AtLeast(kenner.RoleAdmin)})
}

// syncBody turns the form into the API's request: the fields of the kind chosen only.
func syncBody(form map[string]string) (map[string]any, error) {
	body := map[string]any{"name": form["name"], "kind": form["kind"], "source": form["source"], "type": form["type"],
		"schedule": form["schedule"], "mapping": form["mapping"], "on_delete": form["on_delete"]}
	cfg := map[string]any{}
	keys := []string{"dsn", "table", "query", "cursor", "id"}
	if form["kind"] == kenner.SyncS3 {
		keys = []string{"endpoint", "bucket", "prefix", "region", "access_key_id", "secret_access_key", "format"}
		cfg["path_style"] = form["path_style"] == "on"
	}
	for _, k := range keys {
		if v := strings.TrimSpace(form[k]); v != "" {
			cfg[k] = v
		}
	}
	body["config"] = cfg
	if p := strings.TrimSpace(form["suppress_purposes"]); p != "" && form["on_delete"] == kenner.DeleteSuppress {
		body["suppress_purposes"] = strings.FieldsFunc(p, func(r rune) bool { return r == ',' || r == ' ' })
	}
	if form["kind"] == "" {
		return nil, fmt.Errorf("choose what to pull: a database table or files in a bucket")
	}
	return body, nil
}

// saveSync creates a sync from the form, or tests its connection (action=test).
func (c *Console) saveSync(w http.ResponseWriter, r *http.Request, rq *request) {
	r.ParseForm()
	form := map[string]string{}
	for _, k := range syncFormFields {
		form[k] = r.PostFormValue(k)
	}
	body, err := syncBody(form)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.syncsPage(w, r, rq, form, "", err.Error())
		return
	}
	if r.PostFormValue("action") == "test" {
		var res struct{ Message string }
		if err := c.call(r.Context(), rq, "POST", "/v1/syncs/test", body, &res); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			c.syncsPage(w, r, rq, form, "", "Test connection failed: "+kenner.ErrorMessage(err))
			return
		}
		c.syncsPage(w, r, rq, form, "Test connection: "+res.Message, "")
		return
	}
	var created kenner.Sync
	if err := c.call(r.Context(), rq, "POST", "/v1/syncs", body, &created); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.syncsPage(w, r, rq, form, "", kenner.ErrorMessage(err))
		return
	}
	http.Redirect(w, r, "/console/syncs/"+url.PathEscape(created.ID), http.StatusSeeOther)
}

func (c *Console) syncPage(w http.ResponseWriter, r *http.Request, rq *request) {
	c.showSync(w, r, rq, "", "")
}

func (c *Console) showSync(w http.ResponseWriter, r *http.Request, rq *request, notice, errMsg string) {
	var v syncView
	if err := c.call(r.Context(), rq, "GET", "/v1/syncs/"+url.PathEscape(r.PathValue("id")), nil, &v); err != nil {
		c.syncsPage(w, r, rq, nil, "", kenner.ErrorMessage(err))
		return
	}
	byID, _ := c.sourceNames(r, rq)
	v.Source = byID[v.SourceID]
	running := len(v.Runs) > 0 && v.Runs[0].Status == kenner.SyncRunning
	mapping := ""
	if len(v.Mapping) > 0 {
		var m any
		if json.Unmarshal(v.Mapping, &m) == nil {
			b, _ := yaml.Marshal(m)
			mapping = string(b)
		}
	}
	c.page(w, "sync", rq, "sources", "Sync "+v.Name, map[string]any{"Sync": v, "Running": running, "Notice": notice, "Error": errMsg,
		"Mapping": mapping, "CanEdit": rq.user.Role.AtLeast(kenner.RoleAdmin)})
}

// syncAction runs, pauses, resumes or deletes a sync.
func (c *Console) syncAction(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	path := "/v1/syncs/" + url.PathEscape(id)
	var err error
	notice := ""
	switch r.PathValue("action") {
	case "run":
		err = c.call(r.Context(), rq, "POST", path+"/run", nil, nil)
		notice = "The run has started; this page shows its progress."
	case "pause", "resume":
		paused := r.PathValue("action") == "pause"
		err = c.call(r.Context(), rq, "PATCH", path, map[string]any{"paused": paused}, nil)
		notice = map[bool]string{true: "Paused: it will not run on its schedule until resumed.", false: "Resumed: it runs on its schedule again."}[paused]
	case "edit":
		r.ParseForm()
		body := map[string]any{"schedule": strings.TrimSpace(r.PostFormValue("schedule")), "mapping": r.PostFormValue("mapping")}
		if v, ok := r.PostForm["on_delete"]; ok {
			body["on_delete"] = v[0]
		}
		err = c.call(r.Context(), rq, "PATCH", path, body, nil)
		notice = "Saved: the next run uses the new settings."
	case "delete":
		if err = c.call(r.Context(), rq, "DELETE", path, nil, nil); err == nil {
			c.syncsPage(w, r, rq, nil, "The sync is deleted; what it imported stays.", "")
			return
		}
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.showSync(w, r, rq, "", kenner.ErrorMessage(err))
		return
	}
	c.showSync(w, r, rq, notice, "")
}

// runSummary says what a run did, in words.
func runSummary(run kenner.SyncRun) string {
	if run.Status == kenner.SyncFailed {
		return run.Error
	}
	parts := []string{strconv.Itoa(run.Rows) + " rows", strconv.Itoa(run.Imported) + " imported"}
	if run.Duplicates > 0 {
		parts = append(parts, strconv.Itoa(run.Duplicates)+" unchanged")
	}
	if run.Rejected > 0 {
		parts = append(parts, strconv.Itoa(run.Rejected)+" rejected")
	}
	if run.Deleted > 0 {
		parts = append(parts, strconv.Itoa(run.Deleted)+" deleted in the source")
	}
	if len(run.Files) > 0 {
		parts = append(parts, strconv.Itoa(len(run.Files))+" files")
	}
	return strings.Join(parts, ", ")
}
