package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPredictionsInBrowser: a marketer creates a lifetime value model from the console on the
// CDNOW purchases, sees it train and its RFM cells, and finds a customer's scores on their
// profile page.
func TestPredictionsInBrowser(t *testing.T) {
	sharedData(t, "cdnow")
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	importCDNOW(t, s.url, creds.AdminToken)

	ctx, _ := browser(t)
	signIn(t, ctx, s.url, creds, "Predictions")
	accessible(t, ctx, "predictions")
	// An invalid model is refused with the reason, the form kept.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("m-name"), "churn"),
		chromedp.Click(`//input[@name="kind"][@value="classifier"]`),
		chromedp.Submit(chromedp.ID("m-name")),
		chromedp.WaitVisible(`//p[@role="alert"]`),
	); err != nil {
		t.Fatal(err)
	}
	if msg, _ := chromedp.Run(ctx, chromedp.Text(`//p[@role="alert"]`)); !strings.Contains(msg, "label") {
		t.Errorf("a classifier without a label: %q", msg)
	}
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("m-name"), "ltv"),
		chromedp.Click(`//input[@name="kind"][@value="clv"]`),
		chromedp.SetValue(chromedp.ID("m-end"), "1997-09-30"),
		chromedp.Submit(chromedp.ID("m-name")),
		chromedp.WaitVisible(`//h1[contains(., "ltv")]`),
	); err != nil {
		t.Fatal(err)
	}
	// The page refreshes itself while training.
	for deadline := time.Now().Add(60 * time.Second); ; {
		body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		if err == nil && strings.Contains(body, "Customers by RFM cell") {
			for _, want := range []string{"2\u202f357", "946", "Champions", "Lost", "bgnbd.r = 0.2426", "trained"} {
				if !strings.Contains(body, want) {
					t.Errorf("the model page lacks %q:\n%s", want, body)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the model page never showed the trained model:\n%s", body)
		}
		time.Sleep(500 * time.Millisecond)
	}
	screenshot(t, ctx, "model")
	accessible(t, ctx, "model")
	if err := chromedp.Do(ctx,
		chromedp.Click(`//nav//a[text()="Predictions"]`),
		chromedp.WaitVisible(`//a[text()="ltv"]`),
	); err != nil {
		t.Fatal(err)
	}
	// A lead model from the form's example rules.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("m-name"), "lead"),
		chromedp.Click(`//input[@name="kind"][@value="lead"]`),
		chromedp.Submit(chromedp.ID("m-name")),
		chromedp.WaitVisible(`//h1[contains(., "lead")]`),
	); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		if err == nil && strings.Contains(body, "Leads by stage") {
			for _, want := range []string{"30 Demo Requested", "10 page /pricing", "MQL (from 50 points)", "halve 30 days", "2357 (100.0%)"} {
				if !strings.Contains(body, want) {
					t.Errorf("the lead model page lacks %q:\n%s", want, body)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lead model page never showed its stages:\n%s", body)
		}
		time.Sleep(500 * time.Millisecond)
	}
	screenshot(t, ctx, "lead-model")
	if err := chromedp.Do(ctx,
		chromedp.Click(`//nav//a[text()="Predictions"]`),
		chromedp.WaitVisible(`//a[text()="lead"]`),
	); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "predictions")
	if err := chromedp.Do(ctx,
		chromedp.Click(`//nav//a[text()="Profiles"]`),
		chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), "user_id:0001"),
		chromedp.Submit(chromedp.ID("q")),
		chromedp.WaitVisible(`//h2[text()="Predictions"]`),
	); err != nil {
		t.Fatal(err)
	}
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	for _, want := range []string{"ltv.p_alive", "ltv.clv", "ltv.rfm.segment"} {
		if !strings.Contains(body, want) {
			t.Errorf("the profile page lacks %q", want)
		}
	}
}
