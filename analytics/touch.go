package analytics

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner/jsonobj"
)

// Channels of the default rule table.
const (
	PaidSearch    = "Paid Search"
	PaidSocial    = "Paid Social"
	Display       = "Display"
	OrganicSearch = "Organic Search"
	Social        = "Social"
	Email         = "Email"
	Affiliate     = "Affiliate"
	Referral      = "Referral"
	Direct        = "Direct"
	Offline       = "Offline"
	OtherPaid     = "Other Paid"
	Other         = "Other"
)

// Touch is one marketing touchpoint of a person: how they came, and when.
type Touch struct {
	At       time.Time `json:"at"`
	Channel  string    `json:"channel"`
	Source   string    `json:"source,omitempty"`
	Medium   string    `json:"medium,omitempty"`
	Campaign string    `json:"campaign,omitempty"`
	Term     string    `json:"term,omitempty"`
	Content  string    `json:"content,omitempty"`
	// ClickID names the ad click id the landing URL carried (gclid, fbclid, msclkid).
	ClickID string `json:"click_id,omitempty"`
	// Referrer is the referring host, for a touch without campaign parameters.
	Referrer string `json:"referrer,omitempty"`
}

// Rule classifies a touch into a channel: every condition given must hold. Mediums, Sources and
// Referrers match case-insensitively; a source or referrer entry ending in "." matches a host
// or source starting with it ("google." matches google.com and google.de).
type Rule struct {
	Channel   string   `json:"channel"`
	Mediums   []string `json:"mediums,omitempty"`
	Sources   []string `json:"sources,omitempty"`
	Referrers []string `json:"referrers,omitempty"`
	ClickIDs  []string `json:"click_ids,omitempty"`
	// Campaign: the touch has campaign parameters (true) or has none (false); nil: either.
	Campaign *bool `json:"campaign,omitempty"`
}

var (
	searchEngines = []string{"google.", "www.google.", "bing.", "www.bing.", "duckduckgo.", "search.yahoo.", "yahoo.", "baidu.", "yandex.", "ecosia.", "search.brave.", "startpage.", "qwant.", "naver.", "seznam."}
	socialSites   = []string{"facebook.", "www.facebook.", "m.facebook.", "l.facebook.", "lm.facebook.", "instagram.", "www.instagram.", "l.instagram.", "t.co", "twitter.", "x.com", "linkedin.", "www.linkedin.", "lnkd.in", "pinterest.", "www.pinterest.", "reddit.", "www.reddit.", "old.reddit.", "youtube.", "www.youtube.", "m.youtube.", "tiktok.", "www.tiktok.", "threads.net", "bsky.app", "mastodon.", "vk.com", "snapchat."}
	mailSites     = []string{"mail.google.", "outlook.live.", "outlook.office.", "mail.yahoo.", "webmail.", "mail."}
	yes, no       = true, false
)

// DefaultRules is the channel grouping used when a workspace defines none, close to what ad
// and analytics tools report: click ids and paid mediums first, then the campaign's medium,
// then the referrer of a visit without campaign parameters.
func DefaultRules() []Rule {
	paid := []string{"cpc", "ppc", "paid", "paidsearch", "paid_search", "paid-search", "cpa", "cpv"}
	return []Rule{
		{Channel: PaidSearch, ClickIDs: []string{"gclid", "gbraid", "wbraid", "msclkid", "dclid"}},
		{Channel: PaidSocial, Mediums: paid, Sources: socialSites},
		{Channel: PaidSocial, Mediums: []string{"paid_social", "paidsocial", "paid-social", "social_paid", "social-paid"}},
		{Channel: PaidSearch, Mediums: paid, Sources: append([]string{"google", "bing", "adwords", "googleads", "microsoft", "yahoo", "baidu", "yandex", "duckduckgo"}, searchEngines...)},
		{Channel: PaidSocial, Mediums: paid, Sources: []string{"facebook", "fb", "instagram", "ig", "meta", "linkedin", "twitter", "x", "tiktok", "pinterest", "reddit", "snapchat"}},
		{Channel: Display, Mediums: []string{"display", "banner", "cpm", "interstitial", "expandable", "programmatic"}},
		{Channel: OtherPaid, Mediums: paid},
		{Channel: Email, Mediums: []string{"email", "e-mail", "e_mail", "e mail", "newsletter", "mail"}},
		{Channel: Email, Sources: []string{"email", "e-mail", "newsletter", "mailchimp", "klaviyo", "sendgrid", "kenner"}},
		{Channel: Affiliate, Mediums: []string{"affiliate", "affiliates", "partner"}},
		{Channel: Social, Mediums: []string{"social", "social-network", "social-media", "sm", "social network", "social media", "organic_social"}},
		{Channel: OrganicSearch, Mediums: []string{"organic"}},
		{Channel: Offline, Mediums: []string{"offline", "print", "tv", "radio", "direct_mail", "direct-mail", "event", "qr", "pos", "retail", "sms"}},
		{Channel: Referral, Mediums: []string{"referral", "link"}},
		{Channel: PaidSocial, ClickIDs: []string{"fbclid", "ttclid", "li_fat_id", "twclid"}, Campaign: &yes},
		{Channel: Social, ClickIDs: []string{"fbclid", "ttclid", "twclid"}},
		{Channel: OrganicSearch, Referrers: searchEngines, Campaign: &no},
		{Channel: Social, Referrers: socialSites, Campaign: &no},
		{Channel: Email, Referrers: mailSites, Campaign: &no},
		{Channel: Social, Sources: append([]string{"facebook", "fb", "instagram", "ig", "linkedin", "twitter", "x", "tiktok", "pinterest", "reddit", "youtube"}, socialSites...)},
		{Channel: OrganicSearch, Sources: append([]string{"google", "bing", "duckduckgo", "yahoo", "baidu", "yandex", "ecosia"}, searchEngines...)},
	}
}

