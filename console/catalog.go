package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/catalog"
)

// kindOrder is the order the catalogue shows kinds in, with their headings.
var kindOrder = []struct{ Kind, Heading, Blurb string }{
	{catalog.KindWebhook, "Webhook sources", "The vendor calls Kenner when something happens: orders, sign-ups, tickets, email events."},
	{catalog.KindPull, "Databases", "Kenner reads your database on a schedule."},
	{catalog.KindFileDrop, "File drops", "Kenner imports the files your tools put in a bucket."},
	{catalog.KindFileImport, "File imports", "Upload a file once."},
	{catalog.KindEnrichment, "Enrichment", "Kenner asks a service about people and keeps what it answers, with its source."},
	{catalog.KindDestination, "Destinations", "Kenner sends events, profiles and audiences to the tools that act on them."},
}

type kindGroup struct {
	Heading, Blurb string
	Connectors     []catalog.Connector
}

func (c *Console) catalogue(w http.ResponseWriter, r *http.Request, rq *request) {
	var out struct {
		Connectors []catalog.Connector `json:"connectors"`
	}
	data := map[string]any{}
	if err := c.call(r.Context(), rq, "GET", "/v1/catalog", nil, &out); err != nil {
		data["Error"] = kenner.ErrorMessage(err)
	}
	var groups []kindGroup
	for _, k := range kindOrder {
		g := kindGroup{Heading: k.Heading, Blurb: k.Blurb}
		for _, cn := range out.Connectors {
			if cn.Kind == k.Kind {
				g.Connectors = append(g.Connectors, cn)
			}
		}
		if len(g.Connectors) > 0 {
			groups = append(groups, g)
		}
	}
	data["Groups"] = groups
	c.page(w, "catalog", rq, "catalog", "Catalogue", data)
}

func (c *Console) connector(w http.ResponseWriter, r *http.Request, rq *request) {
	c.connectorPage(w, r, rq, nil, "")
}

func (c *Console) connectorPage(w http.ResponseWriter, r *http.Request, rq *request, connected map[string]string, errMsg string) {
	id := r.PathValue("id")
	var cn catalog.Connector
	if err := c.call(r.Context(), rq, "GET", "/v1/catalog/"+url.PathEscape(id), nil, &cn); err != nil {
		w.WriteHeader(http.StatusNotFound)
		c.page(w, "catalog", rq, "catalog", "Catalogue", map[string]any{"Error": kenner.ErrorMessage(err)})
		return
	}
	data := map[string]any{"C": cn, "Error": errMsg, "Connected": connected, "CanConnect": rq.user.Role.AtLeast(kenner.RoleAdmin)}
	if cn.Preset != "" {
		var sample struct {
			Sample   string            `json:"sample"`
			Messages []json.RawMessage `json:"messages"`
		}
		if err := c.call(r.Context(), rq, "POST", "/v1/catalog/"+url.PathEscape(id)+"/sample", nil, &sample); err == nil {
			var pretty []string
			for _, m := range sample.Messages {
				var v any
				json.Unmarshal(m, &v)
				b, _ := json.MarshalIndent(v, "", "  ")
				pretty = append(pretty, string(b))
			}
			data["Sample"], data["Messages"] = sample.Sample, pretty
		}
		_, names := c.sourceNames(r, rq)
		data["Sources"] = names
		data["Signed"] = len(cn.Settings) > 0 && cn.Settings[0].Name == "verify.secret"
	}
	c.page(w, "connector", rq, "catalog", cn.Name, data)
}

// connectWebhook sets a source's webhook mapping to the connector's preset.
func (c *Console) connectWebhook(w http.ResponseWriter, r *http.Request, rq *request) {
	r.ParseForm()
	var cn catalog.Connector
	if err := c.call(r.Context(), rq, "GET", "/v1/catalog/"+url.PathEscape(r.PathValue("id")), nil, &cn); err != nil || cn.Preset == "" {
		http.NotFound(w, r)
		return
	}
	source := r.PostFormValue("source")
	body := map[string]any{"preset": cn.Preset}
	if secret := r.PostFormValue("secret"); secret != "" {
		v := map[string]any{"secret": secret}
		if u := strings.TrimSpace(r.PostFormValue("url")); u != "" {
			v["url"] = u
		}
		body["verify"] = v
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := c.call(r.Context(), rq, "PUT", "/v1/sources/"+url.PathEscape(source)+"/webhook", body, &out); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.connectorPage(w, r, rq, nil, kenner.ErrorMessage(err))
		return
	}
	base := "http://" + r.Host
	if c.secure(r) {
		base = "https://" + r.Host
	}
	hook := base + "/v1/webhooks/" + out.ID
	if _, signed := body["verify"]; !signed {
		hook += "?writeKey=<the source's write key>"
	}
	c.connectorPage(w, r, rq, map[string]string{"Source": source, "URL": hook}, "")
}
