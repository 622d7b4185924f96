// Package console is Kenner's web console: server-rendered pages (html/template, htmx for
// partial updates), every asset embedded, for the people who use Kenner without the API. It
// holds no logic of its own: each page calls the admin API in process as the signed-in user
// (server.Server.Do), so roles, masking and the audit log are the API's.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/auth"
	"github.com/kenner-cdp/kenner/web"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// API is the admin API, called in process as a user (server.Server.Do).
type API interface {
	Do(ctx context.Context, tok *kenner.Token, method, path string, body []byte) (int, []byte)
	DoRaw(ctx context.Context, tok *kenner.Token, method, path, contentType string, body io.Reader) (int, []byte)
	// Workspaces lists the deployment's workspaces, for background work across them.
	Workspaces(ctx context.Context) ([]kenner.Workspace, error)
}

// Options tune the console.
type Options struct {
	// TrustProxy takes X-Forwarded-Proto into account to mark cookies Secure behind a TLS
	// proxy (they always are when Kenner itself serves TLS).
	TrustProxy bool
	// LoginRate is the sign-in attempts one address and email may make per minute (default 10).
	LoginRate float64
}

// Console serves /console/.
type Console struct {
	api       API
	users     *auth.Users
	logger    *slog.Logger
	opts      Options
	pages     map[string]*template.Template
	login     *template.Template
	fragments *template.Template
	mux       *http.ServeMux
	limit     *web.Limiter
	now       func() time.Time
}

// cookieName is the session cookie.
const cookieName = "kenner_session"

