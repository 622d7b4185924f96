package server

import (
	"context"
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation/email"
	"github.com/kenner-cdp/kenner/web"
)

// Journeys checks and runs journeys (journey.Runner).
type Journeys interface {
	// Check compiles a definition as publishing it would.
	Check(ctx context.Context, ws string, def kenner.JourneyDefinition) error
	// Changed tells the runner a journey was published, paused, resumed or archived.
	Changed()
	Preview(ctx context.Context, ws string, def kenner.JourneyDefinition, step string, p *kenner.Profile) (email.Rendered, error)
	TestSend(ctx context.Context, ws string, def kenner.JourneyDefinition, step string, p *kenner.Profile, to *mail.Address) error
	// Unsubscribe records the "no" of the person an unsubscribe link names.
	Unsubscribe(ctx context.Context, token string) error
	// Opened and Clicked record the reactions tracking links report; Clicked answers where
	// the link goes.
	Opened(ctx context.Context, token string) error
	Clicked(ctx context.Context, token, target string) (string, error)
}

// maxJourneyBody bounds a journey definition: 50 steps with their email templates.
const maxJourneyBody = 4 << 20

func (s *Server) journeys() (Journeys, error) {
	if s.deps.Journeys == nil {
		return nil, kenner.Errorf(kenner.EInternal, "journeys are not set up")
	}
	return s.deps.Journeys, nil
}

func journeyJSON(j *kenner.Journey) *kenner.Journey {
	out := *j
	if out.Steps == nil {
		out.Steps = []kenner.JourneyStep{}
	}
	return &out
}

func (s *Server) listJourneys(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	js, err := s.deps.Store.Journeys(r.Context(), tok.WorkspaceID)
	if err != nil {
		return err
	}
	out := make([]*kenner.Journey, 0, len(js))
	for i := range js {
		out = append(out, journeyJSON(&js[i]))
	}
	web.JSON(w, http.StatusOK, map[string]any{"journeys": out, "next": ""})
	return nil
}

func (s *Server) getJourney(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	j, err := s.deps.Store.Journey(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, journeyJSON(j))
	return nil
}

// readJourney decodes a definition. A draft may be incomplete: it is checked in full when
// it is published (and by POST /v1/journeys/check).
func readJourney(r *http.Request) (kenner.JourneyDefinition, error) {
	var def kenner.JourneyDefinition
	if err := web.Decode(r, maxJourneyBody, &def); err != nil {
		return def, err
	}
	if def.Name == "" {
		return def, kenner.Errorf(kenner.EInvalid, "name is required")
	}
	if len(def.Steps) > kenner.MaxJourneySteps {
		return def, kenner.Errorf(kenner.EInvalid, "a journey has at most %d steps, not %d", kenner.MaxJourneySteps, len(def.Steps))
	}
	return def, nil
}

func (s *Server) createJourney(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	def, err := readJourney(r)
	if err != nil {
		return err
	}
	j := &kenner.Journey{WorkspaceID: tok.WorkspaceID, JourneyDefinition: def, Status: kenner.JourneyDraft}
	if err := s.deps.Store.CreateJourney(r.Context(), j); err != nil {
		return err
	}
	noteAuditTarget(r, "/v1/journeys/"+j.ID)
	web.JSON(w, http.StatusCreated, journeyJSON(j))
	return nil
}

