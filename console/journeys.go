package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
)

// journeyReport is the API's report of a journey.
type journeyReport struct {
	Entered, Active, Waiting, Completed, Exited, Converted, Control, Sends int64
	Opens, Clicks, Unsubscribes                                            int64
	Steps                                                                  map[string]map[string]int64
}

// journeyRow is a journey in the list.
type journeyRow struct {
	ID, Name, Status, Entry string
	Version                 int
	Report                  journeyReport
	Rate                    string // conversion of the people who entered
}

// stepRow is one step of a journey's page: what it does in words, and what happened there.
type stepRow struct {
	ID, Type, What, Next string
	Entered, Waiting     int64
	Share                float64 // of the journey's entrants who reached it
	Outcomes             []nameValue
}

func percent(n, of int64) string {
	if of == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

// entryText says in words how people enter.
func entryText(e kenner.JourneyEntry, segNames map[string]string) string {
	switch {
	case e.Segment != "":
		name := segNames[e.Segment]
		if name == "" {
			name = e.Segment
		}
		if kenner.IsLeadStageSegment(e.Segment) {
			return "reaching lead stage " + name
		}
		return "entering segment " + name
	case e.Event != "":
		if e.Filter != "" {
			return fmt.Sprintf("doing %s where %s", e.Event, e.Filter)
		}
		return "doing " + e.Event
	}
	return "(no entry yet)"
}

// stepText says in words what a step does.
func stepText(s kenner.JourneyStep, destNames map[string]string) (what, next string) {
	to := func(id string) string {
		if id == "" {
			return "end"
		}
		return id
	}
	next = "→ " + to(s.Next)
	switch s.Type {
	case kenner.StepWait:
		what = "Wait " + kenner.Duration(s.Duration).String()
	case kenner.StepWaitUntil:
		what = "Wait until " + s.Time + " in the person's time zone"
	case kenner.StepWaitEvent:
		what = fmt.Sprintf("Wait up to %s for %s", kenner.Duration(s.Timeout), s.Event)
		next = fmt.Sprintf("done → %s; timed out → %s", to(s.Then), to(s.TimeoutNext))
	case kenner.StepBranch:
		what = "If " + s.Condition
		next = fmt.Sprintf("yes → %s; no → %s", to(s.Then), to(s.Else))
	case kenner.StepSplit:
		what = fmt.Sprintf("Split %g%% / %g%%", s.Percent, 100-s.Percent)
		next = fmt.Sprintf("A → %s; B → %s", to(s.Then), to(s.Else))
	case kenner.StepEmail:
		what = "Email “" + s.Subject + "”"
	case kenner.StepDestination:
		name := destNames[s.Destination]
		if name == "" {
			name = s.Destination
		}
		what = "Send to " + name
	case kenner.StepSetTrait:
		what = fmt.Sprintf("Set %s to %s", s.Trait, s.Value)
	case kenner.StepGoal:
		what = "Goal: " + s.Event
	default:
		what = s.Type
	}
	return what, next
}

func (c *Console) journeys(w http.ResponseWriter, r *http.Request, rq *request) {
	c.journeysPage(w, r, rq, "", "")
}

func (c *Console) journeysPage(w http.ResponseWriter, r *http.Request, rq *request, name, errMsg string) {
	var out struct {
		Journeys []kenner.Journey `json:"journeys"`
	}
	if err := c.call(r.Context(), rq, "GET", "/v1/journeys", nil, &out); err != nil && errMsg == "" {
		errMsg = kenner.ErrorMessage(err)
	}
	segNames := c.segmentNames(r, rq)
	var rows []journeyRow
	for _, j := range out.Journeys {
		row := journeyRow{ID: j.ID, Name: j.Name, Status: j.Status, Version: j.Version, Entry: entryText(j.Entry, segNames)}
		c.call(r.Context(), rq, "GET", "/v1/journeys/"+url.PathEscape(j.ID)+"/report", nil, &row.Report)
		row.Rate = percent(row.Report.Converted, row.Report.Entered)
		rows = append(rows, row)
	}
	segs := sortedNames(segNames)
	c.page(w, "journeys", rq, "journeys", "Journeys", map[string]any{"Journeys": rows, "Name": name, "Error": errMsg,
		"CanEdit": rq.user.Role.AtLeast(kenner.RoleMarketer), "Starters": starters, "Segments": segs})
}

func (c *Console) segmentNames(r *http.Request, rq *request) map[string]string {
	var segs struct {
		Segments []kenner.Segment `json:"segments"`
	}
	c.call(r.Context(), rq, "GET", "/v1/segments", nil, &segs)
	names := map[string]string{}
	for _, s := range segs.Segments {
		names[s.ID] = s.Name
	}
	// Lead stages are segments too: lead:<model id>:<stage>.
	var models struct {
		Models []kenner.Model `json:"models"`
	}
	c.call(r.Context(), rq, "GET", "/v1/models", nil, &models)
	for _, m := range models.Models {
		if m.Kind == kenner.ModelLead {
			for _, st := range m.Stages {
				names[kenner.LeadStageSegment(m.ID, st.Name)] = st.Name + " (" + m.Name + ")"
			}
		}
	}
	return names
}

// starters are the drafts a new journey can begin with, for a marketer to change.
var starters = []struct{ Key, Name, Help string }{
	{"welcome", "Welcome series", "on sign-up: a welcome email, then a nudge if no order comes"},
	{"winback", "Win-back", "on entering a segment (people at risk): wait, a gift for VIPs, a reminder"},
	{"renewal", "Renewal reminder", "3 days before the date in a trait"},
	{"nurture", "Lead nurturing", "on reaching a lead stage: content, then a hand-off to sales"},
}

// starterJourney is the draft a new journey begins with.
func starterJourney(kind, name, segmentID string) kenner.JourneyDefinition {
	day := func(n int) kenner.Duration { return kenner.Duration(time.Duration(n) * 24 * time.Hour) }
	hello := `{{ .traits.first_name | default "there" }}`
	switch kind {
	case "winback":
		return kenner.JourneyDefinition{Name: name, Entry: kenner.JourneyEntry{Segment: segmentID}, Reentry: "90d", Holdout: 0.1,
			Steps: []kenner.JourneyStep{
				{ID: "wait", Type: kenner.StepWait, Duration: day(3), Next: "vip"},
				{ID: "vip", Type: kenner.StepBranch, Condition: `has(traits.vip) && traits.vip == true`, Then: "gift", Else: "miss"},
				{ID: "gift", Type: kenner.StepEmail, Subject: "A gift for you, " + hello, HTML: "<p>Here is 20% off your next order.</p>", Text: "Here is 20% off your next order.", Next: "ordered"},
				{ID: "miss", Type: kenner.StepEmail, Subject: "We miss you, " + hello, HTML: "<p>Come and see what is new.</p>", Text: "Come and see what is new.", Next: "ordered"},
				{ID: "ordered", Type: kenner.StepWaitEvent, Event: "Order Completed", Timeout: day(7), TimeoutNext: "last"},
				{ID: "last", Type: kenner.StepEmail, Subject: "Last chance", Text: "Your offer ends today."},
				{ID: "goal", Type: kenner.StepGoal, Event: "Order Completed"},
			}}
	case "renewal":
		return kenner.JourneyDefinition{Name: name, Entry: kenner.JourneyEntry{Date: &kenner.DateEntry{Trait: "renewal_date", Before: day(3)}}, Reentry: "always",
			Steps: []kenner.JourneyStep{
				{ID: "remind", Type: kenner.StepEmail, Subject: "Your renewal is coming up, " + hello, Text: "Your plan renews in 3 days.", Next: "renewed"},
				{ID: "renewed", Type: kenner.StepWaitEvent, Event: "Subscription Renewed", Timeout: day(4), TimeoutNext: "flag"},
				{ID: "flag", Type: kenner.StepSetTrait, Trait: "renewal_missed", Value: []byte("true")},
			}}
	case "nurture":
		return kenner.JourneyDefinition{Name: name, Entry: kenner.JourneyEntry{Segment: segmentID},
			Steps: []kenner.JourneyStep{
				{ID: "guide", Type: kenner.StepEmail, Subject: "Your guide, " + hello, Text: "Here is how teams like yours get started.", Next: "wait"},
				{ID: "wait", Type: kenner.StepWait, Duration: day(2), Next: "demo"},
				{ID: "demo", Type: kenner.StepWaitEvent, Event: "Demo Requested", Timeout: day(5), Then: "sales", TimeoutNext: "case"},
				{ID: "case", Type: kenner.StepEmail, Subject: "How Acme grew 3×", Text: "A customer story."},
				{ID: "sales", Type: kenner.StepSetTrait, Trait: "sales_ready", Value: []byte("true")},
			}}
	}
	return kenner.JourneyDefinition{Name: name, Entry: kenner.JourneyEntry{Event: "Signed Up"},
		Steps: []kenner.JourneyStep{
			{ID: "welcome", Type: kenner.StepEmail, Subject: "Welcome, " + hello,
				HTML: "<p>Hello " + hello + ", welcome aboard.</p>", Text: "Hello " + hello + ", welcome aboard.", Next: "wait"},
			{ID: "wait", Type: kenner.StepWait, Duration: day(3), Next: "ordered"},
			{ID: "ordered", Type: kenner.StepWaitEvent, Event: "Order Completed", Timeout: day(4), TimeoutNext: "nudge"},
			{ID: "nudge", Type: kenner.StepEmail, Subject: "Anything we can help with?", Text: "Reply to this email and we will help."},
			{ID: "goal", Type: kenner.StepGoal, Event: "Order Completed"},
		}}
}

// createJourney starts a draft from the starter, then opens it for editing.
func (c *Console) createJourney(w http.ResponseWriter, r *http.Request, rq *request) {
	r.ParseForm()
	name := strings.TrimSpace(r.PostFormValue("name"))
	var j kenner.Journey
	def := starterJourney(r.PostFormValue("starter"), name, r.PostFormValue("segment"))
	if err := c.call(r.Context(), rq, "POST", "/v1/journeys", def, &j); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.journeysPage(w, r, rq, name, kenner.ErrorMessage(err))
		return
	}
	http.Redirect(w, r, "/console/journeys/"+url.PathEscape(j.ID), http.StatusSeeOther)
}

