package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestCatalogInBrowser: a marketer browses the catalogue, opens HubSpot, sees what a sample
// delivery becomes, and connects a source to it with the signing secret.
func TestCatalogInBrowser(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	ctx, _ := browser(t)
	signIn(t, ctx, s.url, creds, "Catalogue")
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Webhook sources", "Databases", "File drops", "Destinations", "HubSpot", "Mailchimp", "Shopify", "PostgreSQL or MySQL table", "WooCommerce", "Zendesk"} {
		if !strings.Contains(body, want) {
			t.Errorf("the catalogue lacks %q", want)
		}
	}
	accessible(t, ctx, "catalog")
	screenshot(t, ctx, "catalog")
	if err := chromedp.Do(ctx, chromedp.Click(`//a[@class="connector"][strong[.="HubSpot"]]`), chromedp.WaitVisible(`//h2[.="A sample delivery"]`)); err != nil {
		t.Fatal(err)
	}
	body, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	for _, want := range []string{"Deal Associated", "hubspot_id", "verify.secret", "\"lifecycle_stage\": \"salesqualifiedlead\"", "contact.propertyChange"} {
		if !strings.Contains(body, want) {
			t.Errorf("the HubSpot page lacks %q", want)
		}
	}
	accessible(t, ctx, "connector")
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("c-secret"), "hs-secret"), chromedp.Click(`//button[.="Connect HubSpot"]`),
		chromedp.WaitVisible(`//div[@class="notice"]`)); err != nil {
		t.Fatal(err)
	}
	notice, _ := chromedp.Run(ctx, chromedp.Text(`//div[@class="notice"]`))
	if !strings.Contains(notice, "/v1/webhooks/src_") || strings.Contains(notice, "writeKey") {
		t.Errorf("the URL to give HubSpot: %q", notice)
	}
	screenshot(t, ctx, "connector-hubspot")
	api := adminAPI(t, s.url, creds.AdminToken)
	code, src := api("GET", "/v1/sources/default", "")
	wh, _ := src["settings"].(map[string]any)["webhook"].(map[string]any)
	if code != 200 || wh["preset"] != "hubspot" || wh["verify"].(map[string]any)["secret"] != "(set)" {
		t.Errorf("the source's webhook: %d %v", code, src)
	}
}

// TestCRMDestinationInBrowser: from the catalogue, a marketer connects HubSpot for the lead
// hand-off with its token; a mistake (no token) is said in words, and the destination exists.
func TestCRMDestinationInBrowser(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	ctx, _ := browser(t)
	signIn(t, ctx, s.url, creds, "Catalogue")
	if err := chromedp.Do(ctx, chromedp.Click(`//a[@class="connector"][strong[.="HubSpot (CRM)"]]`), chromedp.Click(`//a[.="Connect HubSpot"]`),
		chromedp.WaitVisible(chromedp.ID("hs-token"))); err != nil {
		t.Fatal(err)
	}
	accessible(t, ctx, "destination_new")
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("name"), "hubspot"), chromedp.Click(`//button[.="Create destination"]`),
		chromedp.WaitVisible(`//p[@class="error"]`)); err != nil {
		t.Fatal(err)
	}
	if msg, _ := chromedp.Run(ctx, chromedp.Text(`//p[@class="error"]`)); !strings.Contains(msg, "access_token") {
		t.Errorf("no token: %q", msg)
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("hs-token"), "pat-na1-x")); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "destination-new-hubspot")
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("hs-token"), "pat-na1-x"), chromedp.Click(`//button[.="Create destination"]`),
		chromedp.WaitVisible(`//h2[text()="Deliveries"]`)); err != nil {
		t.Fatal(err)
	}
	api := adminAPI(t, s.url, creds.AdminToken)
	_, list := api("GET", "/v1/destinations", "")
	ds := list["destinations"].([]any)
	if len(ds) != 1 {
		t.Fatalf("destinations %v", ds)
	}
	d := ds[0].(map[string]any)
	cfg := d["config"].(map[string]any)
	if d["type"] != "hubspot" || cfg["stage_property"] != "lifecyclestage" || cfg["stages"].(map[string]any)["MQL"] != "marketingqualifiedlead" ||
		d["subscribe"].(map[string]any)["leads"] != true || d["batch_size"] != 100.0 {
		t.Errorf("the destination: %v", d)
	}
}

// TestWebhookMappingInBrowser: an admin writes a custom webhook mapping on a source's page,
// tries it on a payload (the calls it makes, nothing stored), fixes a mistake the page names,
// and saves it.
func TestWebhookMappingInBrowser(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	ctx, _ := browser(t)
	signIn(t, ctx, s.url, creds, "Sources")
	if err := chromedp.Do(ctx, chromedp.Click(`//td/a[.="default"]`), chromedp.WaitVisible(chromedp.ID("wh-mapping"))); err != nil {
		t.Fatal(err)
	}
	accessible(t, ctx, "source")
	bad := "events:\n  - type: track\n    fields: {userId: $.user.id}\n"
	good := "events:\n  - when: payload.event == 'ticket.created'\n    type: track\n    event: Ticket Opened\n    fields:\n      userId: $.ticket.requester.id\n      properties.priority: =payload.ticket.priority.upperAscii()\n"
	payload := `{"event": "ticket.created", "ticket": {"priority": "high", "requester": {"id": 42}}}`
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("wh-mapping"), bad), chromedp.SetValue(chromedp.ID("wh-payload"), payload),
		chromedp.Click(`//button[.="Try it"]`), chromedp.WaitVisible(`//p[@class="error"]`)); err != nil {
		t.Fatal(err)
	}
	if msg, _ := chromedp.Run(ctx, chromedp.Text(`//p[@class="error"]`)); !strings.Contains(msg, "event name") {
		t.Errorf("a track event without a name: %q", msg)
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("wh-mapping"), good), chromedp.Click(`//button[.="Try it"]`),
		chromedp.WaitVisible(`//h3[.="It makes"]`)); err != nil {
		t.Fatal(err)
	}
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if !strings.Contains(body, `"event": "Ticket Opened"`) || !strings.Contains(body, `"priority": "HIGH"`) || !strings.Contains(body, `"userId": "42"`) {
		t.Errorf("the preview:\n%s", body)
	}
	screenshot(t, ctx, "source-webhook")
	if err := chromedp.Do(ctx, chromedp.Click(`//button[.="Save the mapping"]`), chromedp.WaitVisible(`//p[@class="notice"]`)); err != nil {
		t.Fatal(err)
	}
	api := adminAPI(t, s.url, creds.AdminToken)
	_, src := api("GET", "/v1/sources/default", "")
	wh, _ := src["settings"].(map[string]any)["webhook"].(map[string]any)
	if wh == nil || len(wh["events"].([]any)) != 1 {
		t.Fatalf("the saved mapping: %v", src)
	}
	if code, out := api("GET", "/v1/events", ""); code != 200 || len(out["events"].([]any)) != 0 {
		t.Errorf("trying stored something: %v", out)
	}
}
