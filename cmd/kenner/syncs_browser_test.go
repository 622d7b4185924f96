package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestSyncsInBrowser: an admin adds a PostgreSQL sync from the console: tests the connection,
// creates it, runs it by hand and sees the run's outcome; the list shows it.
func TestSyncsInBrowser(t *testing.T) {
	dsn, table, exec := sourceTable(t, "kenner_console_", "(id integer PRIMARY KEY, email text, first_name text, updated_at timestamptz NOT NULL)")
	exec("INSERT INTO " + table + " VALUES (1, 'ada@example.com', 'Ada', now()), (2, 'grace@example.com', 'Grace', now())")

	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	ctx, _ := browser(t)
	signIn(t, ctx, s.url, creds, "Sources")
	if err := chromedp.Do(ctx, chromedp.Click(`//a[.="syncs"]`), chromedp.WaitVisible(chromedp.ID("s-name"))); err != nil {
		t.Fatal(err)
	}
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if !strings.Contains(body, "No syncs yet") {
		t.Errorf("the empty list says what to do:\n%s", body)
	}
	accessible(t, ctx, "syncs")
	fill := []chromedp.Action[chromedp.Void]{
		chromedp.SetValue(chromedp.ID("s-name"), "crm-customers"),
		chromedp.SetValue(chromedp.ID("s-dsn"), dsn),
		chromedp.SetValue(chromedp.ID("s-table"), table),
		chromedp.SetValue(chromedp.ID("s-schedule"), "every 6h"),
	}
	if err := chromedp.Do(ctx, append(fill, chromedp.Click(`//button[.="Test connection"]`), chromedp.WaitVisible(`//p[@class="notice"]`))...); err != nil {
		t.Fatal(err)
	}
	notice, _ := chromedp.Run(ctx, chromedp.Text(`//p[@class="notice"]`))
	if !strings.Contains(notice, "connected") {
		t.Errorf("test connection: %q", notice)
	}
	screenshot(t, ctx, "syncs-new")
	// The password field is not sent back to the browser: it is typed again.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("s-dsn"), dsn), chromedp.Click(`//button[.="Create sync"]`),
		chromedp.WaitVisible(`//h1[contains(., "crm-customers")]`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`//button[.="Run now"]`), chromedp.WaitVisible(`//p[@class="notice"]`)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		body, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("td .status-done").length`)); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run never showed done:\n%s", body)
		}
		time.Sleep(300 * time.Millisecond)
	}
	for _, want := range []string{"table " + table + " by updated_at", "every 6h", "2 rows, 2 imported", "manual", "left as they are"} {
		if !strings.Contains(body, want) {
			t.Errorf("the sync's page lacks %q:\n%s", want, body)
		}
	}
	screenshot(t, ctx, "sync")
	accessible(t, ctx, "sync")
	// Its schedule changed from its page; the connection stays as it was.
	if err := chromedp.Do(ctx, chromedp.Click(`//summary[contains(., "Change the schedule")]`), chromedp.WaitVisible(chromedp.ID("e-schedule")),
		chromedp.SetValue(chromedp.ID("e-schedule"), "every 2h"), chromedp.Click(`//form[contains(@action, "/edit")]//button[.="Save"]`),
		chromedp.WaitVisible(`//p[@class="notice" and contains(., "Saved")]`)); err != nil {
		t.Fatal(err)
	}
	if body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main"))); !strings.Contains(body, "every 2h") {
		t.Errorf("after the edit:\n%s", body)
	}
	// A run after the edit still reaches the database: the credentials were kept.
	if err := chromedp.Do(ctx, chromedp.Click(`//button[.="Run now"]`), chromedp.WaitVisible(`//p[@class="notice" and contains(., "started")]`)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("td .status-done").length`)); n == 2 {
			break
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
			t.Fatalf("the second run never showed done:\n%s", body)
		}
		time.Sleep(300 * time.Millisecond)
	}
	waitProfile(t, s.url, creds.AdminToken, "user_id:2", nil)
	if err := chromedp.Do(ctx, chromedp.Click(`//a[.="Syncs"]`), chromedp.WaitVisible(`//td/a[.="crm-customers"]`)); err != nil {
		t.Fatal(err)
	}
}
