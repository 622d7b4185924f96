package tag_test

import (
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/tag"
)

// TestScriptBudget: the tag, with every setting on, stays under 15 KB gzipped.
func TestScriptBudget(t *testing.T) {
	set := kenner.TagSettings{Consent: kenner.ConsentRequired, PageViews: true, Clicks: true, Forms: true, OutboundLinks: true, ScrollDepth: true,
		Tags: []kenner.ThirdPartyTag{{Name: "Ads", Src: "https://ads.example/tag.js", Purpose: "marketing"}}}
	plain, gz := tag.Script("wk_0123456789abcdef0123456789abcdef01234567", set)
	t.Logf("tag: %d bytes, %d gzipped", len(plain), gz)
	if gz > 15<<10 {
		t.Errorf("the tag is %d bytes gzipped, over the 15 KB budget", gz)
	}
}
