package ingest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kenner-cdp/kenner/jsonobj"
)

var received = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// fields decodes the top-level string fields of an encoded message for comparison.
func fields(t *testing.T, body []byte, names ...string) map[string]string {
	t.Helper()
	m, err := jsonobj.Parse(body)
	if err != nil {
		t.Fatalf("output is not an object: %s", body)
	}
	out := map[string]string{}
	for _, n := range names {
		if v := m.Get(n); v != nil {
			if s, ok := jsonobj.String(v); ok {
				out[n] = s
			} else {
				out[n] = string(v)
			}
		}
	}
	return out
}

func TestParseMessage(t *testing.T) {
	tests := []struct {
		name     string
		pathType string
		in       string
		want     map[string]string // selected output fields
		wantErr  string
	}{
		{
			name: "track keeps message id and drops write key", pathType: "track",
			in:   `{"userId":"u1","event":"Signed Up","messageId":"m1","writeKey":"secret","timestamp":"2026-11-24T11:00:00Z"}`,
			want: map[string]string{"type": "track", "userId": "u1", "messageId": "m1", "timestamp": "2026-11-24T11:00:00.000Z", "originalTimestamp": "2026-11-24T11:00:00.000Z", "receivedAt": "2026-11-24T12:00:00.000Z"},
		},
		{
			name: "clock skew is corrected from sentAt", pathType: "page",
			in:   `{"anonymousId":"a","originalTimestamp":"2026-11-24T13:59:58Z","sentAt":"2026-11-24T14:00:00Z"}`,
			want: map[string]string{"timestamp": "2026-11-24T11:59:58.000Z", "originalTimestamp": "2026-11-24T13:59:58.000Z"},
		},
		{
			name: "no time at all means receivedAt", pathType: "identify",
			in:   `{"userId":"u"}`,
			want: map[string]string{"timestamp": "2026-11-24T12:00:00.000Z", "type": "identify"},
		},
		{
			name: "epoch milliseconds", pathType: "identify",
			in:   `{"userId":"u","timestamp":1795000000000}`,
			want: map[string]string{"timestamp": "2026-11-18T11:06:40.000Z"},
		},
		{
			// A client clock in 2099 would pin the event's traits and last_seen for ever.
			name: "a time far in the future is clamped to receipt", pathType: "identify",
			in: `{"userId":"u","timestamp":"2099-01-01T00:00:00Z"}`,
			want: map[string]string{"timestamp": "2026-11-24T12:00:00.000Z", "originalTimestamp": "2099-01-01T00:00:00.000Z",
				"context": `{"ip":"198.51.100.1","clampedTimestamp":"2099-01-01T00:00:00.000Z"}`},
		},
		{
			name: "a clock a little ahead is kept", pathType: "identify",
			in:   `{"userId":"u","timestamp":"2026-11-24T12:30:00Z"}`,
			want: map[string]string{"timestamp": "2026-11-24T12:30:00.000Z", "context": `{"ip":"198.51.100.1"}`},
		},
		{
			name: "skew correction that lands in the future is clamped too", pathType: "page",
			in:   `{"anonymousId":"a","originalTimestamp":"2030-01-01T00:00:00Z","sentAt":"2026-11-24T12:00:00Z"}`,
			want: map[string]string{"timestamp": "2026-11-24T12:00:00.000Z"},
		},
		{
			name: "numeric user id becomes a string", pathType: "identify",
			in:   `{"userId":42}`,
			want: map[string]string{"userId": "42"},
		},
		{
			name: "batch type is read from the message", pathType: "",
			in:   `{"type":"Alias","userId":"u","previousId":"a"}`,
			want: map[string]string{"type": "alias", "previousId": "a"},
		},
		{name: "missing ids", pathType: "track", in: `{"event":"x"}`, wantErr: "userId or anonymousId is required"},
		{name: "blank ids", pathType: "track", in: `{"event":"x","userId":"  ","anonymousId":""}`, wantErr: "userId or anonymousId is required"},
		{name: "unknown type", pathType: "", in: `{"type":"purchase","userId":"u"}`, wantErr: `unknown type "purchase"`},
		{name: "batch without type", pathType: "", in: `{"userId":"u"}`, wantErr: "type is required"},
		{name: "track without event", pathType: "track", in: `{"userId":"u"}`, wantErr: "event is required"},
		{name: "alias without previousId", pathType: "alias", in: `{"userId":"u"}`, wantErr: "previousId is required"},
		{name: "group without groupId", pathType: "group", in: `{"userId":"u"}`, wantErr: "groupId is required"},
		{name: "properties must be an object", pathType: "track", in: `{"userId":"u","event":"e","properties":[1]}`, wantErr: "properties must be an object"},
		{name: "user id of the wrong type", pathType: "track", in: `{"userId":{"a":1},"event":"e"}`, wantErr: "userId must be a string or a number"},
		{name: "bad timestamp", pathType: "identify", in: `{"userId":"u","timestamp":"yesterday"}`, wantErr: "timestamp:"},
		{name: "not an object", pathType: "identify", in: `[1,2]`, wantErr: "not a JSON object"},
		{name: "too large", pathType: "identify", in: `{"userId":"u","traits":{"x":"` + strings.Repeat("a", MaxEventBytes) + `"}}`, wantErr: "32 KB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := parseMessage([]byte(tc.in), tc.pathType, &requestInfo{ip: "198.51.100.1", receivedAt: received}, &uaCache{}, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for k := range tc.want {
				names = append(names, k)
			}
			if diff := cmp.Diff(tc.want, fields(t, msg.body, names...)); diff != "" {
				t.Errorf("output (-want +got):\n%s\n%s", diff, msg.body)
			}
			if strings.Contains(string(msg.body), "writeKey") {
				t.Errorf("write key leaked into the message: %s", msg.body)
			}
			if m, _ := jsonobj.Parse(msg.body); m.Get("messageId") == nil {
				t.Errorf("no messageId generated: %s", msg.body)
			}
		})
	}
}