func (c *Console) journey(w http.ResponseWriter, r *http.Request, rq *request) {
	c.journeyPage(w, r, rq, r.PathValue("id"), "", doneNotices[r.URL.Query().Get("done")], "", nil)
}

// journeyPage shows a journey: its steps with their populations and outcomes, the draft to
// edit, and an email preview.
func (c *Console) journeyPage(w http.ResponseWriter, r *http.Request, rq *request, id, draft, notice, errMsg string, preview map[string]string) {
	var j kenner.Journey
	if err := c.call(r.Context(), rq, "GET", "/v1/journeys/"+url.PathEscape(id), nil, &j); err != nil {
		w.WriteHeader(http.StatusNotFound)
		c.journeysPage(w, r, rq, "", kenner.ErrorMessage(err))
		return
	}
	var rep journeyReport
	c.call(r.Context(), rq, "GET", "/v1/journeys/"+url.PathEscape(id)+"/report", nil, &rep)
	var dests struct {
		Destinations []kenner.Destination `json:"destinations"`
	}
	destNames := map[string]string{}
	if rq.user.Role.AtLeast(kenner.RoleAdmin) {
		c.call(r.Context(), rq, "GET", "/v1/destinations", nil, &dests)
		for _, d := range dests.Destinations {
			destNames[d.ID] = d.Name
		}
	}
	// The steps shown are those of the published version people are on, else the draft's.
	steps := j.Steps
	var vs struct {
		Versions []kenner.JourneyVersion `json:"versions"`
	}
	if j.Version > 0 && c.call(r.Context(), rq, "GET", "/v1/journeys/"+url.PathEscape(id)+"/versions", nil, &vs) == nil && len(vs.Versions) > 0 {
		steps = vs.Versions[len(vs.Versions)-1].Definition.Steps
	}
	var rows []stepRow
	var emails []string
	for _, s := range steps {
		st := rep.Steps[s.ID]
		row := stepRow{ID: s.ID, Type: s.Type, Entered: st["entered"], Waiting: st["waiting"]}
		row.What, row.Next = stepText(s, destNames)
		if rep.Entered > 0 {
			row.Share = 100 * float64(row.Entered) / float64(rep.Entered)
		}
		for _, k := range []string{"sent", "opened", "clicked", "unsubscribed", "capped", "held_out", "quiet", "then", "else", "event", "timeout", "set", "converted", "converted_then", "converted_else"} {
			if n := st[k]; n > 0 {
				row.Outcomes = append(row.Outcomes, nameValue{strings.ReplaceAll(k, "_", " "), fmt.Sprint(n)})
			}
		}
		rows = append(rows, row)
		if s.Type == kenner.StepEmail {
			emails = append(emails, s.ID)
		}
	}
	if draft == "" {
		// Templates hold HTML: shown as written, not as \u003c escapes.
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		enc.Encode(j.JourneyDefinition)
		draft = strings.TrimSpace(b.String())
	}
	if preview == nil {
		preview = map[string]string{}
	}
	segNames := c.segmentNames(r, rq)
	var draftSteps []stepRow
	for _, s := range j.Steps {
		row := stepRow{ID: s.ID, Type: s.Type}
		row.What, row.Next = stepText(s, destNames)
		draftSteps = append(draftSteps, row)
	}
	var destList []nameValue
	for _, d := range dests.Destinations {
		destList = append(destList, nameValue{d.ID, d.Name})
	}
	entryKind := "event"
	switch {
	case j.Entry.Segment != "":
		entryKind = "segment"
	case j.Entry.Audience != "":
		entryKind = "audience"
	case j.Entry.Date != nil:
		entryKind = "date"
	}
	c.page(w, "journey", rq, "journeys", j.Name, map[string]any{"Journey": j, "Report": rep, "Steps": rows,
		"Entry": entryText(j.Entry, segNames), "Rate": percent(rep.Converted, rep.Entered), "Draft": draft, "Emails": emails,
		"Preview": preview, "Notice": notice, "Error": errMsg, "CanEdit": rq.user.Role.AtLeast(kenner.RoleMarketer),
		"DraftSteps": draftSteps, "Segments": sortedNames(segNames), "Destinations": destList, "EntryKind": entryKind,
		"Holdout": fmt.Sprintf("%g", j.Holdout*100)})
}

