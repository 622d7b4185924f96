package ingest_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kenner-cdp/kenner/ingest"
	"github.com/prometheus/client_golang/prometheus"
)

// FuzzTrackingAPI sends arbitrary bodies to every tracking endpoint: the answer must be 200 or
// a 4xx with a JSON error, never a panic or a 5xx. Seeds are real SDK payloads.
func FuzzTrackingAPI(f *testing.F) {
	paths := slices.Sorted(func(yield func(string) bool) {
		for p := range ingest.Endpoints {
			if !yield(p) {
				return
			}
		}
	})
	seeds, _ := filepath.Glob(filepath.Join("testdata", "payloads", "*.json"))
	for i, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	for i, s := range []string{`{"userId":"u","event":"e"}`, `{"batch":[{"type":"identify","userId":1}]}`, `{"userId":"u","timestamp":-1}`, `{}`, `null`} {
		f.Add(uint8(i), []byte(s))
	}
	l := openLog(f)
	h := ingest.New(l, sources{}, ingest.NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler), ingest.Config{})
	mux := http.NewServeMux()
	h.Register(mux)
	f.Fuzz(func(t *testing.T, pathIndex uint8, body []byte) {
		path := paths[int(pathIndex)%len(paths)]
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.SetBasicAuth(writeKey, "")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		switch {
		case rec.Code == 200:
		case rec.Code >= 400 && rec.Code < 500:
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s %q: %d without a JSON error: %s", path, body, rec.Code, rec.Body)
			}
		default:
			t.Fatalf("%s %q: status %d: %s", path, body, rec.Code, rec.Body)
		}
	})
}