func TestEnrichContext(t *testing.T) {
	in := `{"anonymousId":"a","context":{"userAgent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",` +
		`"page":{"url":"https://x.example/p?utm_source=news&utm_medium=email&utm_campaign=spring#top"}}}`
	msg, err := parseMessage([]byte(in), "page", &requestInfo{ip: "198.51.100.1", receivedAt: received}, &uaCache{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := jsonobj.Parse(msg.body)
	ctx, _ := jsonobj.Parse(m.Get("context"))
	got := map[string]string{}
	for _, k := range []string{"ip", "campaign", "os", "device", "browser"} {
		got[k] = string(ctx.Get(k))
	}
	want := map[string]string{
		"ip":       `"198.51.100.1"`,
		"campaign": `{"name":"spring","source":"news","medium":"email"}`,
		"os":       `{"name":"iOS","version":"17.0"}`,
		"device":   `{"type":"mobile"}`,
		"browser":  `{"name":"Safari","version":"17.0"}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("context (-want +got):\n%s", diff)
	}

	// What the client sent wins over what the server would derive.
	in = `{"anonymousId":"a","context":{"ip":"203.0.113.9","campaign":{"name":"mine"},"page":{"url":"https://x/?utm_campaign=other"}}}`
	msg, err = parseMessage([]byte(in), "page", &requestInfo{ip: "198.51.100.1", receivedAt: received}, &uaCache{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _ = jsonobj.Parse(msg.body)
	ctx, _ = jsonobj.Parse(m.Get("context"))
	if ip, _ := ctx.GetString("ip"); ip != "203.0.113.9" {
		t.Errorf("client ip overwritten: %s", ip)
	}
	if c := string(ctx.Get("campaign")); c != `{"name":"mine"}` {
		t.Errorf("client campaign overwritten: %s", c)
	}
}
