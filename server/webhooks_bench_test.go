package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/kenner-cdp/kenner"
)

// BenchmarkWebhookShopify posts Shopify orders/create payloads (Shopify's sample order, each
// with its own order id), signed, to a webhook source with the shopify preset, over HTTP, from
// as many clients as GOMAXPROCS times 8. Each payload makes two events (identify and Order
// Completed), validated, standardized, encrypted and durably in the embedded log before the
// 200; the processor runs beside. events/s is what to compare with the tracking API.
//
//	go test ./server -run '^$' -bench WebhookShopify -benchtime 20000x
func BenchmarkWebhookShopify(b *testing.B) {
	s := newStack(b, withStandardization)
	admin := s.tokens[kenner.RoleAdmin]
	if code, out := s.do(b, "PUT", "/v1/sources/web/webhook", admin, `{"preset": "shopify", "verify": {"secret": "k"}}`); code != 200 {
		b.Fatalf("PUT: %d %v", code, out)
	}
	raw, err := os.ReadFile("../inbound/testdata/shopify_orders_create.json")
	if err != nil {
		b.Fatal(err)
	}
	var order map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&order); err != nil {
		b.Fatal(err)
	}
	url := s.url + "/v1/webhooks/" + s.sourceID(b, "web")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var n atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			o := map[string]any{}
			for k, v := range order {
				o[k] = v
			}
			o["id"] = 1_000_000_000 + i
			cust := map[string]any{}
			for k, v := range order["customer"].(map[string]any) {
				cust[k] = v
			}
			cust["id"], cust["email"] = 2_000_000_000+i%50_000, "buyer"+strconv.FormatInt(i%50_000, 10)+"@example.com"
			o["customer"] = cust
			body, _ := json.Marshal(o)
			req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
			req.Header = shopifySign("k", body)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payloads/s")
}
