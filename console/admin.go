package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/kenner-cdp/kenner/inbound"
	"go.yaml.in/yaml/v3"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
)

func shortTime(s string) string { return strings.Replace(strings.TrimSuffix(s, "Z"), "T", " ", 1) }

type sourceRow struct{ ID, Name, Created string }

func (c *Console) sourcesPage(w http.ResponseWriter, r *http.Request, rq *request, created map[string]string, errMsg string) {
	var out struct {
		Sources []struct {
			ID        string `json:"id"`
			Name      string `json:"name"`
			CreatedAt string `json:"created_at"`
		} `json:"sources"`
	}
	data := map[string]any{"CanCreate": rq.user.Role.AtLeast(kenner.RoleAdmin), "Base": "http://" + r.Host, "Error": errMsg}
	if c.secure(r) {
		data["Base"] = "https://" + r.Host
	}
	if err := c.call(r.Context(), rq, "GET", "/v1/sources", nil, &out); err != nil {
		data["Error"] = kenner.ErrorMessage(err)
	}
	var rows []sourceRow
	for _, s := range out.Sources {
		rows = append(rows, sourceRow{ID: s.ID, Name: s.Name, Created: shortTime(s.CreatedAt)})
	}
	data["Sources"] = rows
	if created != nil {
		data["Created"] = created
		data["Snippet"] = Snippet(data["Base"].(string), created["WriteKey"])
	}
	c.page(w, "sources", rq, "sources", "Sources", data)
}

func (c *Console) sources(w http.ResponseWriter, r *http.Request, rq *request) {
	c.sourcesPage(w, r, rq, nil, "")
}

func (c *Console) createSource(w http.ResponseWriter, r *http.Request, rq *request) {
	var out struct {
		Name     string `json:"name"`
		WriteKey string `json:"write_key"`
	}
	if err := c.call(r.Context(), rq, "POST", "/v1/sources", map[string]string{"name": r.PostFormValue("name")}, &out); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.sourcesPage(w, r, rq, nil, kenner.ErrorMessage(err))
		return
	}
	c.sourcesPage(w, r, rq, map[string]string{"Name": out.Name, "WriteKey": out.WriteKey}, "")
}

// privacy shows the suppression list's size, the erasure requests and the audit log.
func (c *Console) privacy(w http.ResponseWriter, r *http.Request, rq *request) {
	var sup struct {
		Suppressions []json.RawMessage `json:"suppressions"`
		Next         string            `json:"next"`
	}
	var audit struct {
		Entries []struct {
			At, Actor, Action, Target string
			Role                      string
			Status                    int
		} `json:"entries"`
	}
	var erasures struct {
		Erasures []kenner.Erasure `json:"erasures"`
		Next     string           `json:"next"`
	}
	data := map[string]any{}
	if err := c.call(r.Context(), rq, "GET", "/v1/audit?limit=100", nil, &audit); err != nil {
		data["Error"] = kenner.ErrorMessage(err)
	}
	var rows [][]string
	for _, e := range audit.Entries {
		rows = append(rows, []string{shortTime(e.At), e.Actor, e.Role, e.Action, e.Target, fmt.Sprint(e.Status)})
	}
	data["Audit"] = rows
	q := url.Values{"limit": {"20"}, "after": {r.URL.Query().Get("erasures")}}
	c.call(r.Context(), rq, "GET", "/v1/erasures?"+q.Encode(), nil, &erasures)
	type erow struct{ Requested, Profile, Status, Removed, By, Done string }
	var es []erow
	for _, e := range erasures.Erasures {
		var removed []string
		for _, k := range slices.Sorted(maps.Keys(e.Removed)) {
			removed = append(removed, fmt.Sprintf("%d %s", e.Removed[k], k))
		}
		done := ""
		if e.DoneAt != nil {
			done = shortTime(e.DoneAt.Format(time.RFC3339))
		}
		status := e.Status
		if e.Error != "" {
			status += ": " + e.Error
		}
		es = append(es, erow{shortTime(e.CreatedAt.Format(time.RFC3339)), e.ProfileID, status, strings.Join(removed, ", "), e.RequestedBy, done})
	}
	data["Erasures"], data["MoreErasures"] = es, erasures.Next
	// The list's size, counted a page of 1000 at a time; past that, "over N".
	n, more := 0, ""
	for page := 0; page < 10; page++ {
		sup.Suppressions, sup.Next = nil, ""
		if err := c.call(r.Context(), rq, "GET", "/v1/suppressions?limit=1000&after="+url.QueryEscape(more), nil, &sup); err != nil {
			break
		}
		n += len(sup.Suppressions)
		if more = sup.Next; more == "" {
			break
		}
	}
	data["Suppressed"] = fmt.Sprint(n)
	if more != "" {
		data["Suppressed"] = fmt.Sprintf("Over %d", n)
	}
	c.page(w, "privacy", rq, "privacy", "Privacy and audit", data)
}