// New builds the console.
func New(api API, users *auth.Users, logger *slog.Logger, opts Options) (*Console, error) {
	if opts.LoginRate <= 0 {
		opts.LoginRate = 10
	}
	c := &Console{api: api, users: users, logger: logger, opts: opts, pages: map[string]*template.Template{}, mux: http.NewServeMux(), now: time.Now,
		limit: web.NewLimiter(opts.LoginRate/60, int(opts.LoginRate), "address", "sign-in attempts", nil)}
	layout, err := template.New("layout.html").Funcs(template.FuncMap{"inc": func(i int) int { return i + 1 },
		"list":   func(xs ...string) []string { return xs },
		"mul100": func(x float64) float64 { return 100 * x },
		"when":   when, "summary": runSummary,
		"dec": func(i int) int { return i - 1 },
		// dict passes several values to a template ({{template "chart" (dict "ID" .X "Data" .Y)}}).
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[fmt.Sprint(kv[i])] = kv[i+1]
			}
			return m
		}}).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	for _, page := range []string{"overview", "profiles", "list", "account", "segment_new", "destination_new", "destination", "sources", "events", "computed", "settings", "source", "slots", "privacy", "segment", "predictions", "model", "journeys", "journey", "matching", "matchrun", "matchreviews", "analytics", "syncs", "sync", "catalog", "connector"} {
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", page, err)
		}
		c.pages[page] = t
	}
	if c.login, err = template.ParseFS(templateFS, "templates/login.html"); err != nil {
		return nil, err
	}
	if c.fragments, err = template.ParseFS(templateFS, "templates/preview.html"); err != nil {
		return nil, err
	}
	assets, _ := fs.Sub(assetFS, "assets")
	c.mux.Handle("GET /console/assets/", http.StripPrefix("/console/assets/", assetServer(http.FileServerFS(assets))))
	c.mux.HandleFunc("GET /console/login", c.loginPage)
	c.mux.HandleFunc("POST /console/login", c.loginPost)
	c.mux.HandleFunc("POST /console/logout", c.signedIn(c.logout))
	c.mux.HandleFunc("GET /console/{$}", c.signedIn(c.overview))
	c.mux.HandleFunc("GET /console/profiles", c.signedIn(c.profiles))
	c.mux.HandleFunc("POST /console/profiles/erase", c.signedIn(c.erase))
	c.mux.HandleFunc("GET /console/profiles/export", c.signedIn(c.export))
	c.mux.HandleFunc("POST /console/profiles/split", c.signedIn(c.split))
	c.mux.HandleFunc("GET /console/segments/{id}/members.csv", c.signedIn(c.membersCSV))
	c.mux.HandleFunc("GET /console/segments", c.signedIn(c.segments))
	c.mux.HandleFunc("GET /console/segments/new", c.signedIn(c.newSegment))
	c.mux.HandleFunc("GET /console/segments/{id}", c.signedIn(c.segment))
	c.mux.HandleFunc("POST /console/segments", c.signedIn(c.createSegment))
	c.mux.HandleFunc("POST /console/segments/preview", c.signedIn(c.previewSegment))
	c.mux.HandleFunc("GET /console/destinations/new", c.signedIn(c.newDestination))
	c.mux.HandleFunc("POST /console/destinations", c.signedIn(c.createDestination))
	c.mux.HandleFunc("GET /console/destinations/{id}", c.signedIn(c.destination))
	c.mux.HandleFunc("POST /console/destinations/{id}/test", c.signedIn(c.testDestination))
	c.mux.HandleFunc("POST /console/destinations/{id}/pause", c.signedIn(c.pauseDestination))
	c.mux.HandleFunc("POST /console/destinations/{id}/replay", c.signedIn(c.replayDestination))
	c.mux.HandleFunc("GET /console/destinations", c.signedIn(c.destinations))
	c.mux.HandleFunc("GET /console/events", c.signedIn(c.events))
	c.mux.HandleFunc("GET /console/events/rows", c.signedIn(c.eventRowsFragment))
	c.mux.HandleFunc("GET /console/computed-traits", c.signedIn(c.computedTraits))
	c.mux.HandleFunc("POST /console/computed-traits", c.signedIn(c.createComputedTrait))
	c.mux.HandleFunc("GET /console/sources", c.signedIn(c.sources))
	c.mux.HandleFunc("POST /console/sources", c.signedIn(c.createSource))
	c.mux.HandleFunc("GET /console/sources/{id}", c.signedIn(c.source))
	c.mux.HandleFunc("GET /console/catalog", c.signedIn(c.catalogue))
	c.mux.HandleFunc("GET /console/catalog/{id}", c.signedIn(c.connector))
	c.mux.HandleFunc("POST /console/catalog/{id}/connect", c.signedIn(c.connectWebhook))
	c.mux.HandleFunc("GET /console/syncs", c.signedIn(c.syncs))
	c.mux.HandleFunc("POST /console/syncs", c.signedIn(c.saveSync))
	c.mux.HandleFunc("GET /console/syncs/{id}", c.signedIn(c.syncPage))
	c.mux.HandleFunc("POST /console/syncs/{id}/{action}", c.signedIn(c.syncAction))
	c.mux.HandleFunc("POST /console/sources/{id}/import", c.signedIn(c.importFile))
	c.mux.HandleFunc("POST /console/sources/{id}/plan", c.signedIn(c.savePlan))
	c.mux.HandleFunc("POST /console/sources/{id}/webhook", c.signedIn(c.saveWebhook))
	c.mux.HandleFunc("POST /console/sources/{id}/replay", c.signedIn(c.replayQuarantine))
	c.mux.HandleFunc("POST /console/sources/{id}/tag", c.signedIn(c.saveTag))
	c.mux.HandleFunc("GET /console/personalization", c.signedIn(c.slots))
	c.mux.HandleFunc("GET /console/personalization/{id}", c.signedIn(c.slot))
	c.mux.HandleFunc("POST /console/personalization", c.signedIn(c.saveSlot))
	c.mux.HandleFunc("POST /console/personalization/{id}/delete", c.signedIn(c.deleteSlot))
	c.mux.HandleFunc("GET /console/predictions", c.signedIn(c.predictions))
	c.mux.HandleFunc("POST /console/predictions", c.signedIn(c.createModel))
	c.mux.HandleFunc("GET /console/predictions/{id}", c.signedIn(c.model))
	c.mux.HandleFunc("POST /console/predictions/{id}/train", c.signedIn(c.trainModel))
	c.mux.HandleFunc("POST /console/predictions/{id}/delete", c.signedIn(c.deleteModel))
	c.mux.HandleFunc("GET /console/analytics", c.signedIn(c.analytics))
	c.mux.HandleFunc("GET /console/analytics/report", c.signedIn(c.analyticsFragment))
	c.mux.HandleFunc("POST /console/analytics/reports", c.signedIn(c.saveReport))
	c.mux.HandleFunc("POST /console/analytics/reports/{id}/delete", c.signedIn(c.deleteReport))
	c.mux.HandleFunc("GET /console/matching", c.signedIn(c.matching))
	c.mux.HandleFunc("POST /console/matching", c.signedIn(c.startMatch))
	c.mux.HandleFunc("GET /console/matching/runs/{id}", c.signedIn(c.matchRun))
	c.mux.HandleFunc("GET /console/matching/reviews", c.signedIn(c.matchReviews))
	c.mux.HandleFunc("POST /console/matching/reviews/{id}/{verb}", c.signedIn(c.decideReview))
	c.mux.HandleFunc("GET /console/journeys", c.signedIn(c.journeys))
	c.mux.HandleFunc("POST /console/journeys", c.signedIn(c.createJourney))
	c.mux.HandleFunc("GET /console/journeys/{id}", c.signedIn(c.journey))
	c.mux.HandleFunc("POST /console/journeys/{id}", c.signedIn(c.saveJourney))
	c.mux.HandleFunc("POST /console/journeys/{id}/preview", c.signedIn(c.previewJourney))
	c.mux.HandleFunc("GET /console/journeys/{id}/preview.html", c.signedIn(c.previewDocument))
	c.mux.HandleFunc("POST /console/journeys/{id}/entry", c.signedIn(c.setEntry))
	c.mux.HandleFunc("POST /console/journeys/{id}/steps", c.signedIn(c.addStep))
	c.mux.HandleFunc("POST /console/journeys/{id}/steps/{step}/delete", c.signedIn(c.removeStep))
	c.mux.HandleFunc("POST /console/journeys/{id}/{action}", c.signedIn(c.journeyAction))
	c.mux.HandleFunc("GET /console/privacy", c.signedIn(c.privacy))
	c.mux.HandleFunc("GET /console/settings", c.signedIn(c.settings))
	c.mux.HandleFunc("POST /console/settings/users", c.signedIn(c.createUser))
	c.mux.HandleFunc("POST /console/settings/workspaces", c.signedIn(c.createWorkspace))
	c.mux.HandleFunc("POST /console/settings/workspaces/{id}/delete", c.signedIn(c.deleteWorkspace))
	c.mux.HandleFunc("GET /console/account", c.signedIn(c.account))
	c.mux.HandleFunc("POST /console/account/password", c.signedIn(c.changePassword))
	return c, nil
}

