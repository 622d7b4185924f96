package jsonobj

import "testing"

// BenchmarkParse splits a track call as ingestion receives it.
func BenchmarkParse(b *testing.B) {
	msg := []byte(`{"type":"track","event":"Order Completed","messageId":"m-123","anonymousId":"a-1","userId":"u-1","timestamp":"2026-01-01T00:00:00Z","properties":{"total":42.5,"currency":"EUR","products":[{"id":"p1","price":10},{"id":"p2","price":32.5}]},"context":{"userAgent":"Mozilla/5.0","ip":"203.0.113.7","page":{"path":"/checkout"}}}`)
	for b.Loop() {
		if _, err := Parse(msg); err != nil {
			b.Fatal(err)
		}
	}
}