// saveJourney saves the draft, and publishes it when asked.
func (c *Console) saveJourney(w http.ResponseWriter, r *http.Request, rq *request) {
	r.ParseForm()
	id := r.PathValue("id")
	draft := r.PostFormValue("definition")
	var def kenner.JourneyDefinition
	if err := json.Unmarshal([]byte(draft), &def); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.journeyPage(w, r, rq, id, draft, "", "The definition is not valid JSON: "+err.Error(), nil)
		return
	}
	if err := c.call(r.Context(), rq, "PUT", "/v1/journeys/"+url.PathEscape(id), def, nil); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.journeyPage(w, r, rq, id, draft, "", kenner.ErrorMessage(err), nil)
		return
	}
	done := "saved"
	if r.PostFormValue("publish") != "" {
		opts := map[string]bool{"migrate": r.PostFormValue("migrate") != ""}
		if err := c.call(r.Context(), rq, "POST", "/v1/journeys/"+url.PathEscape(id)+"/publish", opts, nil); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			c.journeyPage(w, r, rq, id, draft, "Draft saved, not published.", kenner.ErrorMessage(err), nil)
			return
		}
		done = "published"
	}
	http.Redirect(w, r, "/console/journeys/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
}

// doneNotices are what a redirect after a change says it did.
var doneNotices = map[string]string{
	"saved":     "Draft saved. People in the journey stay on the published version until you publish.",
	"published": "Published: new entrants take this version; people already in it stay on theirs.",
}

