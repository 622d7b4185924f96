package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestAnalyticsInBrowser: a marketer reads attribution, a trend, a funnel and retention from
// the console, on a shop's generated month of visitors.
func TestAnalyticsInBrowser(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	send := batchSender(t, s.url, creds.WriteKey)
	sources := []string{"utm_source=google&utm_medium=cpc&utm_campaign=brand", "utm_source=newsletter&utm_medium=email&utm_campaign=weekly",
		"utm_source=facebook&utm_medium=paid_social&utm_campaign=spring", ""}
	now := time.Now().UTC()
	var b strings.Builder
	for i := range 120 {
		at := func(h int) string { return now.Add(-time.Duration(24*(i%28)+h) * time.Hour).Format(time.RFC3339) }
		u := fmt.Sprintf("v%d", i)
		url := "https://shop.example/"
		if q := sources[i%4]; q != "" {
			url += "?" + q
		}
		fmt.Fprintf(&b, `{"type":"page","anonymousId":%q,"timestamp":%q,"context":{"page":{"url":%q}}},`, u, at(30), url)
		if i%2 == 0 {
			fmt.Fprintf(&b, `{"type":"track","event":"Product Added","anonymousId":%q,"timestamp":%q},`, u, at(29))
		}
		if i%3 == 0 {
			fmt.Fprintf(&b, `{"type":"track","event":"Order Completed","anonymousId":%q,"timestamp":%q,"properties":{"revenue":%d}},`, u, at(28), 20+i)
		}
	}
	send(`{"batch":[` + strings.TrimSuffix(b.String(), ",") + `]}`)

	ctx, _ := browser(t)
	signIn(t, ctx, s.url, creds, "Analytics")
	// Each stage has its own deadline, so that a stuck one says which it was.
	stage := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
			t.Fatalf("%s: %v\n%s", name, err, body)
		}
	}
	var body string
	for deadline := time.Now().Add(20 * time.Second); ; {
		stage("attribution", chromedp.Navigate(s.url+"/console/analytics?tab=attribution"), chromedp.WaitVisible(`//h1[text()="Analytics"]`))
		body, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		if strings.Contains(body, "Paid Search") && strings.Contains(body, "Data-driven") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("attribution never showed:\n%s", body)
		}
		time.Sleep(300 * time.Millisecond)
	}
	for _, want := range []string{"40", "conversions", "Email", "Paid Social", "Direct", "First touch", "Position (40/20/40)", "removal effect"} {
		if !strings.Contains(body, want) {
			t.Errorf("attribution lacks %q:\n%s", want, body)
		}
	}
	screenshot(t, ctx, "analytics-attribution")
	accessible(t, ctx, "analytics")

	api := adminAPI(t, s.url, creds.AdminToken)
	if code, r := api("POST", "/v1/spend", fmt.Sprintf(`{"spend":[{"date":%q,"source":"google","medium":"cpc","campaign":"brand","amount":185}]}`, now.AddDate(0, 0, -2).Format("2006-01-02"))); code != 200 {
		t.Fatalf("spend: %d %v", code, r)
	}
	stage("campaigns", chromedp.Click(`//nav[@class="tabs"]//a[text()="Campaigns and ROI"]`), chromedp.WaitVisible(`//h2[text()="By campaign"]`))
	body, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	// The Google campaign's 10 orders (740 of revenue) against 185 spent: ROAS 4.00, CAC 18.50.
	if !strings.Contains(body, "google / cpc / brand") || !strings.Contains(body, "4.00×") || !strings.Contains(body, "18.50") {
		t.Errorf("campaigns:\n%s", body)
	}
	screenshot(t, ctx, "analytics-campaigns")
	stage("trends tab", chromedp.Click(`//nav[@class="tabs"]//a[text()="Trends"]`), chromedp.WaitVisible(`//select[@name="measure"]`))
	stage("trend", chromedp.SetValue(chromedp.CSS(`select[name="breakdown"]`), "first_touch_channel"),
		chromedp.Click(`//input[@name="compare"]`),
		chromedp.Submit(chromedp.CSS(`select[name="measure"]`)),
		// Only the submitted report compares: the tab's own page has a chart too.
		chromedp.WaitVisible(`//p[contains(., "previous period")]`),
		chromedp.WaitVisible(chromedp.CSS(`#trend-chart canvas`)))
	body, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if !strings.Contains(body, "Paid Search") || !strings.Contains(body, "previous period") {
		t.Errorf("trend:\n%s", body)
	}
	screenshot(t, ctx, "analytics-trend")

	stage("funnels tab", chromedp.Click(`//nav[@class="tabs"]//a[text()="Funnels"]`), chromedp.WaitVisible(`//textarea[@name="steps"]`))
	stage("funnel", chromedp.Submit(chromedp.CSS(`textarea[name="steps"]`)), chromedp.WaitVisible(`//h2[contains(., "converted")]`))
	body, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	// 120 visitors viewed a page; 60 added to the cart; of those, the ones divisible by 6 (20) bought.
	if !strings.Contains(body, "20 converted") || !strings.Contains(body, "50.0%") {
		t.Errorf("funnel:\n%s", body)
	}
	screenshot(t, ctx, "analytics-funnel")
	// Saved for the dashboard, with the campaigns report.
	stage("save the funnel", chromedp.SendKeys(chromedp.CSS(`form.save-report input[name="name"]`), "Checkout funnel"),
		chromedp.Submit(chromedp.CSS(`form.save-report input[name="name"]`)), chromedp.WaitVisible(`//section[@aria-label="Checkout funnel"]`))
	stage("campaigns again", chromedp.Navigate(s.url+"/console/analytics?tab=campaigns&model=linear"), chromedp.WaitVisible(`//h2[text()="By campaign"]`))
	stage("save the campaigns", chromedp.SendKeys(chromedp.CSS(`form.save-report input[name="name"]`), "ROI"),
		chromedp.Submit(chromedp.CSS(`form.save-report input[name="name"]`)), chromedp.WaitVisible(`//section[@aria-label="ROI"]`),
		// Each card's report arrives in its own request.
		chromedp.WaitVisible(`//section[@aria-label="ROI"]//div[@class="report-body"]`),
		chromedp.WaitVisible(`//section[@aria-label="Checkout funnel"]//div[@class="report-body"]`))
	body, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if !strings.Contains(body, "20 converted") || !strings.Contains(body, "4.00×") || !strings.Contains(body, "Linear model") {
		t.Errorf("the dashboard:\n%s", body)
	}
	screenshot(t, ctx, "analytics-dashboard")
	stage("remove", chromedp.Click(`//section[@aria-label="Checkout funnel"]//button[contains(., "Remove")]`), chromedp.WaitNotPresent(`//section[@aria-label="Checkout funnel"]`))
	stage("revenue", chromedp.Click(`//nav[@class="tabs"]//a[text()="Revenue"]`), chromedp.WaitVisible(`//h2[contains(., "first touch")]`),
		chromedp.WaitVisible(chromedp.CSS(`.trend-chart canvas`)))
	body, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	for _, want := range []string{"revenue per customer", "average order", "orders", "Paid Search", "the period before"} {
		if !strings.Contains(body, want) {
			t.Errorf("the revenue tab lacks %q:\n%s", want, body)
		}
	}
	screenshot(t, ctx, "analytics-revenue")
	accessible(t, ctx, "analytics revenue")
	stage("retention tab", chromedp.Click(`//nav[@class="tabs"]//a[text()="Retention"]`), chromedp.WaitVisible(`//input[@name="start"]`))
	stage("retention", chromedp.Submit(chromedp.CSS(`input[name="start"]`)), chromedp.WaitVisible(`//h2[text()="Cohorts"]`))
}