// settings lists the console users and API tokens, and adds users.
func (c *Console) settings(w http.ResponseWriter, r *http.Request, rq *request) {
	c.settingsPage(w, r, rq, "", "")
}

func (c *Console) settingsPage(w http.ResponseWriter, r *http.Request, rq *request, notice, errMsg string) {
	c.settingsPageWith(w, r, rq, notice, errMsg, nil)
}

// settingsPageWith renders the settings page with more data (credentials shown once).
func (c *Console) settingsPageWith(w http.ResponseWriter, r *http.Request, rq *request, notice, errMsg string, extra map[string]any) {
	var users struct {
		Users []kenner.User `json:"users"`
	}
	var tokens struct {
		Tokens []kenner.Token `json:"tokens"`
	}
	if err := c.call(r.Context(), rq, "GET", "/v1/users", nil, &users); err != nil && errMsg == "" {
		errMsg = kenner.ErrorMessage(err)
	}
	c.call(r.Context(), rq, "GET", "/v1/tokens", nil, &tokens)
	var rows [][]string
	for _, u := range users.Users {
		rows = append(rows, []string{u.Email, "console user", string(u.Role), u.CreatedAt.Format("2006-01-02")})
	}
	for _, t := range tokens.Tokens {
		rows = append(rows, []string{t.Name + " (" + t.ID + ")", "API token", string(t.Role), t.CreatedAt.Format("2006-01-02")})
	}
	var roles []string
	for _, role := range []kenner.Role{kenner.RoleViewer, kenner.RoleAnalyst, kenner.RoleMarketer, kenner.RoleAdmin, kenner.RoleOwner} {
		if rq.user.Role.AtLeast(role) {
			roles = append(roles, string(role))
		}
	}
	var rules struct {
		Priority      []string            `json:"priority"`
		Limits        map[string]int      `json:"limits"`
		Blocked       map[string][]string `json:"blocked"`
		ExternalIDs   []string            `json:"external_ids"`
		SharedLimit   int                 `json:"shared_limit"`
		DefaultRegion string              `json:"default_region"`
	}
	var ruleRows [][]string
	if c.call(r.Context(), rq, "GET", "/v1/identity/rules", nil, &rules) == nil {
		for i, kind := range rules.Priority {
			limit := "no limit"
			if n := rules.Limits[kind]; n > 0 {
				limit = fmt.Sprintf("at most %d per person", n)
			}
			ruleRows = append(ruleRows, []string{fmt.Sprint(i + 1), kind, limit, strings.Join(rules.Blocked[kind], ", ")})
		}
		for _, kind := range rules.ExternalIDs {
			if !slices.Contains(rules.Priority, kind) {
				ruleRows = append(ruleRows, []string{"after those", kind, "no limit", strings.Join(rules.Blocked[kind], ", ")})
			}
		}
	}
	shared := "off"
	if rules.SharedLimit > 0 {
		shared = fmt.Sprintf("an identifier presented by more than %d people stops identifying anyone", rules.SharedLimit)
	}
	data := map[string]any{"Rows": rows, "Roles": roles,
		"CanCreate": rq.user.Role.AtLeast(kenner.RoleAdmin), "Notice": notice, "Error": errMsg,
		"Rules": ruleRows, "BlockedAll": strings.Join(rules.Blocked["*"], ", "), "Shared": shared, "Region": rules.DefaultRegion,
		"DeploymentOwner": deploymentOwner(rq), "Workspaces": c.workspaceRows(r, rq), "Deployment": kenner.DeploymentWorkspace,
		"Cluster": c.clusterRows(r, rq)}
	maps.Copy(data, extra)
	c.page(w, "settings", rq, "settings", "Users and tokens", data)
}