// assetServer lets browsers cache the embedded assets for a day.
func assetServer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		h.ServeHTTP(w, r)
	})
}

// ServeHTTP implements http.Handler with the headers every console answer carries: no
// framing by other sites, no resources from anywhere but Kenner, no referrer leaks.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	c.mux.ServeHTTP(w, r)
}

// request is a signed-in request: who, and the token the API is called with.
type request struct {
	user    *kenner.User
	session *kenner.Session
	tok     *kenner.Token
	// workspace names the user's workspace when the deployment has more than one.
	workspace string
}

// signedIn runs h for a signed-in user; others are sent to the login page (GET) or refused
// (POST). Every POST must carry the session's CSRF token and come from this origin.
func (c *Console) signedIn(h func(w http.ResponseWriter, r *http.Request, rq *request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var secret string
		if ck, err := r.Cookie(cookieName); err == nil {
			secret = ck.Value
		}
		se, user, err := c.users.Session(r.Context(), secret)
		if err != nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/console/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			web.Error(w, r, c.logger, err)
			return
		}
		if r.Method != http.MethodGet {
			token := r.Header.Get("X-CSRF-Token")
			if token == "" {
				token = r.PostFormValue("csrf")
			}
			if token != se.CSRF || !sameOrigin(r) {
				web.Error(w, r, c.logger, kenner.Errorf(kenner.EForbidden, "this form is stale or comes from another site: reload the page and try again"))
				return
			}
		}
		tok := &kenner.Token{ID: "user:" + user.ID, WorkspaceID: user.WorkspaceID, Name: user.Email, Role: user.Role}
		rq := &request{user: user, session: se, tok: tok}
		if wss, err := c.api.Workspaces(r.Context()); err == nil && len(wss) > 1 {
			for _, ws := range wss {
				if ws.ID == user.WorkspaceID {
					rq.workspace = ws.Name
				}
			}
		}
		h(w, r, rq)
	}
}

