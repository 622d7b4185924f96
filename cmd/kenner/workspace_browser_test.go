package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestWorkspacesInBrowser: the deployment's owner creates a workspace on the settings page
// and is shown its credentials once; its owner signs in with them and sees their workspace
// named in the header, empty, with only it; the deployment's owner deletes it again by typing
// its id.
func TestWorkspacesInBrowser(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	ctx, _ := browser(t)
	signIn(t, ctx, s.url, creds, "Settings")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("w-name"), "Brand B"),
		chromedp.SendKeys(chromedp.ID("w-email"), "owner@brand-b.example"),
		chromedp.Submit(chromedp.ID("w-name")),
		chromedp.WaitVisible(`//p[@role="status"]`),
	); err != nil {
		t.Fatal(err)
	}
	notice, err := chromedp.Run(ctx, chromedp.Text(`//p[@role="status"]`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notice, `Workspace "Brand B" is ready`) {
		t.Fatalf("after creating a workspace: %q", notice)
	}
	accessible(t, ctx, "settings with workspaces")
	screenshot(t, ctx, "settings-workspaces")
	password, err := chromedp.Run(ctx, chromedp.Text(`//table[@class="credentials"]//th[text()="Password"]/following-sibling::td`))
	if err != nil {
		t.Fatal(err)
	}
	if email, _ := chromedp.Run(ctx, chromedp.Text(`//table[@class="credentials"]//th[text()="Console sign-in"]/following-sibling::td`)); email != "owner@brand-b.example" {
		t.Errorf("the new owner's sign-in shown: %q", email)
	}
	id, err := chromedp.Run(ctx, chromedp.Text(`//td[text()="Brand B"]/following-sibling::td[1]`))
	if err != nil {
		t.Fatal(err)
	}

	other, _ := browser(t)
	signIn(t, other, s.url, initialCredentials{ConsoleEmail: "owner@brand-b.example", ConsolePassword: strings.TrimSpace(password)}, "Settings")
	header, _ := chromedp.Run(other, chromedp.Text(chromedp.CSS(".who")))
	page, _ := chromedp.Run(other, chromedp.Text(chromedp.CSS("main")))
	if !strings.Contains(header, "Brand B") {
		t.Errorf("the header of B's owner: %q", header)
	}
	if strings.Contains(page, "New workspace") || strings.Contains(page, "Cluster") {
		t.Error("B's owner sees the deployment's workspaces or servers")
	}
	screenshot(t, other, "settings-other-workspace")

	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("confirm-"+id), id),
		chromedp.Submit(chromedp.ID("confirm-"+id)),
		chromedp.WaitVisible(`//p[@role="status" and contains(., "are deleted")]`),
	); err != nil {
		t.Fatal(err)
	}
	if notice, _ = chromedp.Run(ctx, chromedp.Text(`//p[@role="status"]`)); !strings.Contains(notice, "are deleted") {
		t.Errorf("after deleting: %q", notice)
	}
}
