package ingest

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/jsonobj"
	"github.com/mileusna/useragent"
)

// enrichContext returns the message's context completed with what the server knows: batch-level
// context, the client IP and where it is (with a GeoIP database), what the user agent string
// says (os, browser, device type) and the campaign from UTM parameters. Values the client sent are never overwritten.
func enrichContext(m jsonobj.Object, req *requestInfo, uas *uaCache) ([]byte, error) {
	var ctx jsonobj.Object
	if raw := m.Get("context"); !jsonobj.IsNull(raw) {
		var err error
		if ctx, err = jsonobj.Parse(raw); err != nil {
			return nil, kenner.Errorf(kenner.EInvalid, "context must be an object")
		}
	}
	for _, f := range req.context {
		if !ctx.Has(f.Key) {
			ctx = ctx.Set(f.Key, f.Value)
		}
	}
	ip, _ := stringField(ctx, "ip")
	if ip == "" && req.ip != "" {
		ip = req.ip
		ctx = ctx.SetString("ip", ip)
	}
	if req.geo != nil && ip != "" && !ctx.Has("location") {
		if loc, ok := req.geo.Locate(ip); ok {
			b, _ := json.Marshal(loc)
			ctx = ctx.Set("location", b)
		}
	}
	if ua, _ := stringField(ctx, "userAgent"); ua != "" {
		ctx = addUserAgent(ctx, uas.parse(ua))
	}
	if !ctx.Has("campaign") {
		if c := campaignOf(m, ctx); c != nil {
			ctx = ctx.Set("campaign", c.Encode())
		}
	}
	return ctx.Encode(), nil
}

func addUserAgent(ctx jsonobj.Object, ua useragent.UserAgent) jsonobj.Object {
	if !ctx.Has("os") && ua.OS != "" {
		ctx = ctx.Set("os", jsonobj.Object{}.SetString("name", ua.OS).SetString("version", ua.OSVersion).Encode())
	}
	if !ctx.Has("browser") && ua.Name != "" {
		ctx = ctx.Set("browser", jsonobj.Object{}.SetString("name", ua.Name).SetString("version", ua.Version).Encode())
	}
	kind := ""
	switch {
	case ua.Bot:
		kind = "bot"
	case ua.Tablet:
		kind = "tablet"
	case ua.Mobile:
		kind = "mobile"
	case ua.Desktop:
		kind = "desktop"
	}
	if kind == "" {
		return ctx
	}
	var device jsonobj.Object
	if raw := ctx.Get("device"); raw != nil {
		var err error
		if device, err = jsonobj.Parse(raw); err != nil {
			return ctx
		}
	}
	if !device.Has("type") {
		ctx = ctx.Set("device", device.SetString("type", kind).Encode())
	}
	return ctx
}

// utmFields maps UTM query parameters to Segment's context.campaign fields, in output order.
var utmFields = [][2]string{
	{"utm_campaign", "name"}, {"utm_source", "source"}, {"utm_medium", "medium"},
	{"utm_term", "term"}, {"utm_content", "content"}, {"utm_id", "id"},
}

// campaignOf reads UTM parameters from the page URL (context.page, or the properties of a page
// call), as analytics.js does in the browser, for clients that did not.
func campaignOf(m, ctx jsonobj.Object) jsonobj.Object {
	// The properties are parsed only when the page names no campaign: most events carry
	// context.page, and parsing what is not needed was a fiftieth of the tracking API's time.
	if page, err := jsonobj.Parse(ctx.Get("page")); err == nil {
		for _, field := range []string{"url", "search"} {
			if s, _ := stringField(page, field); s != "" {
				if out := utmOf(s); out != nil {
					return out
				}
			}
		}
	}
	if props, err := jsonobj.Parse(m.Get("properties")); err == nil {
		if s, _ := stringField(props, "url"); s != "" {
			return utmOf(s)
		}
	}
	return nil
}

// utmOf reads the UTM parameters of a URL (or a query string) as context.campaign fields; nil
// when it has none.
func utmOf(c string) jsonobj.Object {
	_, query, ok := strings.Cut(c, "?")
	if !ok {
		return nil
	}
	query, _, _ = strings.Cut(query, "#")
	if !strings.Contains(query, "utm_") {
		return nil
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return nil
	}
	var out jsonobj.Object
	for _, f := range utmFields {
		if v := values.Get(f[0]); v != "" {
			out = out.SetString(f[1], v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
