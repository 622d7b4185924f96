package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/kenner-cdp/kenner"
)

// Snippet is the code a site pastes to load Kenner's tag: a queue for the calls made before
// the tag arrives (the same stub shape as Segment's snippet, so the tag takes over from
// either), then the tag from Kenner itself. base is how browsers reach Kenner.
func Snippet(base, writeKey string) string {
	return `<script>
!function(){var a=window.analytics=window.analytics||[];if(a.initialized||a.invoked)return;a.invoked=!0;
["page","track","identify","group","alias","reset","ready","on","once","off","screen","consent","setAnonymousId","addSourceMiddleware"].forEach(function(m){
a[m]=function(){var x=[].slice.call(arguments);x.unshift(m);a.push(x);return a}});
var s=document.createElement("script");s.async=!0;s.src="` + base + `/analytics.js/v1/` + writeKey + `/analytics.min.js";
document.head.appendChild(s);a.page()}();
</script>`
}

// tagView is a source's tag settings as the form shows them.
type tagView struct {
	Consent, Purpose                                     string
	PageViews, Clicks, Forms, OutboundLinks, ScrollDepth bool
	Tags                                                 string // one "name | src | purpose" per line
	Snippet                                              string
}

func (c *Console) tagView(r *http.Request, rq *request, id string) tagView {
	var t kenner.TagSettings
	c.call(r.Context(), rq, "GET", "/v1/sources/"+url.PathEscape(id)+"/tag", nil, &t)
	v := tagView{Consent: t.Consent, Purpose: t.ConsentPurpose, PageViews: t.PageViews, Clicks: t.Clicks, Forms: t.Forms,
		OutboundLinks: t.OutboundLinks, ScrollDepth: t.ScrollDepth, Snippet: Snippet(c.base(r), "YOUR_WRITE_KEY")}
	var lines []string
	for _, tg := range t.Tags {
		lines = append(lines, tg.Name+" | "+tg.Src+" | "+tg.Purpose)
	}
	v.Tags = strings.Join(lines, "\n")
	return v
}

// base is the URL browsers reach this Kenner at, as the admin's own browser does.
func (c *Console) base(r *http.Request) string {
	if c.secure(r) {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// saveTag sets a source's tag settings from the form.
func (c *Console) saveTag(w http.ResponseWriter, r *http.Request, rq *request) {
	t := kenner.TagSettings{Consent: r.PostFormValue("consent"), ConsentPurpose: strings.TrimSpace(r.PostFormValue("consent_purpose")),
		PageViews: r.PostFormValue("page_views") == "on", Clicks: r.PostFormValue("clicks") == "on", Forms: r.PostFormValue("forms") == "on",
		OutboundLinks: r.PostFormValue("outbound_links") == "on", ScrollDepth: r.PostFormValue("scroll_depth") == "on"}
	for i, line := range strings.Split(r.PostFormValue("tags"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		parts := strings.Split(line, "|")
		if len(parts) != 3 {
			c.sourceView(w, r, rq, "", fmt.Sprintf("Tag line %d: write name | https://... | purpose.", i+1))
			return
		}
		t.Tags = append(t.Tags, kenner.ThirdPartyTag{Name: strings.TrimSpace(parts[0]), Src: strings.TrimSpace(parts[1]), Purpose: strings.TrimSpace(parts[2])})
	}
	if err := c.call(r.Context(), rq, "PUT", "/v1/sources/"+url.PathEscape(r.PathValue("id"))+"/tag", t, nil); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		c.sourceView(w, r, rq, "", kenner.ErrorMessage(err))
		return
	}
	c.sourceView(w, r, rq, "Tag settings saved: visitors' browsers pick them up within 5 minutes, with no change to the site.", "")
}
