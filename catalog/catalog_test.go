package catalog

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kenner-cdp/kenner"
)

// TestCatalog: every connector says what it is, what it maps into and what it needs, and every
// webhook source's sample delivery makes messages.
func TestCatalog(t *testing.T) {
	list, err := List()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, c := range list {
		kinds[c.Kind]++
		if c.ID == "" || c.Name == "" || len(c.Description) < 40 || len(c.MapsInto) == 0 || len(c.Settings) == 0 || c.Setup == "" || len(c.Actions) == 0 {
			t.Errorf("%s is not described: %+v", c.ID, c)
		}
		if got, err := Get(c.ID); err != nil || got.Name != c.Name {
			t.Errorf("Get(%s) = %v %v", c.ID, got.Name, err)
		}
		if c.Kind != KindWebhook {
			continue
		}
		msgs, _, err := Sample(c.ID)
		if err != nil || len(msgs) == 0 {
			t.Errorf("%s: the sample made %d messages: %v", c.ID, len(msgs), err)
		}
		for _, m := range msgs {
			if !json.Valid(m.Body) {
				t.Errorf("%s: %s", c.ID, m.Body)
			}
		}
	}
	if kinds[KindWebhook] < 11 || kinds[KindPull] != 1 || kinds[KindFileDrop] != 1 || kinds[KindDestination] < 5 {
		t.Errorf("kinds %v", kinds)
	}
	hs, _ := Get("webhook-hubspot")
	if hs.Name != "HubSpot" || strings.Join(hs.ExternalIDs, ",") != "hubspot_id" || !strings.Contains(hs.Description, "X-HubSpot-Signature-v3") ||
		hs.Settings[0].Name != "verify.secret" || hs.Settings[1].Name != "verify.url" {
		t.Errorf("hubspot %+v", hs)
	}
	mt, _ := Get("webhook-mailchimp-transactional")
	if !strings.Contains(strings.Join(mt.MapsInto, ";"), "Email Opened") {
		t.Errorf("mailchimp transactional maps into %v", mt.MapsInto)
	}
	mc, _ := Get("webhook-mailchimp")
	if mc.Settings[0].Name != "writeKey" {
		t.Errorf("mailchimp does not sign: %+v", mc.Settings)
	}
	if _, err := Get("nope"); kenner.ErrorCode(err) != kenner.ENotFound {
		t.Errorf("unknown: %v", err)
	}
	if _, _, err := Sample("database"); kenner.ErrorCode(err) != kenner.EInvalid {
		t.Errorf("sample of a pull source: %v", err)
	}
}