// sameOrigin checks Origin (or Referer) against the request's host when a browser sends it.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		o = r.Header.Get("Referer")
	}
	if o == "" {
		return true // not a browser's cross-site form: the CSRF token decides
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func (c *Console) secure(r *http.Request) bool {
	return r.TLS != nil || (c.opts.TrustProxy && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"))
}

// page renders a page inside the layout.
func (c *Console) page(w http.ResponseWriter, name string, rq *request, nav, title string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	err := c.pages[name].ExecuteTemplate(w, "layout", map[string]any{"Title": title, "Nav": nav, "User": rq.user, "Workspace": rq.workspace, "CSRF": rq.session.CSRF, "Data": data})
	if err != nil {
		c.logger.Error("console page", "page", name, "err", err)
	}
}

// call calls the API as the signed-in user and decodes its JSON answer; an error answer
// comes back as the *kenner.Error the API sent.
func (c *Console) call(ctx context.Context, rq *request, method, path string, body any, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	status, resp := c.api.Do(ctx, rq.tok, method, path, b)
	if status >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(resp, &e) == nil && e.Error.Code != "" {
			return &kenner.Error{Code: e.Error.Code, Message: e.Error.Message}
		}
		return fmt.Errorf("%s %s: status %d", method, path, status)
	}
	if out == nil || len(resp) == 0 {
		return nil
	}
	return json.Unmarshal(resp, out)
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.renderLogin(w, http.StatusOK, r.URL.Query().Get("next"), "", "")
}

func (c *Console) renderLogin(w http.ResponseWriter, status int, next, email, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	c.login.ExecuteTemplate(w, "login", map[string]string{"Next": next, "Email": email, "Error": msg})
}

func (c *Console) loginPost(w http.ResponseWriter, r *http.Request) {
	email, password, next := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("password"), r.PostFormValue("next")
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") {
		next = "/console/"
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	if err := c.limit.Allow(host+"\x00"+strings.ToLower(email), 1); err != nil {
		c.renderLogin(w, http.StatusTooManyRequests, next, email, "Too many attempts: wait a minute and try again.")
		return
	}
	user, err := c.users.Login(r.Context(), email, password)
	if err != nil {
		if kenner.ErrorCode(err) == kenner.EUnauthorized {
			c.renderLogin(w, http.StatusUnauthorized, next, email, "Wrong email or password.")
			return
		}
		web.Error(w, r, c.logger, err)
		return
	}
	secret, se, err := c.users.StartSession(r.Context(), user)
	if err != nil {
		web.Error(w, r, c.logger, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: secret, Path: "/console/", HttpOnly: true, Secure: c.secure(r),
		SameSite: http.SameSiteLaxMode, Expires: se.ExpiresAt})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, rq *request) {
	if ck, err := r.Cookie(cookieName); err == nil {
		c.users.EndSession(r.Context(), ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/console/", HttpOnly: true, Secure: c.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: -1, Expires: time.Unix(0, 0)})
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

func (c *Console) account(w http.ResponseWriter, r *http.Request, rq *request) {
	c.page(w, "account", rq, "", "Your account", map[string]string{})
}

func (c *Console) changePassword(w http.ResponseWriter, r *http.Request, rq *request) {
	data := map[string]string{}
	// Through the API, so that the change is audited like any other.
	err := c.call(r.Context(), rq, "POST", "/v1/account/password", map[string]string{"current": r.PostFormValue("current"), "new": r.PostFormValue("new")}, nil)
	if err != nil {
		data["Error"] = kenner.ErrorMessage(err)
	} else {
		// Every session ended with the change, this one too: start a new one.
		secret, se, err := c.users.StartSession(r.Context(), rq.user)
		if err == nil {
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: secret, Path: "/console/", HttpOnly: true, Secure: c.secure(r),
				SameSite: http.SameSiteLaxMode, Expires: se.ExpiresAt})
			rq.session = se
		}
		data["Notice"] = "Your password was changed; your other sessions were signed out."
	}
	c.page(w, "account", rq, "", "Your account", data)
}
