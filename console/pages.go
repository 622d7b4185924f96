package console

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/segment"
	"github.com/kenner-cdp/kenner/web"
)

// row is one line of a table page.
type listData struct {
	Header   []string
	Rows     [][]string
	Links    []string // per row: where its first cell leads ("": nowhere)
	Empty    string
	Notice   string
	NewURL   string // a "new" button above the table
	NewLabel string
}

// eventRow is an event as the tables show it.
type eventRow struct{ Time, Type, Name, Who, MessageID, Source string }

func eventRows(raw []json.RawMessage) []eventRow {
	var out []eventRow
	for _, e := range raw {
		var m struct {
			Type, Event, Name, UserID, AnonymousID, MessageID, ReceivedAt, Timestamp string
			SourceID                                                                 string `json:"source_id"`
		}
		json.Unmarshal(e, &m)
		name := m.Event
		if name == "" {
			name = m.Name
		}
		who := m.UserID
		if who == "" {
			who = m.AnonymousID
		}
		at := m.Timestamp
		if at == "" {
			at = m.ReceivedAt
		}
		out = append(out, eventRow{Time: strings.Replace(strings.TrimSuffix(at, "Z"), "T", " ", 1), Type: m.Type, Name: name, Who: who, MessageID: m.MessageID, Source: m.SourceID})
	}
	return out
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	data := struct {
		Segments, Members, Destinations, Pending int
		Events                                   []eventRow
		Sampled                                  int
		Sources                                  []sourceCount
		Chart                                    template.JS
		// From /v1/stats: Profiles is "" until the first count; Processing says in words
		// whether the profiles are up to date with what arrived.
		Profiles, Identified, CountedOn, Processing string
		Behind                                      bool
		// Problems are the latest deliveries given up and tracking-plan violations, shown to
		// the roles that may see destinations and sources.
		Problems     []problem
		ShowProblems bool
	}{}
	var stats struct {
		Profiles, Identified *struct {
			Count int64
			Day   string
		}
		Processing struct {
			Behind     bool
			LagSeconds float64 `json:"lag_seconds"`
		}
		Segments struct {
			Count   int
			Members int
		}
	}
	if err := c.call(ctx, rq, "GET", "/v1/stats", nil, &stats); err == nil {
		if p := stats.Profiles; p != nil {
			data.Profiles, data.CountedOn = thousands(p.Count), "on "+p.Day
			if p.Day == c.now().UTC().Format(time.DateOnly) {
				data.CountedOn = "today"
			}
			if i := stats.Identified; i != nil && p.Count > 0 {
				data.Identified = fmt.Sprintf("%.0f%%", 100*float64(i.Count)/float64(p.Count))
			}
		}
		data.Segments, data.Members = stats.Segments.Count, stats.Segments.Members
		data.Behind = stats.Processing.Behind
		switch lag := time.Duration(stats.Processing.LagSeconds * float64(time.Second)); {
		case !data.Behind:
			data.Processing = "up to date"
		case lag > 0:
			data.Processing = lag.Round(time.Second).String() + " behind"
		default:
			data.Processing = "catching up"
		}
	}
	var dests struct {
		Destinations []struct {
			ID, Name string
			Pending  int
		} `json:"destinations"`
	}
	if err := c.call(ctx, rq, "GET", "/v1/destinations", nil, &dests); err == nil {
		data.Destinations = len(dests.Destinations)
		for _, d := range dests.Destinations {
			data.Pending += d.Pending
		}
	}
	var srcs struct {
		Sources []struct{ ID, Name string } `json:"sources"`
	}
	names := map[string]string{}
	if c.call(ctx, rq, "GET", "/v1/sources", nil, &srcs) == nil {
		for _, s := range srcs.Sources {
			names[s.ID] = s.Name
		}
	}
	if data.ShowProblems = rq.user.Role.AtLeast(kenner.RoleAdmin); data.ShowProblems {
		data.Problems = c.recentProblems(ctx, rq, dests.Destinations, srcs.Sources)
	}
	var evs struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := c.call(ctx, rq, "GET", "/v1/events?limit=1000", nil, &evs); err == nil {
		rows := eventRows(evs.Events)
		data.Events = rows[:min(10, len(rows))]
		data.Sampled = len(evs.Events)
		var chart perMinute
		data.Sources, chart = eventsPerMinute(evs.Events, names, c.now())
		// json.Marshal escapes <, > and & in strings, so the data cannot end the script.
		b, _ := json.Marshal(chart)
		data.Chart = template.JS(b)
	}
	c.page(w, "overview", rq, "overview", "Overview", data)
}