// updateJourney replaces the draft. People in flight stay on the version they entered; the
// change reaches new entrants when it is published.
func (s *Server) updateJourney(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	j, err := s.deps.Store.Journey(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if j.Status == kenner.JourneyArchived {
		return kenner.Errorf(kenner.EConflict, "journey %q is archived: copy it into a new journey to change it", j.Name)
	}
	def, err := readJourney(r)
	if err != nil {
		return err
	}
	j.JourneyDefinition = def
	if err := s.deps.Store.UpdateJourney(r.Context(), j); err != nil {
		return err
	}
	noteAuditTarget(r, "/v1/journeys/"+j.ID)
	web.JSON(w, http.StatusOK, journeyJSON(j))
	return nil
}

func (s *Server) deleteJourney(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	j, err := s.deps.Store.Journey(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if j.Status == kenner.JourneyLive || j.Status == kenner.JourneyPaused {
		return kenner.Errorf(kenner.EConflict, "journey %q is %s: archive it first (people are in it)", j.Name, j.Status)
	}
	if err := s.deps.Store.DeleteJourney(r.Context(), tok.WorkspaceID, j.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkJourney compiles a definition without saving it: the console's "check" button.
func (s *Server) checkJourney(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	jr, err := s.journeys()
	if err != nil {
		return err
	}
	def, err := readJourney(r)
	if err != nil {
		return err
	}
	if err := jr.Check(r.Context(), tok.WorkspaceID, def); err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, map[string]any{"ok": true})
	return nil
}

func (s *Server) publishJourney(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	jr, err := s.journeys()
	if err != nil {
		return err
	}
	j, err := s.deps.Store.Journey(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if j.Status == kenner.JourneyArchived {
		return kenner.Errorf(kenner.EConflict, "journey %q is archived", j.Name)
	}
	if err := jr.Check(r.Context(), tok.WorkspaceID, j.JourneyDefinition); err != nil {
		return err
	}
	var opts struct {
		// Migrate moves the people in flight whose current step the new version still has
		// onto it; the others stay on the version they entered.
		Migrate bool `json:"migrate"`
	}
	// The body is optional: an empty one publishes without migrating.
	if err := web.Decode(r, 4<<10, &opts); err != nil && !errors.Is(err, io.EOF) && !strings.HasSuffix(kenner.ErrorMessage(err), "EOF") {
		return err
	}
	if j, err = s.deps.Store.PublishJourney(r.Context(), tok.WorkspaceID, j.ID, time.Now()); err != nil {
		return err
	}
	var migrated int64
	if opts.Migrate && j.Version > 1 {
		steps := []string{""} // scheduled entries of a date journey
		for _, st := range j.Steps {
			steps = append(steps, st.ID)
		}
		if migrated, err = s.deps.Store.MigrateJourney(r.Context(), tok.WorkspaceID, j.ID, j.Version, steps); err != nil {
			return err
		}
	}
	jr.Changed()
	noteAuditTarget(r, "/v1/journeys/"+j.ID)
	out := struct {
		*kenner.Journey
		Migrated int64 `json:"migrated"`
	}{journeyJSON(j), migrated}
	web.JSON(w, http.StatusOK, out)
	return nil
}

// setJourneyStatus pauses a live journey or resumes a paused one: paused, nobody enters and
// nobody moves; timers that fell due meanwhile fire on resume.
func (s *Server) setJourneyStatus(from, to string) func(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	return func(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
		j, err := s.deps.Store.Journey(r.Context(), tok.WorkspaceID, r.PathValue("id"))
		if err != nil {
			return err
		}
		if j.Status != from {
			return kenner.Errorf(kenner.EConflict, "journey %q is %s, not %s", j.Name, j.Status, from)
		}
		j.Status = to
		if err := s.deps.Store.UpdateJourney(r.Context(), j); err != nil {
			return err
		}
		if s.deps.Journeys != nil {
			s.deps.Journeys.Changed()
		}
		noteAuditTarget(r, "/v1/journeys/"+j.ID)
		web.JSON(w, http.StatusOK, journeyJSON(j))
		return nil
	}
}

func (s *Server) archiveJourney(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	n, err := s.deps.Store.ArchiveJourney(r.Context(), tok.WorkspaceID, r.PathValue("id"), time.Now())
	if err != nil {
		return err
	}
	if s.deps.Journeys != nil {
		s.deps.Journeys.Changed()
	}
	j, err := s.deps.Store.Journey(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	noteAuditTarget(r, "/v1/journeys/"+j.ID)
	web.JSON(w, http.StatusOK, map[string]any{"journey": journeyJSON(j), "exited": n})
	return nil
}

func (s *Server) journeyVersions(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	if _, err := s.deps.Store.Journey(r.Context(), tok.WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	vs, err := s.deps.Store.JourneyVersions(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, map[string]any{"versions": vs, "next": ""})
	return nil
}

// JourneyReport is a journey's counters: people entered, in it now (waiting at a step),
// completed, exited and converted, and per step what happened there.
type JourneyReport struct {
	Entered   int64 `json:"entered"`
	Active    int64 `json:"active"`
	Waiting   int64 `json:"waiting"`
	Completed int64 `json:"completed"`
	Exited    int64 `json:"exited"`
	Converted int64 `json:"converted"`
	Control   int64 `json:"control"`
	Sends     int64 `json:"sends"`
	// Opens, Clicks and Unsubscribes count emails opened, emails with a link clicked, and
	// unsubscribes from the journey's emails (each email once).
	Opens        int64                       `json:"opens"`
	Clicks       int64                       `json:"clicks"`
	Unsubscribes int64                       `json:"unsubscribes"`
	Steps        map[string]map[string]int64 `json:"steps"`
}

// Report sums a journey's counters into its report; every step of the journey's current
// definition has an entry.
func Report(j *kenner.Journey, stats map[string]map[string]int64) JourneyReport {
	own := stats[""]
	rep := JourneyReport{Entered: own["entered"], Active: own["active"], Completed: own["completed"], Exited: own["exited"],
		Converted: own["converted"], Control: own["control"], Opens: own["opened"], Clicks: own["clicked"], Unsubscribes: own["unsubscribed"],
		Steps: map[string]map[string]int64{}}
	for step, m := range stats {
		if step == "" {
			continue
		}
		rep.Steps[step] = m
		rep.Waiting += m["waiting"]
		rep.Sends += m["sent"]
	}
	for _, st := range j.Steps {
		if rep.Steps[st.ID] == nil {
			rep.Steps[st.ID] = map[string]int64{}
		}
		for _, k := range []string{"entered", "waiting"} {
			if _, ok := rep.Steps[st.ID][k]; !ok {
				rep.Steps[st.ID][k] = 0
			}
		}
	}
	return rep
}

func (s *Server) journeyReport(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	j, err := s.deps.Store.Journey(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	stats, err := s.deps.Store.JourneyStats(r.Context(), tok.WorkspaceID, j.ID)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, Report(j, stats))
	return nil
}

// previewRequest names an email step and the person to render it for; a test send also
// names where it goes.
type previewRequest struct {
	Step    string `json:"step"`
	Profile string `json:"profile"` // kind:value, like the profile API's
	To      string `json:"to"`
}

func (s *Server) previewTarget(r *http.Request, tok *kenner.Token) (*kenner.Journey, previewRequest, *kenner.Profile, error) {
	var q previewRequest
	j, err := s.deps.Store.Journey(r.Context(), tok.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return nil, q, nil, err
	}
	if err := web.Decode(r, 64<<10, &q); err != nil {
		return nil, q, nil, err
	}
	r.SetPathValue("ref", q.Profile)
	p, err := s.lookupProfile(r, tok)
	if err != nil {
		return nil, q, nil, err
	}
	return j, q, p, nil
}

func (s *Server) previewJourneyEmail(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	jr, err := s.journeys()
	if err != nil {
		return err
	}
	j, q, p, err := s.previewTarget(r, tok)
	if err != nil {
		return err
	}
	out, err := jr.Preview(r.Context(), tok.WorkspaceID, j.JourneyDefinition, q.Step, p)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, map[string]string{"subject": out.Subject, "text": out.Text, "html": out.HTML})
	return nil
}

func (s *Server) testJourneyEmail(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	jr, err := s.journeys()
	if err != nil {
		return err
	}
	j, q, p, err := s.previewTarget(r, tok)
	if err != nil {
		return err
	}
	to, err := mail.ParseAddress(q.To)
	if err != nil {
		return kenner.Errorf(kenner.EInvalid, "to: %q is not an email address", q.To)
	}
	if err := jr.TestSend(r.Context(), tok.WorkspaceID, j.JourneyDefinition, q.Step, p, to); err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, map[string]any{"sent": true, "to": to.Address})
	return nil
}

// personJourney is one run of a person through a journey, with the path they took.
type personJourney struct {
	kenner.Enrollment
	Name string                   `json:"name"`
	Path []kenner.JourneyPathStep `json:"path"`
}

// profileJourneys lists the journeys a person is or was in, newest first, with their paths.
func (s *Server) profileJourneys(w http.ResponseWriter, r *http.Request, tok *kenner.Token) error {
	p, err := s.lookupProfile(r, tok)
	if err != nil {
		return err
	}
	out, err := s.personJourneys(r.Context(), tok.WorkspaceID, p.ID)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, map[string]any{"journeys": out, "next": ""})
	return nil
}

func (s *Server) personJourneys(ctx context.Context, ws, pid string) ([]personJourney, error) {
	es, err := s.deps.Store.Enrollments(ctx, ws, pid)
	if err != nil {
		return nil, err
	}
	path, err := s.deps.Store.JourneyPath(ctx, ws, "", pid)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	out := make([]personJourney, 0, len(es))
	for _, e := range es {
		if _, ok := names[e.JourneyID]; !ok {
			if j, err := s.deps.Store.Journey(ctx, ws, e.JourneyID); err == nil {
				names[e.JourneyID] = j.Name
			}
		}
		pj := personJourney{Enrollment: e, Name: names[e.JourneyID], Path: []kenner.JourneyPathStep{}}
		for _, st := range path {
			if st.JourneyID == e.JourneyID && st.Run == e.Run {
				pj.Path = append(pj.Path, st)
			}
		}
		out = append(out, pj)
	}
	slices.SortStableFunc(out, func(a, b personJourney) int { return b.EnteredAt.Compare(a.EnteredAt) })
	return out, nil
}

// unsubscribePage answers the link in an email's body: a page with the button that
// unsubscribes. A GET changes nothing, since mail scanners follow links.
func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	t := r.URL.Query().Get("t")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	unsubscribeHTML.Execute(w, map[string]any{"Token": t, "Done": false})
}

// unsubscribe is the one-click unsubscribe (RFC 8058: mail clients POST
// "List-Unsubscribe=One-Click" to the List-Unsubscribe link), and the page's button.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	if s.deps.Journeys == nil {
		web.Error(w, r, s.deps.Logger, kenner.Errorf(kenner.ENotFound, "nothing to unsubscribe from here"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	r.ParseForm()
	t := r.URL.Query().Get("t")
	if t == "" {
		t = r.PostFormValue("t")
	}
	if err := s.deps.Journeys.Unsubscribe(r.Context(), t); err != nil {
		web.Error(w, r, s.deps.Logger, err)
		return
	}
	if r.PostFormValue("List-Unsubscribe") == "One-Click" {
		web.JSON(w, http.StatusOK, map[string]any{"unsubscribed": true})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	unsubscribeHTML.Execute(w, map[string]any{"Done": true})
}

var unsubscribeHTML = template.Must(template.New("unsubscribe").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Unsubscribe</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1b1f24}button{font:inherit;padding:.5rem 1rem;border-radius:6px;border:0;background:#2f54d1;color:#fff;cursor:pointer}</style>
</head><body>
{{if .Done}}<h1>You are unsubscribed</h1><p>You will get no more of these emails.</p>
{{else}}<h1>Unsubscribe</h1><p>Stop getting these emails?</p>
<form method="post" action="/v1/unsubscribe"><input type="hidden" name="t" value="{{.Token}}"><button type="submit">Unsubscribe</button></form>{{end}}
</body></html>`))

// pixel is a transparent 1×1 GIF.
var pixel = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

// emailOpened is the open-tracking pixel of journeys' emails.
func (s *Server) emailOpened(w http.ResponseWriter, r *http.Request) {
	if s.deps.Journeys == nil {
		web.Error(w, r, s.deps.Logger, kenner.Errorf(kenner.ENotFound, "no email tracking here"))
		return
	}
	if err := s.deps.Journeys.Opened(r.Context(), r.URL.Query().Get("t")); err != nil {
		web.Error(w, r, s.deps.Logger, err)
		return
	}
	w.Header().Set("Content-Type", "image/gif")
	w.Header().Set("Cache-Control", "no-store, private")
	w.Write(pixel)
}

// emailClicked records a click on a tracked link of a journey's email and sends the reader
// on to the link; a link whose signature does not match its target goes nowhere.
func (s *Server) emailClicked(w http.ResponseWriter, r *http.Request) {
	if s.deps.Journeys == nil {
		web.Error(w, r, s.deps.Logger, kenner.Errorf(kenner.ENotFound, "no email tracking here"))
		return
	}
	target, err := s.deps.Journeys.Clicked(r.Context(), r.URL.Query().Get("t"), r.URL.Query().Get("u"))
	if target == "" {
		web.Error(w, r, s.deps.Logger, err)
		return
	}
	if err != nil {
		// Recording failed (the log is down): the reader still gets where they were going.
		s.deps.Logger.Warn("email click not recorded", "err", err)
	}
	w.Header().Set("Cache-Control", "no-store, private")
	http.Redirect(w, r, target, http.StatusFound)
}