// matches reports whether v is in list: an entry ending in "." is a prefix ("google."), one
// holding a dot a domain that subdomains match too ("t.co", "x.com"), any other the exact
// value; all without regard to case.
func matches(list []string, v string) bool {
	if v == "" {
		return false
	}
	v = strings.ToLower(v)
	for _, x := range list {
		x = strings.ToLower(x)
		switch {
		case strings.HasSuffix(x, "."):
			if strings.HasPrefix(v, x) {
				return true
			}
		case strings.Contains(x, "."):
			if v == x || strings.HasSuffix(v, "."+x) {
				return true
			}
		case v == x:
			return true
		}
	}
	return false
}

// Classify names the channel of a touch by the first rule that holds: Direct for a visit
// with neither campaign nor referrer, Referral for any other referrer, Other for a campaign no
// rule names.
func Classify(rules []Rule, t Touch) string {
	campaign := t.Source != "" || t.Medium != "" || t.Campaign != ""
	for _, r := range rules {
		if r.Campaign != nil && *r.Campaign != campaign {
			continue
		}
		if len(r.Mediums) > 0 && !matches(r.Mediums, t.Medium) {
			continue
		}
		if len(r.Sources) > 0 && !matches(r.Sources, t.Source) {
			continue
		}
		if len(r.Referrers) > 0 && !matches(r.Referrers, t.Referrer) {
			continue
		}
		if len(r.ClickIDs) > 0 && !slices.Contains(r.ClickIDs, t.ClickID) {
			continue
		}
		if len(r.Mediums)+len(r.Sources)+len(r.Referrers)+len(r.ClickIDs) == 0 {
			continue // a rule with no condition would take everything
		}
		return r.Channel
	}
	switch {
	case campaign:
		return Other
	case t.Referrer != "":
		return Referral
	}
	return Direct
}

// clickIDs are the ad click ids read from landing URLs, in order of precedence.
var clickIDs = []string{"gclid", "gbraid", "wbraid", "msclkid", "dclid", "fbclid", "ttclid", "twclid", "li_fat_id"}

// TouchOf reads the touch an event carries: its context.campaign (UTM parameters, or an
// import's offline campaign), the ad click id of its page URL, and its page's referrer when
// that is another site. ok is false when the event carries none of them (a page view of a
// visit already going, a track call); a new visit with none of them is Direct, which the
// caller decides (see Sessions).
func TouchOf(body []byte, at time.Time) (Touch, bool) {
	m, err := jsonobj.Parse(body)
	if err != nil {
		return Touch{}, false
	}
	return TouchOfMessage(m, at)
}

// TouchOfMessage is TouchOf for a message already parsed.
func TouchOfMessage(m jsonobj.Object, at time.Time) (Touch, bool) {
	ctx, _ := jsonobj.Parse(m.Get("context"))
	t := Touch{At: at}
	if c, err := jsonobj.Parse(ctx.Get("campaign")); err == nil {
		t.Source, _ = c.GetString("source")
		t.Medium, _ = c.GetString("medium")
		t.Campaign, _ = c.GetString("name")
		t.Term, _ = c.GetString("term")
		t.Content, _ = c.GetString("content")
	}
	page, _ := jsonobj.Parse(ctx.Get("page"))
	props, _ := jsonobj.Parse(m.Get("properties"))
	pageURL, _ := page.GetString("url")
	if pageURL == "" {
		pageURL, _ = props.GetString("url")
	}
	search, _ := page.GetString("search")
	if search == "" {
		search, _ = props.GetString("search")
	}
	q := url.Values{}
	if u, err := url.Parse(pageURL); err == nil && pageURL != "" {
		q = u.Query()
	}
	if search != "" {
		if sq, err := url.ParseQuery(strings.TrimPrefix(search, "?")); err == nil {
			for k, v := range sq {
				q[k] = v
			}
		}
	}
	for _, id := range clickIDs {
		if q.Get(id) != "" {
			t.ClickID = id
			break
		}
	}
	ref, _ := page.GetString("referrer")
	if ref == "" {
		ref, _ = props.GetString("referrer")
	}
	if ref != "" {
		if ru, err := url.Parse(ref); err == nil && ru.Host != "" {
			host := strings.ToLower(strings.TrimPrefix(ru.Hostname(), "www."))
			own := ""
			if pu, err := url.Parse(pageURL); err == nil {
				own = strings.ToLower(strings.TrimPrefix(pu.Hostname(), "www."))
			}
			if host != own || own == "" {
				t.Referrer = ru.Hostname()
			}
		}
	}
	ok := t.Source != "" || t.Medium != "" || t.Campaign != "" || t.ClickID != "" || t.Referrer != ""
	return t, ok
}
