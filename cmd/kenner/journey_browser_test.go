package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kenner-cdp/kenner/internal/smtptest"
)

// TestJourneysInBrowser: a marketer starts a journey from the console, publishes it, sees
// people flow through its steps with the emails sent, previews an email for one of them,
// and finds the journey on that person's profile.
func TestJourneysInBrowser(t *testing.T) {
	smtp := smtptest.Start(t, smtptest.Options{})
	data := t.TempDir()
	s := startServer(t, data, "--smtp-url", "smtp://"+smtp.Addr+"?security=none", "--email-from", "Shop <shop@example.com>")
	creds := credentialsOf(t, data)
	send := batchSender(t, s.url, creds.WriteKey)

	ctx, _ := browser(t)
	signIn(t, ctx, s.url, creds, "Journeys")
	accessible(t, ctx, "journeys")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("j-name"), "Welcome series"),
		chromedp.Submit(chromedp.ID("j-name")),
		chromedp.WaitVisible(`//h1[contains(., "Welcome series")]`),
		chromedp.Click(chromedp.ID("publish")),
		chromedp.WaitVisible(`//p[@role="status"][contains(., "Published")]`),
	); err != nil {
		t.Fatal(err)
	}
	send(`{"batch":[
		{"type":"identify","userId":"ann","traits":{"email":"ann@example.com","first_name":"Ann"},"messageId":"i1"},
		{"type":"identify","userId":"bo","traits":{"email":"bo@example.com"},"messageId":"i2"},
		{"type":"identify","userId":"cy","traits":{"email":"cy@example.com","first_name":"Cy"},"messageId":"i3"},
		{"type":"track","userId":"ann","event":"Signed Up","messageId":"s1"},
		{"type":"track","userId":"bo","event":"Signed Up","messageId":"s2"},
		{"type":"track","userId":"cy","event":"Signed Up","messageId":"s3"}]}`)
	waitFor(t, "three welcome emails", func() bool { return len(smtp.Mails()) == 3 })
	for deadline := time.Now().Add(20 * time.Second); ; {
		chromedp.Run(ctx, chromedp.Reload())
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		if strings.Contains(body, "sent 3") {
			for _, want := range []string{"doing Signed Up", "Email “Welcome, {{ .traits.first_name | default \"there\" }}”", "Wait 3 days", "live"} {
				if !strings.Contains(body, want) {
					t.Errorf("the journey page lacks %q:\n%s", want, body)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the journey page never showed the sends:\n%s", body)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("p-profile"), "user_id:ann"),
		chromedp.Submit(chromedp.ID("p-profile")),
		chromedp.WaitVisible(`//div[@class="email-preview"]`),
	); err != nil {
		t.Fatal(err)
	}
	if body, _ := chromedp.Run(ctx, chromedp.Text(`//div[@class="email-preview"]`)); !strings.Contains(body, "Welcome, Ann") {
		t.Errorf("the preview for ann: %q", body)
	}
	// The HTML part shows in its frame, rendered for Ann.
	for deadline := time.Now().Add(10 * time.Second); ; {
		inner, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () { var d = document.querySelector("iframe").contentDocument; return d && d.body ? d.body.innerHTML : "" })()`))
		if inner == "<p>Hello Ann, welcome aboard.</p>" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the preview frame shows %q", inner)
		}
		time.Sleep(50 * time.Millisecond)
	}
	screenshot(t, ctx, "journey")
	accessible(t, ctx, "journey")
	if err := chromedp.Do(ctx,
		chromedp.Click(`//nav//a[text()="Journeys"]`),
		chromedp.WaitVisible(`//a[text()="Welcome series"]`),
	); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "journeys")
	if err := chromedp.Do(ctx,
		chromedp.Click(`//nav//a[text()="Profiles"]`),
		chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), "user_id:ann"),
		chromedp.Submit(chromedp.ID("q")),
		chromedp.WaitVisible(`//h2[text()="Journeys"]`),
	); err != nil {
		t.Fatal(err)
	}
	if body, _ := chromedp.Run(ctx, chromedp.Text(`//section[@aria-labelledby="journeys"]`)); !strings.Contains(body, "welcome: sent") || !strings.Contains(body, "at wait") {
		t.Errorf("ann's profile shows the journey as %q", body)
	}

	// A second journey built with the forms, no JSON: who enters, a step removed, one added.
	if err := chromedp.Do(ctx,
		chromedp.Click(`//nav//a[text()="Journeys"]`),
		chromedp.WaitVisible(chromedp.ID("j-name")),
		chromedp.SendKeys(chromedp.ID("j-name"), "Cart reminder"),
		chromedp.Submit(chromedp.ID("j-name")),
		chromedp.WaitVisible(`//h1[contains(., "Cart reminder")]`),
		chromedp.SetValue(chromedp.ID("e-event"), "Cart Abandoned"),
		chromedp.Submit(chromedp.ID("e-event")),
		chromedp.WaitVisible(`//p[contains(., "doing Cart Abandoned")]`),
		chromedp.Click(`//button[@aria-label="Remove step goal"]`),
		chromedp.WaitNotPresent(`//button[@aria-label="Remove step goal"]`),
		chromedp.WaitVisible(chromedp.ID("s-type")),
		chromedp.SetValue(chromedp.ID("s-type"), "wait"),
		chromedp.SetValue(chromedp.ID("s-id"), "pause"),
		chromedp.SetValue(chromedp.ID("s-after"), "nudge"),
		chromedp.SetValue(chromedp.ID("s-duration"), "1d"),
		chromedp.Submit(chromedp.ID("s-id")),
	); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`//td[text()="pause"]`)); err != nil {
		b, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		t.Fatalf("%v\n%s", err, b)
	}
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	for _, want := range []string{"Wait 1 day", "doing Cart Abandoned"} {
		if !strings.Contains(body, want) {
			t.Errorf("the draft lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "Goal: Order Completed") {
		t.Error("the removed goal step is still in the draft")
	}
	screenshot(t, ctx, "journey-builder")
	accessible(t, ctx, "journey-builder")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("publish")),
		chromedp.WaitVisible(`//p[@role="status"][contains(., "Published")]`),
	); err != nil {
		t.Fatal(err)
	}
}
