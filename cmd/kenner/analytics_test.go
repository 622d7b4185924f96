package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAnalyticsAPI goes through the product: a person arrives from a Google ad on a phone and
// from Facebook on a laptop, signs in on both (identify joins the devices), and buys; the
// attribution, the funnel, the trend and the retention read it back from the API, and an event
// reaches the trend within seconds of being sent.
func TestAnalyticsAPI(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	api := adminAPI(t, s.url, creds.AdminToken)
	send := batchSender(t, s.url, creds.WriteKey)
	day := func(d int) string { return time.Now().UTC().AddDate(0, 0, d-10).Format(time.RFC3339) }
	send(fmt.Sprintf(`{"batch":[
		{"type":"page","anonymousId":"phone","timestamp":%q,"context":{"page":{"url":"https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=x"}}},
		{"type":"page","anonymousId":"laptop","timestamp":%q,"context":{"page":{"url":"https://shop.example/","referrer":"https://www.facebook.com/"}}},
		{"type":"identify","anonymousId":"phone","userId":"ann","timestamp":%q,"traits":{}},
		{"type":"identify","anonymousId":"laptop","userId":"ann","timestamp":%q,"traits":{}},
		{"type":"track","event":"Product Added","userId":"ann","timestamp":%q},
		{"type":"track","event":"Order Completed","userId":"ann","timestamp":%q,"properties":{"revenue":120}},
		{"type":"page","anonymousId":"bob","timestamp":%q,"context":{"page":{"url":"https://shop.example/?utm_source=newsletter&utm_medium=email"}}},
		{"type":"track","event":"Product Added","anonymousId":"bob","timestamp":%q}
	]}`, day(0), day(2), day(3), day(4), day(4), day(5), day(1), day(1)))

	// Identity joins the devices a moment after the events arrive: wait for the answer that
	// sees both.
	var att map[string]any
	deadline := time.Now().Add(20 * time.Second)
	for {
		var code int
		code, att = api("GET", "/v1/analytics/attribution?conversion=Order%20Completed", "")
		if code == 200 {
			models := att["models"].(map[string]any)
			if first := models["first_touch"].([]any); len(first) == 1 && first[0].(map[string]any)["key"] == "Paid Search" {
				if last := models["last_touch"].([]any); len(last) == 1 && last[0].(map[string]any)["key"] == "Social" {
					break
				}
			}
		} else if code != 503 {
			t.Fatalf("attribution: %d %v", code, att)
		}
		if time.Now().After(deadline) {
			t.Fatalf("attribution never joined the devices: %v", att)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The first and last touch are traits of the person, for segments.
	code, prof := api("GET", "/v1/profiles/user_id:ann?consistent=true", "")
	traits, _ := prof["traits"].(map[string]any)
	first, _ := traits["first_touch"].(map[string]any)
	last, _ := traits["last_touch"].(map[string]any)
	if code != 200 || first["channel"] != "Paid Search" || first["campaign"] != "brand" || last["channel"] != "Social" {
		t.Errorf("touch traits: %d first %v last %v", code, first, last)
	}
	if code, pv := api("POST", "/v1/segments/preview", `{"condition":"traits.first_touch.channel == 'Paid Search'"}`); code != 200 || pv["count"].(float64) != 1 {
		t.Errorf("a segment on the first touch: %d %v", code, pv)
	}
	if att["conversions"].(float64) != 1 || att["revenue"].(float64) != 120 {
		t.Errorf("attribution %v", att)
	}
	if code, f := api("GET", "/v1/analytics/attribution?where="+url.QueryEscape("e.properties.revenue > 500"), ""); code != 200 || f["conversions"].(float64) != 0 {
		t.Errorf("orders over 500: %d %v, want none", code, f)
	}
	if code, f := api("GET", "/v1/analytics/attribution?where="+url.QueryEscape("e.properties.revenue >"), ""); code != 400 {
		t.Errorf("a filter that does not compile: %d %v", code, f)
	}
	linear := att["models"].(map[string]any)["linear"].([]any)
	if len(linear) != 2 || linear[0].(map[string]any)["conversions"].(float64) != 0.5 {
		t.Errorf("linear %v, want half each to the ad and Facebook", linear)
	}

	// Return on ad spend: the ad's spend, in dollars, against the order it is credited with.
	if code, r := api("PUT", "/v1/currency-rates", `{"base":"eur","rates":{"usd":0.5}}`); code != 200 || r["base"] != "EUR" {
		t.Fatalf("rates: %d %v", code, r)
	}
	if code, r := api("POST", "/v1/spend", fmt.Sprintf(`{"spend":[{"date":%q,"source":"google","medium":"cpc","campaign":"brand","amount":60,"currency":"USD"}]}`, day(0)[:10])); code != 200 {
		t.Fatalf("spend: %d %v", code, r)
	}
	if code, r := api("POST", "/v1/spend", `{"spend":[{"date":"yesterday","source":"google","amount":1}]}`); code != 400 {
		t.Errorf("spend with a bad date: %d %v", code, r)
	}
	code, camp := api("GET", "/v1/analytics/campaigns", "")
	if code != 200 || camp["currency"] != "EUR" {
		t.Fatalf("campaigns: %d %v", code, camp)
	}
	var brand map[string]any
	for _, c := range camp["campaigns"].([]any) {
		if c := c.(map[string]any); c["key"] == "google / cpc / brand" {
			brand = c
		}
	}
	if brand == nil || brand["spend"].(float64) != 30 || brand["channel"] != "Paid Search" ||
		brand["conversions"].(map[string]any)["first_touch"].(float64) != 1 || brand["roas"].(map[string]any)["first_touch"].(float64) != 4 ||
		brand["cac"].(map[string]any)["first_touch"].(float64) != 30 {
		t.Errorf("the brand campaign: %v; want 30 EUR spent, the order first-touch credited, ROAS 4, CAC 30", brand)
	}
	// A platform's report through kenner import --as spend.
	dir := t.TempDir()
	csvFile, mapFile := filepath.Join(dir, "ads.csv"), filepath.Join(dir, "ads.yaml")
	os.WriteFile(csvFile, []byte("Day,Campaign name,Cost\n"+time.Now().UTC().AddDate(0, 0, -3).Format("02/01/2006")+",spring,\"1,250.50\"\nnot a day,spring,3\n"), 0o600)
	os.WriteFile(mapFile, []byte("columns:\n  Day: {target: date, format: DD/MM/YYYY}\n  Campaign name: campaign\n  Cost: amount\nconstants: {source: facebook, medium: paid_social, currency: EUR}\n"), 0o600)
	if code, out, errOut := runCLI(t, "import", csvFile, "--url", s.url, "--token", creds.AdminToken, "--as", "spend", "--map", mapFile); code != 0 || !strings.Contains(out, "recorded 1 rows, rejected 1") {
		t.Errorf("import --as spend: %d %q %q", code, out, errOut)
	}
	if code, sp := api("GET", "/v1/spend", ""); code != 200 || !strings.Contains(fmt.Sprint(sp), "1250.5") {
		t.Errorf("spend after the import: %d %v", code, sp)
	}
	// The contract's shape: a bare array of rows with the amount as "cost".
	if code, r := api("POST", "/v1/spend", fmt.Sprintf(`[{"date":%q,"source":"bing","medium":"cpc","cost":5,"currency":"GBP"}]`, day(1)[:10])); code != 200 {
		t.Fatalf("spend as rows with cost: %d %v", code, r)
	}
	if code, e := api("GET", "/v1/analytics/campaigns", ""); code != 400 || !strings.Contains(fmt.Sprint(e), "GBP") {
		t.Errorf("spend in a currency without a rate: %d %v", code, e)
	}

	code, f := api("GET", "/v1/analytics/funnels?step=$page&step=Product%20Added&step=Order%20Completed&window=14d", "")
	if code != 200 {
		t.Fatalf("funnel: %d %v", code, f)
	}
	steps := f["results"].([]any)[0].(map[string]any)["steps"].([]any)
	if people := []float64{steps[0].(map[string]any)["people"].(float64), steps[1].(map[string]any)["people"].(float64), steps[2].(map[string]any)["people"].(float64)}; people[0] != 2 || people[1] != 2 || people[2] != 1 {
		t.Errorf("funnel people %v, want 2, 2, 1", people)
	}
	// Broken down by a segment: Ann (who came from the ad) against the others.
	code, seg := api("POST", "/v1/segments", `{"name":"From ads","condition":"traits.first_touch.channel == 'Paid Search'"}`)
	if code != 201 {
		t.Fatalf("segment: %d %v", code, seg)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		code, f := api("GET", "/v1/analytics/funnels?step=$page&step=Order%20Completed&window=14d&breakdown=segment&segment="+seg["id"].(string), "")
		if code != 200 {
			t.Fatalf("funnel by segment: %d %v", code, f)
		}
		got := map[string]float64{}
		for _, r := range f["results"].([]any) {
			r := r.(map[string]any)
			got[r["breakdown"].(string)] = r["converted"].(float64)
		}
		if got["From ads"] == 1 && got["not in From ads"] == 0 && len(got) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("funnel by segment: %v", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, e := api("GET", "/v1/analytics/trends?breakdown=segment", ""); code != 400 {
		t.Errorf("a segment breakdown without a segment: %d %v", code, e)
	}
	// Broken down by an event property (read from the events' bodies).
	send(fmt.Sprintf(`{"batch":[
		{"type":"track","event":"Viewed Item","userId":"ann","timestamp":%q,"properties":{"category":"shoes"}},
		{"type":"track","event":"Viewed Item","userId":"ann","timestamp":%q,"properties":{"category":"shoes"}},
		{"type":"track","event":"Viewed Item","anonymousId":"bob","timestamp":%q,"properties":{"category":"hats"}},
		{"type":"track","event":"Viewed Item","anonymousId":"bob","timestamp":%q}]}`, day(4), day(4), day(2), day(2)))
	for deadline := time.Now().Add(20 * time.Second); ; {
		code, tr := api("GET", "/v1/analytics/trends?event=Viewed%20Item&breakdown=properties.category", "")
		if code != 200 {
			t.Fatalf("trend by a property: %d %v", code, tr)
		}
		got := map[string]float64{}
		for _, sr := range tr["series"].([]any) {
			sr := sr.(map[string]any)
			got[fmt.Sprint(sr["breakdown"])] = sr["total"].(float64)
		}
		if got["shoes"] == 2 && got["hats"] == 1 && got["(none)"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trend by properties.category: %v, want shoes 2, hats 1, (none) 1", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	code, pf := api("GET", "/v1/analytics/funnels?step=Viewed%20Item&step=Order%20Completed&window=14d&breakdown=properties.category", "")
	conv := map[string]float64{}
	for _, r := range pf["results"].([]any) {
		r := r.(map[string]any)
		conv[r["breakdown"].(string)] = r["converted"].(float64)
	}
	if code != 200 || conv["shoes"] != 1 || conv["hats"] != 0 {
		t.Errorf("funnel by the first step's property: %d %v", code, conv)
	}
	if code, e := api("GET", "/v1/analytics/trends?breakdown=properties.category", ""); code != 400 || !strings.Contains(fmt.Sprint(e), "name the event") {
		t.Errorf("a property breakdown of every event: %d %v", code, e)
	}
	// The revenue report: Ann's one order of 120, first touched by the ad.
	code, rv := api("GET", "/v1/analytics/revenue", "")
	cur, _ := rv["current"].(map[string]any)
	if code != 200 || cur["revenue"] != 120.0 || cur["orders"] != 1.0 || cur["customers"] != 1.0 || cur["average_order_value"] != 120.0 {
		t.Errorf("revenue: %d %v", code, rv)
	} else if ch := rv["by_channel"].([]any); len(ch) != 1 || ch[0].(map[string]any)["channel"] != "Paid Search" || ch[0].(map[string]any)["share"] != 1.0 {
		t.Errorf("revenue by first touch: %v", ch)
	}
	code, r := api("GET", "/v1/analytics/retention?start=$page&return=Order%20Completed&period=day&periods=7", "")
	if code != 200 || len(r["cohorts"].([]any)) == 0 {
		t.Errorf("retention: %d %v", code, r)
	}
	for _, bad := range []string{"/v1/analytics/trends?measure=median", "/v1/analytics/funnels?step=a", "/v1/analytics/trends?from=yesterday",
		"/v1/analytics/attribution?by=weather", "/v1/analytics/retention?period=year"} {
		if code, e := api("GET", bad, ""); code != 400 || e["error"] == nil {
			t.Errorf("%s: %d %v, want 400 with the reason", bad, code, e)
		}
	}
	// CSV.
	req, _ := http.NewRequest("GET", s.url+"/v1/analytics/attribution?format=csv&model=first_touch", nil)
	req.Header.Set("Authorization", "Bearer "+creds.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "model,key,conversions,revenue\nfirst_touch,Paid Search,1,120") {
		t.Errorf("CSV: %q", body)
	}

	// Freshness: an event sent now is in today's trend within seconds.
	sent := time.Now()
	send(`{"batch":[{"type":"track","event":"Signed Up","userId":"cy"}]}`)
	for {
		code, tr := api("GET", "/v1/analytics/trends?event=Signed%20Up&interval=day&from="+time.Now().UTC().Format("2006-01-02"), "")
		if code == 200 {
			if series := tr["series"].([]any); len(series) == 1 && series[0].(map[string]any)["total"].(float64) == 1 {
				t.Logf("an event reached analytics %v after it was sent", time.Since(sent).Round(time.Millisecond))
				break
			}
		}
		if time.Since(sent) > 10*time.Second {
			t.Fatalf("the event was not in the trend 10 s after it was sent: %d %v", code, tr)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A split shows within seconds, not at the ten-minute refresh: the laptop (with its
	// Facebook visit) is no longer Ann's, so her order's last touch is the ad again.
	if code, out := api("POST", "/v1/profiles/user_id:ann/split", `{"identifiers":[{"kind":"anonymous_id","value":"laptop"}]}`); code != 200 {
		t.Fatalf("split: %d %v", code, out)
	}
	split := time.Now()
	for {
		code, att := api("GET", "/v1/analytics/attribution?conversion=Order%20Completed&model=last_touch", "")
		if code == 200 {
			if last := att["models"].(map[string]any)["last_touch"].([]any); len(last) == 1 && last[0].(map[string]any)["key"] == "Paid Search" {
				t.Logf("a split reached analytics %v after it was made", time.Since(split).Round(time.Millisecond))
				break
			}
		}
		if time.Since(split) > 15*time.Second {
			t.Fatalf("the split was not in the attribution 15 s after: %d %v", code, att)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