// problem is something that went wrong recently, as the overview lists it.
type problem struct {
	When, Where, What, Link string
	at                      time.Time
}

// recentProblems gathers, through the API, the last deliveries each destination gave up on
// (its dead letters) and each source's tracking-plan violations, newest first, at most 10.
func (c *Console) recentProblems(ctx context.Context, rq *request, dests []struct {
	ID, Name string
	Pending  int
}, sources []struct{ ID, Name string }) []problem {
	var out []problem
	for _, d := range dests {
		var dead struct {
			Deliveries []kenner.Delivery `json:"deliveries"`
		}
		if c.call(ctx, rq, "GET", "/v1/destinations/"+url.PathEscape(d.ID)+"/dead-letters?limit=3", nil, &dead) != nil {
			continue
		}
		for _, dl := range dead.Deliveries {
			at := dl.DoneAt
			if at.IsZero() {
				at = dl.CreatedAt
			}
			out = append(out, problem{at: at, Where: d.Name, Link: "/console/destinations/" + url.PathEscape(d.ID),
				What: fmt.Sprintf("delivery given up after %d attempts: %s", dl.Attempts, dl.LastError)})
		}
	}
	for _, s := range sources {
		var vs struct {
			Violations []kenner.ViolationCount `json:"violations"`
		}
		if c.call(ctx, rq, "GET", "/v1/sources/"+url.PathEscape(s.ID)+"/violations", nil, &vs) != nil {
			continue
		}
		for _, v := range vs.Violations {
			what := v.Event + ": " + v.Message
			if v.Path != "" {
				what = v.Event + " " + v.Path + ": " + v.Message
			}
			out = append(out, problem{at: v.LastSeen, Where: s.Name, Link: "/console/sources/" + url.PathEscape(s.ID),
				What: fmt.Sprintf("tracking plan: %s (%d times)", what, v.Count)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at.After(out[j].at) })
	out = out[:min(10, len(out))]
	for i := range out {
		out[i].When = shortTime(out[i].at.UTC().Format(time.RFC3339))
	}
	return out
}

// thousands writes n with a thin space between groups of three digits (1 477 367), which
// reads the same in every language.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// profileView is a profile as the profile page shows it.
type profileView struct {
	ID         string
	Identities []kenner.Identifier
	Traits     []traitRow
	Computed   []nameValue
	// Predictions are the models' scores, flattened (clv.p_alive: 0.82).
	Predictions []nameValue
	// SegmentHistory is the latest entries and exits, newest first.
	SegmentHistory []nameValue
	// Journeys are the person's runs through journeys, newest first, with their paths.
	Journeys []journeyRun
	// The timeline's filter and paging: OlderURL is the next page, Later says this is not
	// the first.
	Query, EventType, EventName, OlderURL string
	Later                                 bool
	Segments                              []string
	Events                                []eventRow
	Merges                                []mergeRow
	Consent                               []nameValue
	CanErase                              bool
	CanExport                             bool
}

// traitRow is a trait with where its value came from.
type traitRow struct{ Name, Value, Source, When string }

// mergeRow is an identity decision as the profile page shows it: what and why.
type mergeRow struct{ At, Action, Identifier, Why string }

type nameValue struct{ Name, Value string }

func sortedValues(m map[string]json.RawMessage) []nameValue {
	var out []nameValue
	for k, v := range m {
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v)
		}
		out = append(out, nameValue{k, s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// refOf reads a search box: kind:value as typed, else the kind the value looks like.
func refOf(q string) []string {
	q = strings.TrimSpace(q)
	if kind, _, ok := strings.Cut(q, ":"); ok && !strings.Contains(kind, " ") && !strings.Contains(kind, "@") {
		return []string{q}
	}
	switch {
	case strings.HasPrefix(q, "prf_"):
		return []string{"id:" + q}
	case strings.Contains(q, "@"):
		return []string{"email:" + q}
	case strings.HasPrefix(q, "+"):
		return []string{"phone:" + q}
	}
	return []string{"user_id:" + q, "anonymous_id:" + q, "phone:" + q}
}

// traitMatches are the people a trait search found: how many, and the first of them.
type traitMatches struct {
	Trait, Value string
	Count        int
	Evaluated    int
	People       []personRow
}

type personRow struct{ ID, Name, Email, UserID string }

// traitQuery reads a search for people by a trait: "city = Utrecht" or "traits.city=Utrecht".
func traitQuery(q string) (name, value string, ok bool) {
	name, value, ok = strings.Cut(q, "=")
	name = strings.TrimPrefix(strings.TrimSpace(name), "traits.")
	value = strings.Trim(strings.TrimSpace(value), `"`)
	if !ok || segment.ValidName(name) != nil || value == "" {
		return "", "", false
	}
	return name, value, true
}

// searchTrait finds people whose trait has the value (compared as text) with a preview of the
// condition over every profile: a pass over the store, so it is offered to the roles that may
// preview segments.
func (c *Console) searchTrait(r *http.Request, rq *request, name, value string) (*traitMatches, error) {
	m := &traitMatches{Trait: name, Value: value}
	if !rq.user.Role.AtLeast(kenner.RoleMarketer) {
		return m, fmt.Errorf("searching by a trait goes through every profile; it is for marketers and up. Search by an identifier instead.")
	}
	cond := fmt.Sprintf(`has(traits.%s) && string(traits.%s) == %s`, name, name, strconv.Quote(value))
	var out struct {
		Count     int `json:"count"`
		Evaluated int `json:"evaluated"`
		Sample    []struct {
			ID         string                     `json:"id"`
			Traits     map[string]json.RawMessage `json:"traits"`
			Identities []kenner.Identifier        `json:"identities"`
		} `json:"sample"`
	}
	if err := c.call(r.Context(), rq, "POST", "/v1/segments/preview", map[string]any{"condition": cond, "sample": 20}, &out); err != nil {
		return m, fmt.Errorf("%s", kenner.ErrorMessage(err))
	}
	m.Count, m.Evaluated = out.Count, out.Evaluated
	for _, p := range out.Sample {
		row := personRow{ID: p.ID}
		var s string
		if json.Unmarshal(p.Traits["name"], &s) == nil {
			row.Name = s
		}
		for _, id := range p.Identities {
			switch id.Kind {
			case kenner.KindEmail:
				row.Email = id.Value
			case kenner.KindUserID:
				row.UserID = id.Value
			}
		}
		m.People = append(m.People, row)
	}
	return m, nil
}

func (c *Console) profiles(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	q := r.URL.Query().Get("q")
	data := struct {
		Query   string
		Error   string
		Profile *profileView
		Matches *traitMatches
	}{Query: q}
	if name, value, ok := traitQuery(q); ok {
		m, err := c.searchTrait(r, rq, name, value)
		if err != nil {
			data.Error = err.Error()
		}
		data.Matches = m
	} else if strings.TrimSpace(q) != "" {
		var p struct {
			ID          string                     `json:"id"`
			Identities  []kenner.Identifier        `json:"identities"`
			Traits      map[string]json.RawMessage `json:"traits"`
			Computed    map[string]json.RawMessage `json:"computed"`
			Predictions map[string]any             `json:"predictions"`
			Segments    []string                   `json:"segments"`
		}
		var err error
		for _, ref := range refOf(q) {
			if err = c.call(ctx, rq, "GET", "/v1/profiles/"+url.PathEscape(ref), nil, &p); err == nil || kenner.ErrorCode(err) != kenner.ENotFound {
				break
			}
		}
		switch {
		case kenner.ErrorCode(err) == kenner.ENotFound:
			data.Error = fmt.Sprintf("No one has %q. Try another identifier.", q)
		case kenner.ErrorCode(err) == kenner.EForbidden:
			data.Error = "Your role sees personal data masked, so it cannot look people up by email or phone: search by profile id (prf_…)."
		case err != nil:
			data.Error = kenner.ErrorMessage(err)
		default:
			v := &profileView{ID: p.ID, Identities: p.Identities, Computed: sortedValues(p.Computed), Predictions: flatScores("", p.Predictions),
				CanErase: rq.user.Role.AtLeast(kenner.RoleAdmin)}
			v.Traits = c.traitRows(r, rq, p.ID, p.Traits)
			// The person's segments with their names (the segment list would also count every
			// segment's members).
			var segs struct {
				Segments []struct{ ID, Name string } `json:"segments"`
				History  []kenner.MembershipEvent    `json:"history"`
			}
			names := map[string]string{}
			if c.call(ctx, rq, "GET", "/v1/profiles/id:"+url.PathEscape(p.ID)+"/segments?limit=20", nil, &segs) == nil {
				for _, s := range segs.Segments {
					name := s.Name
					if name == "" {
						name = s.ID
					}
					names[s.ID] = name
					v.Segments = append(v.Segments, name)
				}
			} else {
				v.Segments = p.Segments
			}
			for _, h := range segs.History {
				name := names[h.SegmentID]
				if name == "" {
					name = h.SegmentID
				}
				action := "left"
				if h.Entered {
					action = "entered"
				}
				v.SegmentHistory = append(v.SegmentHistory, nameValue{shortTime(h.At.UTC().Format("2006-01-02T15:04:05Z")), action + " " + name})
			}
			var js struct {
				Journeys []struct {
					kenner.Enrollment
					Name string                   `json:"name"`
					Path []kenner.JourneyPathStep `json:"path"`
				} `json:"journeys"`
			}
			if c.call(r.Context(), rq, "GET", "/v1/profiles/id:"+url.PathEscape(p.ID)+"/journeys", nil, &js) == nil {
				for _, run := range js.Journeys {
					jr := journeyRun{ID: run.JourneyID, Name: run.Name, State: run.State, Step: run.Step, Converted: run.Converted}
					if !run.DueAt.IsZero() {
						jr.Due = shortTime(run.DueAt.UTC().Format("2006-01-02T15:04:05Z"))
					}
					for _, st := range run.Path {
						jr.Path = append(jr.Path, st.Step+": "+st.Outcome)
					}
					v.Journeys = append(v.Journeys, jr)
				}
			}
			// The timeline: a page at a time, filtered by type and event name.
			v.EventType, v.EventName = r.URL.Query().Get("type"), strings.TrimSpace(r.URL.Query().Get("event"))
			query := url.Values{"limit": {"50"}}
			if v.EventType != "" {
				query.Set("type", v.EventType)
			}
			if v.EventName != "" {
				query.Set("event", v.EventName)
			}
			if after := r.URL.Query().Get("after"); after != "" {
				query.Set("after", after)
				v.Later = true
			}
			var evs struct {
				Events []json.RawMessage `json:"events"`
				Next   string            `json:"next"`
			}
			if err := c.call(ctx, rq, "GET", "/v1/profiles/id:"+url.PathEscape(p.ID)+"/events?"+query.Encode(), nil, &evs); err == nil {
				v.Events = eventRows(evs.Events)
				if evs.Next != "" {
					next := url.Values{"q": {q}, "after": {evs.Next}}
					if v.EventType != "" {
						next.Set("type", v.EventType)
					}
					if v.EventName != "" {
						next.Set("event", v.EventName)
					}
					v.OlderURL = "/console/profiles?" + next.Encode()
				}
			} else {
				data.Error = kenner.ErrorMessage(err)
			}
			v.Query = q
			var merges struct {
				Merges []struct {
					At, Action, Reason string
					Identifier         kenner.Identifier
				} `json:"merges"`
			}
			if c.call(ctx, rq, "GET", "/v1/profiles/id:"+url.PathEscape(p.ID)+"/merges?limit=50", nil, &merges) == nil {
				for _, m := range merges.Merges {
					v.Merges = append(v.Merges, mergeRow{At: shortTime(m.At), Action: m.Action, Identifier: m.Identifier.Kind + ":" + m.Identifier.Value, Why: m.Reason})
				}
			}
			var consent struct {
				Consent map[string]struct {
					Granted bool `json:"granted"`
				} `json:"consent"`
			}
			if c.call(ctx, rq, "GET", "/v1/profiles/id:"+url.PathEscape(p.ID)+"/consent", nil, &consent) == nil {
				for purpose, a := range consent.Consent {
					answer := "refused"
					if a.Granted {
						answer = "granted"
					}
					v.Consent = append(v.Consent, nameValue{purpose, answer})
				}
				sort.Slice(v.Consent, func(i, j int) bool { return v.Consent[i].Name < v.Consent[j].Name })
			}
			v.CanExport = rq.user.Role.AtLeast(kenner.RoleAdmin)
			data.Profile = v
		}
	}
	c.page(w, "profiles", rq, "profiles", "Profiles", data)
}

func (c *Console) erase(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PostFormValue("id")
	var out struct{ ID, Status string }
	err := c.call(r.Context(), rq, "DELETE", "/v1/profiles/id:"+url.PathEscape(id), nil, &out)
	data := listData{Empty: "Nothing to show."}
	if err != nil {
		data.Notice = "Could not erase: " + kenner.ErrorMessage(err)
	} else {
		data.Notice = fmt.Sprintf("Erasure %s is %s: the person is removed from profiles, events, segments and deliveries, and their identifiers suppressed.", out.ID, out.Status)
	}
	c.page(w, "list", rq, "profiles", "Erasure", data)
}

func (c *Console) segments(w http.ResponseWriter, r *http.Request, rq *request) {
	var out struct {
		Segments []struct {
			ID, Name, Condition, State string
			Members                    int
			MembersAsOf                string `json:"members_as_of"`
		} `json:"segments"`
	}
	// Members as last recorded (every 10 minutes, and when a build ends): counting every
	// segment's members now would scan the store at a million profiles.
	data := listData{Header: []string{"Name", "Members", "Change in 7 days", "State", "Condition"},
		Empty:  "No segments yet. A segment is everyone who matches a condition over traits, events, consent and other segments: start with New segment.",
		NewURL: "/console/segments/new", NewLabel: "New segment"}
	if err := c.call(r.Context(), rq, "GET", "/v1/segments", nil, &out); err != nil {
		data.Notice = kenner.ErrorMessage(err)
	} else if name := r.URL.Query().Get("created"); name != "" {
		data.Notice = fmt.Sprintf("Segment %q created; its members are being computed.", name)
	}
	for _, s := range out.Segments {
		var trend struct {
			Days []kenner.SegmentCount `json:"days"`
		}
		change := ""
		if c.call(r.Context(), rq, "GET", "/v1/segments/"+url.PathEscape(s.ID)+"/trend?days=8", nil, &trend) == nil && len(trend.Days) > 0 {
			if n := int64(s.Members) - trend.Days[0].Members; n >= 0 {
				change = fmt.Sprintf("+%d", n)
			} else {
				change = fmt.Sprint(n)
			}
		}
		members := thousands(int64(s.Members))
		if s.MembersAsOf == "" {
			members, change = "counting…", ""
		}
		data.Rows = append(data.Rows, []string{s.Name, members, change, s.State, s.Condition})
		data.Links = append(data.Links, "/console/segments/"+url.PathEscape(s.ID))
	}
	c.page(w, "list", rq, "segments", "Segments", data)
}

func (c *Console) destinations(w http.ResponseWriter, r *http.Request, rq *request) {
	var out struct {
		Destinations []struct {
			ID, Name, Type string
			Pending        int
			Paused         bool
		} `json:"destinations"`
	}
	data := listData{Header: []string{"Name", "Type", "Waiting", "State"},
		Empty:  "No destinations yet. A destination receives events and segment changes: a webhook, your CRM, an ad audience.",
		NewURL: "/console/destinations/new", NewLabel: "New destination"}
	if err := c.call(r.Context(), rq, "GET", "/v1/destinations", nil, &out); err != nil {
		data.Notice = kenner.ErrorMessage(err)
	}
	for _, d := range out.Destinations {
		state := "sending"
		if d.Paused {
			state = "paused"
		}
		data.Rows = append(data.Rows, []string{d.Name, d.Type, fmt.Sprint(d.Pending), state})
		data.Links = append(data.Links, "/console/destinations/"+url.PathEscape(d.ID))
	}
	c.page(w, "list", rq, "destinations", "Destinations", data)
}

// eventFilter is the live events page's filter.
type eventFilter struct{ Type, Event, User, Source string }

func filterOf(r *http.Request) eventFilter {
	q := r.URL.Query()
	return eventFilter{Type: q.Get("type"), Event: strings.TrimSpace(q.Get("event")), User: strings.TrimSpace(q.Get("user")), Source: q.Get("source")}
}

// sourceRef is a source as the live events page names it.
type sourceRef struct{ ID, Name string }

// sourceList lists the workspace's sources for the live events page (none for the roles that
// may not list them: their rows show source ids).
func (c *Console) sourceList(r *http.Request, rq *request) []sourceRef {
	var out struct {
		Sources []sourceRef `json:"sources"`
	}
	c.call(r.Context(), rq, "GET", "/v1/sources", nil, &out)
	return out.Sources
}

// recentEvents reads the latest events (by user through the identity graph when asked) and
// keeps those the filter matches.
func (c *Console) recentEvents(r *http.Request, rq *request, f eventFilter) ([]eventRow, error) {
	path := "/v1/events?limit=200"
	if f.User != "" {
		path += "&user_id=" + url.QueryEscape(f.User)
	}
	var evs struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := c.call(r.Context(), rq, "GET", path, nil, &evs); err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, s := range c.sourceList(r, rq) {
		names[s.ID] = s.Name
	}
	var out []eventRow
	for _, e := range eventRows(evs.Events) {
		if f.Type != "" && e.Type != f.Type || f.Source != "" && e.Source != f.Source {
			continue
		}
		if f.Event != "" && !strings.Contains(strings.ToLower(e.Name), strings.ToLower(f.Event)) {
			continue
		}
		if n := names[e.Source]; n != "" {
			e.Source = n
		}
		out = append(out, e)
		if len(out) == 100 {
			break
		}
	}
	return out, nil
}

func (c *Console) events(w http.ResponseWriter, r *http.Request, rq *request) {
	f := filterOf(r)
	rows, err := c.recentEvents(r, rq, f)
	if err != nil {
		c.page(w, "list", rq, "events", "Live events", listData{Notice: kenner.ErrorMessage(err), Empty: "No events to show."})
		return
	}
	srcs := c.sourceList(r, rq)
	c.page(w, "events", rq, "events", "Live events", map[string]any{"Rows": rows, "Types": kenner.EventTypes, "Sources": srcs,
		"Type": f.Type, "Event": f.Event, "User": f.User, "Source": f.Source, "Query": r.URL.RawQuery})
}

// eventRows answers the live page's refresh: the table's rows only.
func (c *Console) eventRowsFragment(w http.ResponseWriter, r *http.Request, rq *request) {
	rows, err := c.recentEvents(r, rq, filterOf(r))
	if err != nil {
		web.Error(w, r, c.logger, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	c.pages["events"].ExecuteTemplate(w, "event-rows", rows)
}

// export downloads a person's data subject access export, as the API gives it.
func (c *Console) export(w http.ResponseWriter, r *http.Request, rq *request) {
	status, body := c.api.Do(r.Context(), rq.tok, "GET", "/v1/profiles/id:"+url.PathEscape(r.URL.Query().Get("id"))+"/export", nil)
	if status == http.StatusOK {
		w.Header().Set("Content-Disposition", `attachment; filename="`+r.URL.Query().Get("id")+`.json"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// membersCSV downloads a segment's members with their identifiers (marketer and up).
func (c *Console) membersCSV(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	status, body := c.api.Do(r.Context(), rq.tok, "GET", "/v1/segments/"+url.PathEscape(id)+"/members?format=csv", nil)
	if status == http.StatusOK {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+id+`.csv"`)
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	w.Write(body)
}

// sourceCount is how many of the sampled events a source sent.
type sourceCount struct {
	Name  string
	Count int
}

// perMinute is the overview chart's data: minutes (unix seconds) and, per source, the events
// of each minute of the last hour.
type perMinute struct {
	X      []int64 `json:"x"`
	Series []struct {
		Name string `json:"name"`
		Y    []int  `json:"y"`
	} `json:"series"`
}

// eventsPerMinute counts events per source and minute over the hour before now.
func eventsPerMinute(raw []json.RawMessage, names map[string]string, now time.Time) ([]sourceCount, perMinute) {
	end := now.Truncate(time.Minute)
	start := end.Add(-59 * time.Minute)
	var chart perMinute
	for t := start; !t.After(end); t = t.Add(time.Minute) {
		chart.X = append(chart.X, t.Unix())
	}
	bySource := map[string][]int{}
	counts := map[string]int{}
	var order []string
	for _, e := range raw {
		var m struct {
			ReceivedAt time.Time `json:"receivedAt"`
			SourceID   string    `json:"source_id"`
		}
		if json.Unmarshal(e, &m) != nil || m.ReceivedAt.IsZero() {
			continue
		}
		src := names[m.SourceID]
		if src == "" {
			src = m.SourceID
		}
		if src == "" {
			src = "other"
		}
		if _, ok := bySource[src]; !ok {
			bySource[src] = make([]int, len(chart.X))
			order = append(order, src)
		}
		counts[src]++
		if i := int(m.ReceivedAt.Truncate(time.Minute).Sub(start) / time.Minute); i >= 0 && i < len(chart.X) {
			bySource[src][i]++
		}
	}
	var sources []sourceCount
	for _, src := range order {
		chart.Series = append(chart.Series, struct {
			Name string `json:"name"`
			Y    []int  `json:"y"`
		}{src, bySource[src]})
		sources = append(sources, sourceCount{src, counts[src]})
	}
	return sources, chart
}

// split moves the checked identifiers out of a profile.
func (c *Console) split(w http.ResponseWriter, r *http.Request, rq *request) {
	r.ParseForm()
	var ids []kenner.Identifier
	for _, m := range r.PostForm["move"] {
		if kind, value, ok := strings.Cut(m, ":"); ok {
			ids = append(ids, kenner.Identifier{Kind: kind, Value: value})
		}
	}
	var out struct {
		Kept  struct{ ID string } `json:"kept"`
		Moved struct{ ID string } `json:"moved"`
	}
	data := listData{Empty: "Nothing to show."}
	if err := c.call(r.Context(), rq, "POST", "/v1/profiles/id:"+url.PathEscape(r.PostFormValue("id"))+"/split", map[string]any{"identifiers": ids}, &out); err != nil {
		data.Notice = "Could not split: " + kenner.ErrorMessage(err)
	} else {
		data.Notice = fmt.Sprintf("Split: %s keeps the rest, %s holds what was moved out, each recomputed from its own events.", out.Kept.ID, out.Moved.ID)
		data.Header, data.Rows, data.Links = []string{"Profile"}, [][]string{{out.Kept.ID}, {out.Moved.ID}},
			[]string{"/console/profiles?q=" + url.QueryEscape(out.Kept.ID), "/console/profiles?q=" + url.QueryEscape(out.Moved.ID)}
	}
	c.page(w, "list", rq, "profiles", "Split", data)
}

// traitRows are a profile's traits with their provenance (the source by name, and when),
// read from the traits endpoint; without it, the values alone.
func (c *Console) traitRows(r *http.Request, rq *request, id string, plain map[string]json.RawMessage) []traitRow {
	var answer struct {
		Traits map[string]struct {
			Value     json.RawMessage `json:"value"`
			SourceID  string          `json:"source_id"`
			Timestamp string          `json:"timestamp"`
		} `json:"traits"`
	}
	if c.call(r.Context(), rq, "GET", "/v1/profiles/id:"+url.PathEscape(id)+"/traits", nil, &answer) != nil {
		var out []traitRow
		for _, nv := range sortedValues(plain) {
			out = append(out, traitRow{Name: nv.Name, Value: nv.Value})
		}
		return out
	}
	names := map[string]string{}
	var srcs struct {
		Sources []struct{ ID, Name string } `json:"sources"`
	}
	if c.call(r.Context(), rq, "GET", "/v1/sources", nil, &srcs) == nil {
		for _, s := range srcs.Sources {
			names[s.ID] = s.Name
		}
	}
	prov := answer.Traits
	values := map[string]json.RawMessage{}
	for k, t := range prov {
		values[k] = t.Value
	}
	var out []traitRow
	for _, nv := range sortedValues(values) {
		t := prov[nv.Name]
		src := names[t.SourceID]
		if src == "" {
			src = t.SourceID
		}
		out = append(out, traitRow{Name: nv.Name, Value: nv.Value, Source: src, When: shortTime(t.Timestamp)})
	}
	return out
}

// segment shows a segment: its condition, state and members (each linking to the profile),
// and the members' CSV for marketers and up.
func (c *Console) segment(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	var seg struct {
		ID, Name, Condition, State string
		Members                    int64
	}
	if err := c.call(r.Context(), rq, "GET", "/v1/segments/"+url.PathEscape(id), nil, &seg); err != nil {
		c.page(w, "list", rq, "segments", "Segment", listData{Notice: kenner.ErrorMessage(err), Empty: "No such segment."})
		return
	}
	var ms struct {
		Members []struct {
			ProfileID string `json:"profile_id"`
			Since     string `json:"since"`
		} `json:"members"`
		Next string `json:"next"`
	}
	q := url.Values{"limit": {"100"}, "after": {r.URL.Query().Get("after")}}
	c.call(r.Context(), rq, "GET", "/v1/segments/"+url.PathEscape(id)+"/members?"+q.Encode(), nil, &ms)
	type row struct{ ID, Since string }
	var rows []row
	for _, m := range ms.Members {
		rows = append(rows, row{m.ProfileID, shortTime(m.Since)})
	}
	var trend struct {
		Days []kenner.SegmentCount `json:"days"`
	}
	c.call(r.Context(), rq, "GET", "/v1/segments/"+url.PathEscape(id)+"/trend?days=30", nil, &trend)
	chart := struct {
		X []int64 `json:"x"`
		Y []int64 `json:"y"`
	}{X: []int64{}, Y: []int64{}}
	change := "—"
	weekAgo := time.Now().UTC().AddDate(0, 0, -7).Format(time.DateOnly)
	today := time.Now().UTC().Format(time.DateOnly)
	if n := len(trend.Days); seg.State == kenner.SegmentReady && (n == 0 || trend.Days[n-1].Day != today) {
		trend.Days = append(trend.Days, kenner.SegmentCount{Day: today})
	}
	for i, d := range trend.Days {
		if d.Day == today && i == len(trend.Days)-1 {
			d.Members = seg.Members // today: as it is now
		}
		if t, err := time.Parse(time.DateOnly, d.Day); err == nil {
			chart.X, chart.Y = append(chart.X, t.Unix()), append(chart.Y, d.Members)
		}
	}
	for _, d := range trend.Days { // the first count of the last 7 days against now
		if d.Day >= weekAgo {
			if n := seg.Members - d.Members; n >= 0 {
				change = fmt.Sprintf("+%d", n)
			} else {
				change = fmt.Sprint(n)
			}
			break
		}
	}
	data := map[string]any{"Name": seg.Name, "Condition": seg.Condition, "State": seg.State, "Members": seg.Members,
		"Change": change, "Chart": chart, "Rows": rows, "Next": ms.Next}
	if rq.user.Role.AtLeast(kenner.RoleMarketer) {
		data["CSV"] = "/console/segments/" + url.PathEscape(id) + "/members.csv"
	}
	c.page(w, "segment", rq, "segments", "Segment "+seg.Name, data)
}

// journeyRun is one run of a person through a journey, on their profile.
type journeyRun struct {
	ID, Name, State, Step, Due string
	Converted                  bool
	Path                       []string
}
