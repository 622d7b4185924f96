package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// febrlFieldLines are the Febrl comparisons as the console's form writes them.
const febrlFieldLines = "given_name name tf\nsurname name tf\nstreet_number code\naddress_1 text\naddress_2 text\nsuburb text tf\npostcode code\nstate exact\ndate_of_birth code\nsoc_sec_id code\n"

const febrlBlockLines = "postcode\ndate_of_birth\nsoc_sec_id\ngiven_name+surname phonetic\n"

// TestMatchingInBrowser: an admin matches Febrl's records from the console: a dry run shows
// the curve and the parameters, a run merges, and a pair from the review queue is accepted,
// another rejected.
func TestMatchingInBrowser(t *testing.T) {
	sharedData(t, "febrl")
	data := t.TempDir()
	s := startServer(t, data, "--external-ids", "febrl_id")
	creds := credentialsOf(t, data)
	importFebrl(t, s.url, creds.AdminToken, []string{"dataset1.csv"})

	ctx, _ := browser(t)
	signIn(t, ctx, s.url, creds, "Matching")
	accessible(t, ctx, "matching")
	// The default traits are not Febrl's: the run fails and says why.
	start := func(fields, blocking, review string, dry bool) string {
		t.Helper()
		actions := []chromedp.Action[chromedp.Void]{
			chromedp.SetValue(chromedp.ID("m-fields"), fields),
			chromedp.SetValue(chromedp.ID("m-blocking"), blocking),
			chromedp.SetValue(chromedp.ID("m-review"), review),
		}
		checked, _ := chromedp.Run(ctx, chromedp.JavascriptAttribute[bool](chromedp.CSS(`input[name="dry_run"]`), "checked"))
		if checked != dry {
			actions = append(actions, chromedp.Click(chromedp.CSS(`input[name="dry_run"]`)))
		}
		actions = append(actions, chromedp.Submit(chromedp.ID("m-fields")), chromedp.WaitVisible(`//h1[contains(., "Match run")]`))
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(60 * time.Second); ; {
			body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
			if err == nil && !strings.Contains(body, "Running") && (strings.Contains(body, "done") || strings.Contains(body, "failed")) {
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("the run page never showed the end:\n%s", body)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	body := start("first_name name tf\nlast_name name tf\n", "first_name+last_name phonetic\n", "0.5", true)
	if !strings.Contains(body, "no profile has any of the compared traits") {
		t.Errorf("a run over traits nobody has:\n%s", body)
	}
	back := func() {
		if err := chromedp.Do(ctx, chromedp.Click(`//a[contains(., "← Matching")]`), chromedp.WaitVisible(chromedp.ID("m-fields"))); err != nil {
			t.Fatal(err)
		}
	}
	back()
	body = start(febrlFieldLines, febrlBlockLines, "0.5", true)
	for _, want := range []string{"1000", "profiles compared", "merges it would make", "Threshold curve", "metaphone(given_name,surname)", "soc_sec_id", "one edit apart"} {
		if !strings.Contains(body, want) {
			t.Errorf("the dry run's page lacks %q:\n%s", want, body)
		}
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#curve-chart canvas`))); err != nil {
		t.Errorf("no curve drawn: %v", err)
	}
	screenshot(t, ctx, "match-run")
	accessible(t, ctx, "matchrun")

	// A run that merges the sure pairs and sends a wide band below to review.
	back()
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("m-merge"), "0.999999")); err != nil {
		t.Fatal(err)
	}
	body = start(febrlFieldLines, febrlBlockLines, "0.001", false)
	if !strings.Contains(body, "merges made") || !strings.Contains(body, "pairs sent to review") {
		t.Fatalf("the run's page:\n%s", body)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`//a[contains(., "pairs sent to review")]`), chromedp.WaitVisible(`//h1[text()="Review queue"]`)); err != nil {
		t.Fatal(err)
	}
	body, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	for _, want := range []string{"Accept: same person", "Reject: different people", "given_name", "likely the same person"} {
		if !strings.Contains(body, want) {
			t.Errorf("the review queue lacks %q:\n%s", want, body)
		}
	}
	screenshot(t, ctx, "match-reviews")
	accessible(t, ctx, "matchreviews")
	if err := chromedp.Do(ctx,
		chromedp.Click(`(//button[contains(., "Accept")])[1]`),
		chromedp.WaitVisible(`//p[@role="status"][contains(., "Merged")]`),
		chromedp.Click(`(//button[contains(., "Reject")])[1]`),
		chromedp.WaitVisible(`//p[@role="status"][contains(., "Rejected")]`),
		chromedp.Click(`//a[text()="Rejected"]`),
		chromedp.WaitVisible(`//section[contains(@class, "pair")]//span[text()="rejected"]`),
	); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		t.Fatalf("%v\n%s", err, body)
	}
}