// createUser invites a console user; their generated password is shown once.
func (c *Console) createUser(w http.ResponseWriter, r *http.Request, rq *request) {
	var out struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	in := map[string]string{"email": r.PostFormValue("email"), "name": r.PostFormValue("name"), "role": r.PostFormValue("role")}
	if err := c.call(r.Context(), rq, "POST", "/v1/users", in, &out); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.settingsPage(w, r, rq, "", kenner.ErrorMessage(err))
		return
	}
	c.settingsPage(w, r, rq, fmt.Sprintf("%s can sign in with the password %s (shown only now).", out.Email, out.Password), "")
}

func (c *Console) sourceView(w http.ResponseWriter, r *http.Request, rq *request, notice, errMsg string) {
	c.sourceViewWith(w, r, rq, map[string]any{"Notice": notice, "Error": errMsg})
}

// sourceViewWith renders a source's page with extra data (a notice, an import's report).
func (c *Console) sourceViewWith(w http.ResponseWriter, r *http.Request, rq *request, extra map[string]any) {
	id := r.PathValue("id")
	var src struct {
		ID, Name string
		Settings struct {
			TrackingPlan json.RawMessage        `json:"tracking_plan"`
			Webhook      *kenner.WebhookMapping `json:"webhook"`
		} `json:"settings"`
	}
	if err := c.call(r.Context(), rq, "GET", "/v1/sources/"+url.PathEscape(id), nil, &src); err != nil {
		c.page(w, "list", rq, "sources", "Source", listData{Notice: kenner.ErrorMessage(err), Empty: "No such source."})
		return
	}
	var vs struct {
		Violations []struct {
			Event, Path, Message string
			Count                int64
			LastSeen             string `json:"last_seen"`
		} `json:"violations"`
	}
	c.call(r.Context(), rq, "GET", "/v1/sources/"+url.PathEscape(id)+"/violations", nil, &vs)
	type vrow struct {
		Event, Path, Message, Last string
		Count                      int64
	}
	var vrows []vrow
	for _, v := range vs.Violations {
		vrows = append(vrows, vrow{v.Event, v.Path, v.Message, shortTime(v.LastSeen), v.Count})
	}
	var qs struct {
		Events []struct {
			Event      string
			ReceivedAt string `json:"received_at"`
			Violations []struct{ Path, Message string }
		} `json:"events"`
	}
	c.call(r.Context(), rq, "GET", "/v1/sources/"+url.PathEscape(id)+"/quarantine?limit=100", nil, &qs)
	type qrow struct{ At, Event, Why string }
	var qrows []qrow
	for _, q := range qs.Events {
		var why []string
		for _, v := range q.Violations {
			why = append(why, strings.TrimSpace(v.Path+" "+v.Message))
		}
		qrows = append(qrows, qrow{shortTime(q.ReceivedAt), q.Event, strings.Join(why, "; ")})
	}
	plan := ""
	if len(src.Settings.TrackingPlan) > 0 {
		var b bytes.Buffer
		json.Indent(&b, src.Settings.TrackingPlan, "", "  ")
		plan = b.String()
	}
	// The source's latest imports (from the console, the CLI or the API), with their progress.
	var ims struct {
		Imports []kenner.Import `json:"imports"`
	}
	c.call(r.Context(), rq, "GET", "/v1/imports?limit=200", nil, &ims)
	type irow struct{ Started, File, Type, Status, Progress, Counts string }
	var irows []irow
	running := false
	for _, im := range ims.Imports {
		if im.SourceID != src.ID || len(irows) == 10 {
			continue
		}
		progress := ""
		if im.TotalBytes > 0 {
			progress = fmt.Sprintf("%d%%", min(100, im.Bytes*100/im.TotalBytes))
		}
		if im.Status == kenner.ImportRunning {
			running = true
		}
		status := im.Status
		if im.DryRun {
			status += " (dry run)"
		}
		if im.Error != "" {
			status += ": " + im.Error
		}
		irows = append(irows, irow{shortTime(im.StartedAt.Format(time.RFC3339)), im.File, im.Type, status, progress,
			fmt.Sprintf("%d rows: %d imported, %d duplicates, %d rejected", im.Rows, im.Imported, im.Duplicates, im.Rejected)})
	}
	pf := planFormOf(src.Settings.TrackingPlan)
	for len(pf.Events) < 3 || pf.Events[len(pf.Events)-1].Name != "" {
		pf.Events = append(pf.Events, planEvent{}) // room for new events
	}
	hook := map[string]any{"URL": c.baseURL(r) + "/v1/webhooks/" + src.ID}
	if wm := src.Settings.Webhook; wm != nil {
		hook["Preset"] = wm.Preset
		hook["Signed"] = wm.Verify != nil
		b, _ := yaml.Marshal(wm)
		hook["Mapping"] = string(b)
	}
	if v, ok := extra["WebhookMapping"]; ok {
		hook["Mapping"] = v
	}
	data := map[string]any{"ID": src.ID, "Name": src.Name, "Webhook": hook, "Violations": vrows, "Plan": plan, "PlanForm": pf, "Imports": irows, "ImportRunning": running,
		"Quarantine": qrows, "CanManage": rq.user.Role.AtLeast(kenner.RoleAdmin), "Tag": c.tagView(r, rq, id)}
	for k, v := range extra {
		data[k] = v
	}
	c.page(w, "source", rq, "sources", "Source "+src.Name, data)
}