// journeyAction pauses, resumes or archives a journey.
func (c *Console) journeyAction(w http.ResponseWriter, r *http.Request, rq *request) {
	id, action := r.PathValue("id"), r.PathValue("action")
	switch action {
	case "pause", "resume", "archive", "publish":
	default:
		http.NotFound(w, r)
		return
	}
	var body any
	if action == "publish" {
		r.ParseForm()
		body = map[string]bool{"migrate": r.PostFormValue("migrate") != ""}
	}
	if err := c.call(r.Context(), rq, "POST", "/v1/journeys/"+url.PathEscape(id)+"/"+action, body, nil); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.journeyPage(w, r, rq, id, "", "", kenner.ErrorMessage(err), nil)
		return
	}
	done := ""
	if action == "publish" {
		done = "?done=published"
	}
	http.Redirect(w, r, "/console/journeys/"+url.PathEscape(id)+done, http.StatusSeeOther)
}

// previewJourney renders an email step for a person, or sends it to the marketer.
func (c *Console) previewJourney(w http.ResponseWriter, r *http.Request, rq *request) {
	r.ParseForm()
	id := r.PathValue("id")
	body := map[string]string{"step": r.PostFormValue("step"), "profile": strings.TrimSpace(r.PostFormValue("profile")), "to": strings.TrimSpace(r.PostFormValue("to"))}
	if body["to"] != "" {
		if err := c.call(r.Context(), rq, "POST", "/v1/journeys/"+url.PathEscape(id)+"/test", body, nil); err != nil {
			c.journeyPage(w, r, rq, id, "", "", kenner.ErrorMessage(err), body)
			return
		}
		c.journeyPage(w, r, rq, id, "", "Test email sent to "+body["to"]+".", "", body)
		return
	}
	var out map[string]string
	if err := c.call(r.Context(), rq, "POST", "/v1/journeys/"+url.PathEscape(id)+"/preview", body, &out); err != nil {
		c.journeyPage(w, r, rq, id, "", "", kenner.ErrorMessage(err), body)
		return
	}
	for k, v := range out {
		body["out_"+k] = v
	}
	if out["html"] != "" {
		body["out_html_src"] = "/console/journeys/" + url.PathEscape(id) + "/preview.html?" + url.Values{"step": {body["step"]}, "profile": {body["profile"]}}.Encode()
	}
	c.journeyPage(w, r, rq, id, "", "", "", body)
}

