package webhook

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation"
	"github.com/kenner-cdp/kenner/egress"
)

func TestSign(t *testing.T) {
	// Computed independently: python3 hmac.new(b"whsec", b"1700000000" + body, sha256).
	got := Sign("whsec", "1700000000", []byte(`{"type":"event"}`))
	if want := "4c51e5a100d9a4d08274e1411217e5adbe1e40671df20cc8f9f45c1e1a06db07"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestSendOutcomes(t *testing.T) {
	var status int
	var header http.Header
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header = r.Header.Clone()
		body, _ = io.ReadAll(r.Body)
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(status)
		w.Write([]byte("answer"))
	}))
	defer srv.Close()
	cfg, _ := json.Marshal(Config{URL: srv.URL, Secret: "k"})
	snd, err := Factory(egress.MustAllow("127.0.0.0/8"))(kenner.Destination{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	one := []activation.Message{{Key: "m1", Type: "event", Payload: json.RawMessage(`{"type":"event"}`), Attempt: 2}}
	tests := []struct {
		status     int
		ok, perm   bool
		retryAfter float64
	}{
		{200, true, false, 0}, {204, true, false, 0}, {500, false, false, 0}, {408, false, false, 0},
		{429, false, false, 7}, {400, false, true, 0}, {410, false, true, 0},
	}
	for _, tc := range tests {
		status = tc.status
		r := snd.Send(t.Context(), one)[0]
		if (r.Err == nil) != tc.ok || r.Permanent != tc.perm || r.RetryAfter.Seconds() != tc.retryAfter || r.Status != tc.status || (tc.status != 204 && (r.Response == "answer") != (tc.status/100 == 2 || tc.status/100 == 4)) {
			t.Errorf("status %d: result %+v", tc.status, r)
		}
	}
	if header.Get(HeaderIdempotencyKey) != "m1" || header.Get(HeaderAttempt) != "2" ||
		header.Get(HeaderSignature) != Sign("k", header.Get(HeaderTimestamp), body) {
		t.Errorf("headers %v for body %s", header, body)
	}

	status = 200
	two := append(one, activation.Message{Key: "m2", Type: "segment.entered", Payload: json.RawMessage(`{"type":"segment.entered"}`)})
	if rs := snd.Send(t.Context(), two); len(rs) != 2 || rs[0].Err != nil || rs[1].Err != nil {
		t.Fatalf("batch results %+v", rs)
	}
	var batch struct {
		Type  string
		Batch []map[string]any
	}
	if err := json.Unmarshal(body, &batch); err != nil || batch.Type != "batch" || len(batch.Batch) != 2 ||
		batch.Batch[1]["idempotency_key"] != "m2" || batch.Batch[1]["type"] != "segment.entered" {
		t.Errorf("batch body %s", body)
	}

	for _, bad := range []string{`{}`, `{"url":"/relative"}`, `{"url":"http://h","headers":{"Idempotency-Key":"x"}}`, `{"url":"http://h","timeout":"-1s"}`, `[1]`} {
		if _, err := Factory(egress.MustAllow("127.0.0.0/8"))(kenner.Destination{Config: json.RawMessage(bad)}); kenner.ErrorCode(err) != kenner.EInvalid {
			t.Errorf("config %s: err %v, want invalid", bad, err)
		}
	}
}