func (c *Console) source(w http.ResponseWriter, r *http.Request, rq *request) {
	c.sourceView(w, r, rq, "", "")
}

// baseURL is this server's address as the browser reached it.
func (c *Console) baseURL(r *http.Request) string {
	if c.secure(r) {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// saveWebhook sets a source's webhook mapping from its YAML (or JSON), or tries it on a payload
// (action=preview) without saving.
func (c *Console) saveWebhook(w http.ResponseWriter, r *http.Request, rq *request) {
	r.ParseForm()
	path := "/v1/sources/" + url.PathEscape(r.PathValue("id")) + "/webhook"
	text := r.PostFormValue("mapping")
	back := map[string]any{"WebhookMapping": text, "WebhookPayload": r.PostFormValue("payload")}
	fail := func(msg string) {
		w.WriteHeader(http.StatusBadRequest)
		back["Error"] = msg
		c.sourceViewWith(w, r, rq, back)
	}
	if strings.TrimSpace(text) == "" {
		if r.PostFormValue("action") == "preview" {
			fail("Write a mapping to try.")
			return
		}
		if err := c.call(r.Context(), rq, "DELETE", path, nil, nil); err != nil {
			fail(kenner.ErrorMessage(err))
			return
		}
		c.sourceView(w, r, rq, "The webhook mapping is removed: the source takes no webhooks now.", "")
		return
	}
	m, err := inbound.ParseMapping([]byte(text))
	if err != nil {
		fail(kenner.ErrorMessage(err))
		return
	}
	if r.PostFormValue("action") == "preview" {
		req := map[string]any{"mapping": m, "payload": r.PostFormValue("payload")}
		if strings.HasPrefix(strings.TrimSpace(r.PostFormValue("payload")), "{") || strings.HasPrefix(strings.TrimSpace(r.PostFormValue("payload")), "[") {
			req["content_type"] = "application/json"
		} else {
			req["content_type"] = "application/x-www-form-urlencoded"
		}
		var out struct {
			Messages []json.RawMessage `json:"messages"`
			Events   []string          `json:"events"`
		}
		if err := c.call(r.Context(), rq, "POST", path+"/preview", req, &out); err != nil {
			fail("The payload could not be mapped: " + kenner.ErrorMessage(err))
			return
		}
		var pretty []map[string]string
		for i, msg := range out.Messages {
			var b bytes.Buffer
			json.Indent(&b, msg, "", "  ")
			pretty = append(pretty, map[string]string{"Event": out.Events[i], "Body": b.String()})
		}
		back["Preview"] = pretty
		c.sourceViewWith(w, r, rq, back)
		return
	}
	if err := c.call(r.Context(), rq, "PUT", path, m, nil); err != nil {
		fail("The mapping was not saved: " + kenner.ErrorMessage(err))
		return
	}
	c.sourceView(w, r, rq, "The webhook mapping is saved.", "")
}

// replayQuarantine sends a source's quarantined events on, checked against the plan as it is.
func (c *Console) replayQuarantine(w http.ResponseWriter, r *http.Request, rq *request) {
	var out struct{ Released, Kept int64 }
	if err := c.call(r.Context(), rq, "POST", "/v1/sources/"+url.PathEscape(r.PathValue("id"))+"/quarantine/replay", map[string]any{}, &out); err != nil {
		c.sourceView(w, r, rq, "", kenner.ErrorMessage(err))
		return
	}
	c.sourceView(w, r, rq, fmt.Sprintf("%d events sent on; %d still break the plan and stay here.", out.Released, out.Kept), "")
}

// importFile imports an uploaded file into the source through the API and shows the report.
func (c *Console) importFile(w http.ResponseWriter, r *http.Request, rq *request) {
	f, hdr, err := r.FormFile("file")
	if err != nil {
		c.sourceView(w, r, rq, "", "Choose a file to import.")
		return
	}
	defer f.Close()
	q := url.Values{"source": {r.PathValue("id")}, "type": {r.PostFormValue("type")}, "mapping": {r.PostFormValue("mapping")}, "file": {hdr.Filename}}
	status, body := c.api.DoRaw(r.Context(), rq.tok, "POST", "/v1/imports?"+q.Encode(), "text/csv", f)
	var rep struct {
		Rows, Imported, Duplicates, Rejected int
		Rejects                              []kenner.ImportIssue
		Error                                struct{ Message string } `json:"error"`
	}
	json.Unmarshal(body, &rep)
	if status >= 300 {
		c.sourceView(w, r, rq, "", "The import failed: "+rep.Error.Message)
		return
	}
	if len(rep.Rejects) > 20 {
		rep.Rejects = rep.Rejects[:20]
	}
	c.sourceViewWith(w, r, rq, map[string]any{"Import": rep})
}

// savePlan sets (or, empty, removes) a source's tracking plan.
func (c *Console) savePlan(w http.ResponseWriter, r *http.Request, rq *request) {
	path := "/v1/sources/" + url.PathEscape(r.PathValue("id")) + "/tracking-plan"
	plan := strings.TrimSpace(r.PostFormValue("plan"))
	if r.PostFormValue("editor") == "simple" {
		// The rows of the simple editor, written as the plan.
		f := planForm{Mode: r.PostFormValue("mode"), Unplanned: r.PostFormValue("unplanned")}
		names, required, types := r.PostForm["ev_name"], r.PostForm["ev_required"], r.PostForm["ev_types"]
		for i := range names {
			ev := planEvent{Name: names[i]}
			if i < len(required) {
				ev.Required = required[i]
			}
			if i < len(types) {
				ev.Types = types[i]
			}
			f.Events = append(f.Events, ev)
		}
		b, err := f.plan()
		if err != nil {
			c.sourceView(w, r, rq, "", "The plan was not saved: "+err.Error())
			return
		}
		plan = string(b)
	}
	if plan == "" {
		if err := c.call(r.Context(), rq, "DELETE", path, nil, nil); err != nil {
			c.sourceView(w, r, rq, "", kenner.ErrorMessage(err))
			return
		}
		c.sourceView(w, r, rq, "The tracking plan was removed: every event is accepted as it comes.", "")
		return
	}
	if !json.Valid([]byte(plan)) {
		c.sourceView(w, r, rq, "", "The plan is not valid JSON.")
		return
	}
	status, body := c.api.Do(r.Context(), rq.tok, "PUT", path, []byte(plan))
	if status >= 300 {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		json.Unmarshal(body, &e)
		c.sourceView(w, r, rq, "", "The plan was not saved: "+e.Error.Message)
		return
	}
	c.sourceView(w, r, rq, "The tracking plan was saved and applies to new events now.", "")
}