// previewDocument serves an email step's HTML part rendered for a person, for the preview's
// frame: a document of its own that may load the email's images and nothing else.
func (c *Console) previewDocument(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	body := map[string]string{"step": r.URL.Query().Get("step"), "profile": r.URL.Query().Get("profile")}
	var out map[string]string
	if err := c.call(r.Context(), rq, "POST", "/v1/journeys/"+url.PathEscape(id)+"/preview", body, &out); err != nil {
		http.Error(w, kenner.ErrorMessage(err), http.StatusBadRequest)
		return
	}
	h := w.Header()
	// No script runs in it (default-src 'none'), and only the console may frame it.
	h.Set("Content-Security-Policy", "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; font-src *; frame-ancestors 'self'; form-action 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.Write([]byte(out["html"]))
}

// draftOf reads a journey's draft for a change made by a form.
func (c *Console) draftOf(r *http.Request, rq *request, id string) (*kenner.Journey, error) {
	var j kenner.Journey
	if err := c.call(r.Context(), rq, "GET", "/v1/journeys/"+url.PathEscape(id), nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// saveDraft stores a draft changed by a form and shows the journey again.
func (c *Console) saveDraft(w http.ResponseWriter, r *http.Request, rq *request, j *kenner.Journey, notice string) {
	if err := c.call(r.Context(), rq, "PUT", "/v1/journeys/"+url.PathEscape(j.ID), j.JourneyDefinition, nil); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.journeyPage(w, r, rq, j.ID, "", "", kenner.ErrorMessage(err), nil)
		return
	}
	http.Redirect(w, r, "/console/journeys/"+url.PathEscape(j.ID)+"?done="+notice, http.StatusSeeOther)
}

// formDuration reads a duration field ("3d", "12h", "30m"); empty is zero.
func formDuration(r *http.Request, field string) (kenner.Duration, error) {
	v := strings.TrimSpace(r.PostFormValue(field))
	if v == "" {
		return 0, nil
	}
	d, err := kenner.ParseDuration(v)
	return kenner.Duration(d), err
}

// setEntry changes how people enter a draft, and its exit, re-entry and holdout.
func (c *Console) setEntry(w http.ResponseWriter, r *http.Request, rq *request) {
	r.ParseForm()
	j, err := c.draftOf(r, rq, r.PathValue("id"))
	if err != nil {
		c.journeysPage(w, r, rq, "", kenner.ErrorMessage(err))
		return
	}
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	var e kenner.JourneyEntry
	switch f("entry") {
	case "segment":
		e.Segment = f("segment")
	case "audience":
		e.Audience = f("segment")
	case "date":
		before, err := formDuration(r, "before")
		if err != nil {
			c.journeyPage(w, r, rq, j.ID, "", "", "Days before the date: "+kenner.ErrorMessage(err), nil)
			return
		}
		e.Date = &kenner.DateEntry{Trait: f("date_trait"), Before: before, Time: f("date_time")}
	default:
		e.Event, e.Filter = f("event"), f("filter")
	}
	j.Entry, j.Exit, j.Reentry = e, f("exit"), f("reentry")
	j.Holdout = 0
	if p := f("holdout"); p != "" {
		var pct float64
		if _, err := fmt.Sscan(p, &pct); err != nil {
			c.journeyPage(w, r, rq, j.ID, "", "", "Holdout: a percentage like 10", nil)
			return
		}
		j.Holdout = pct / 100
	}
	c.saveDraft(w, r, rq, j, "saved")
}

// addStep appends a step to a draft, linked from the step (and arm) the form names.
func (c *Console) addStep(w http.ResponseWriter, r *http.Request, rq *request) {
	r.ParseForm()
	j, err := c.draftOf(r, rq, r.PathValue("id"))
	if err != nil {
		c.journeysPage(w, r, rq, "", kenner.ErrorMessage(err))
		return
	}
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	fail := func(msg string) {
		w.WriteHeader(http.StatusBadRequest)
		c.journeyPage(w, r, rq, j.ID, "", "", msg, nil)
	}
	s := kenner.JourneyStep{ID: f("step_id"), Type: f("type"), Event: f("event"), Time: f("time"), Condition: f("condition"),
		Subject: f("subject"), Text: r.PostFormValue("text"), HTML: r.PostFormValue("html"), Destination: f("destination"), Trait: f("trait")}
	if s.ID == "" {
		s.ID = fmt.Sprintf("%s_%d", s.Type, len(j.Steps)+1)
	}
	for _, have := range j.Steps {
		if have.ID == s.ID {
			fail(fmt.Sprintf("There is already a step %q.", s.ID))
			return
		}
	}
	var err1, err2 error
	s.Duration, err1 = formDuration(r, "duration")
	s.Timeout, err2 = formDuration(r, "timeout")
	if err1 != nil || err2 != nil {
		fail("Durations are written like 30m, 12h or 3d.")
		return
	}
	if p := f("percent"); p != "" {
		if _, err := fmt.Sscan(p, &s.Percent); err != nil {
			fail("Split: a percentage like 50.")
			return
		}
	}
	if s.Type == kenner.StepSetTrait {
		v := f("value")
		if !json.Valid([]byte(v)) {
			b, _ := json.Marshal(v) // plain text is a string value
			v = string(b)
		}
		s.Value = json.RawMessage(v)
	}
	linked := false
	if after := f("after"); after != "" {
		for i := range j.Steps {
			if j.Steps[i].ID != after {
				continue
			}
			switch f("arm") {
			case "then":
				j.Steps[i].Then = s.ID
			case "else":
				j.Steps[i].Else = s.ID
			case "timeout_next":
				j.Steps[i].TimeoutNext = s.ID
			default:
				j.Steps[i].Next = s.ID
			}
			linked = true
		}
		if !linked {
			fail(fmt.Sprintf("There is no step %q to follow.", after))
			return
		}
	}
	j.Steps = append(j.Steps, s)
	c.saveDraft(w, r, rq, j, "saved")
}

// removeStep deletes a step from a draft; the steps that led to it end there instead.
func (c *Console) removeStep(w http.ResponseWriter, r *http.Request, rq *request) {
	j, err := c.draftOf(r, rq, r.PathValue("id"))
	if err != nil {
		c.journeysPage(w, r, rq, "", kenner.ErrorMessage(err))
		return
	}
	gone := r.PathValue("step")
	steps := j.Steps[:0]
	for _, s := range j.Steps {
		if s.ID == gone {
			continue
		}
		for _, ref := range []*string{&s.Next, &s.Then, &s.Else, &s.TimeoutNext} {
			if *ref == gone {
				*ref = ""
			}
		}
		steps = append(steps, s)
	}
	j.Steps = steps
	c.saveDraft(w, r, rq, j, "saved")
}

// sortedNames lists segments (id, name) by name for a select; lead stages say so.
func sortedNames(names map[string]string) []nameValue {
	var out []nameValue
	for id, n := range names {
		if kenner.IsLeadStageSegment(id) {
			n = "Lead stage " + n
		}
		out = append(out, nameValue{id, n})
	}
	slices.SortFunc(out, func(a, b nameValue) int { return strings.Compare(a.Value, b.Value) })
	return out
}
