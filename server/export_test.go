package server_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/kenner-cdp/kenner"
	"github.com/kenner-cdp/kenner/activation/export"
	"github.com/kenner-cdp/kenner/internal/smtptest"
)

// TestAudienceFileExport writes a segment's entries and exits as CSV files of hashed,
// normalized identifiers, the shape ad platforms' customer-match uploads take.
func TestAudienceFileExport(t *testing.T) {
	st := newStack(t)
	admin := st.tokens[kenner.RoleAdmin]
	_, seg := st.do(t, "POST", "/v1/segments", admin, `{"name":"Pro","condition":"has(traits.plan) && traits.plan == \"pro\""}`)
	dir := t.TempDir()
	body := fmt.Sprintf(`{"name":"ads","type":"file","config":{"dir":%q},"batch_size":100,"subscribe":{"segments":[%q]}}`, dir, seg["id"])
	if code, d := st.do(t, "POST", "/v1/destinations", admin, body); code != 201 {
		t.Fatalf("create = %d %v", code, d)
	}
	if code, _ := st.do(t, "POST", "/v1/destinations", admin, `{"name":"rel","type":"file","config":{"dir":"../../escape"}}`); code != 400 {
		t.Errorf("relative dir = %d, want 400", code)
	}
	var rows [][]string
	readRows := func(n int) func() bool {
		return func() bool {
			rows = nil
			files, _ := filepath.Glob(filepath.Join(dir, "kenner-*.csv"))
			sort.Strings(files)
			for _, f := range files {
				b, _ := os.ReadFile(f)
				recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
				if err != nil || len(recs) == 0 {
					return false
				}
				rows = append(rows, recs[1:]...)
			}
			return len(rows) == n
		}
	}
	// One at a time: applied in one processing batch, the two calls would leave the
	// profile where it was, with no entry or exit at all.
	st.track(t, `{"batch":[{"type":"identify","userId":"amy","traits":{"plan":"pro","email":"  Amy@Example.COM "},"messageId":"x1"}]}`)
	waitFor(t, readRows(1))
	st.track(t, `{"batch":[{"type":"identify","userId":"amy","traits":{"plan":"free"},"messageId":"x2"}]}`)
	waitFor(t, readRows(2))
	want := export.Hash("amy@example.com")
	if rows[0][0] != "add" || rows[0][3] != "email" || rows[0][4] != want || rows[1][0] != "remove" || rows[1][4] != want {
		t.Errorf("rows %v, want add then remove of sha256(amy@example.com) = %s", rows, want)
	}
}

// TestAudienceFullExportToS3 uploads full exports (every current member) to S3-compatible
// storage: one on the schedule when the destination starts, one on request after the
// audience changed.
func TestAudienceFullExportToS3(t *testing.T) {
	st := newStack(t)
	admin := st.tokens[kenner.RoleAdmin]
	backend := s3mem.New()
	if err := backend.CreateBucket("audiences"); err != nil {
		t.Fatal(err)
	}
	var unsigned atomic.Int32
	s3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=test-key/") {
			unsigned.Add(1)
		}
		gofakes3.New(backend).Server().ServeHTTP(w, r)
	}))
	t.Cleanup(s3.Close)

	_, seg := st.do(t, "POST", "/v1/segments", admin, `{"name":"Pro","condition":"has(traits.plan) && traits.plan == \"pro\""}`)
	st.track(t, `{"batch":[
		{"type":"identify","userId":"amy","traits":{"plan":"pro","email":"Amy@Example.com","phone":"+44 20 7946 0958"},"messageId":"f1"},
		{"type":"identify","userId":"bob","traits":{"plan":"pro","email":"bob@example.com"},"messageId":"f2"},
		{"type":"identify","userId":"cat","traits":{"plan":"free","email":"cat@example.com"},"messageId":"f3"}]}`)
	waitFor(t, func() bool {
		_, s := st.do(t, "GET", "/v1/segments/"+seg["id"].(string), admin, "")
		return s["members"] == 2.0
	})

	cfg := fmt.Sprintf(`{"format":"ndjson","full_every":"24h","incremental":false,"s3":{"endpoint":%q,"bucket":"audiences","prefix":"kenner/","path_style":true,"access_key_id":"test-key","secret_access_key":"test-secret"}}`, s3.URL)
	code, d := st.do(t, "POST", "/v1/destinations", admin, fmt.Sprintf(`{"name":"ads","type":"file","config":%s,"subscribe":{"segments":[%q]}}`, cfg, seg["id"]))
	if code != 201 {
		t.Fatalf("create = %d %v", code, d)
	}
	for _, bad := range []string{
		`{"s3":{"endpoint":"ftp://x"}}`, `{"s3":{"bucket":"b","endpoint":"http://x/path"}}`,
		`{"s3":{"bucket":"b","access_key_id":"only"}}`, `{"dir":"/tmp/x","full_every":"soon"}`, `{"format":"xml","dir":"/tmp/x"}`,
	} {
		if code, _ := st.do(t, "POST", "/v1/destinations", admin, `{"name":"bad","type":"file","config":`+bad+`}`); code != 400 {
			t.Errorf("config %s = %d, want 400", bad, code)
		}
	}

	objects := func() map[string][]export.Row {
		out := map[string][]export.Row{}
		list, err := backend.ListBucket("audiences", &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range list.Contents {
			obj, err := backend.GetObject("audiences", c.Key, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(obj.Contents)
			obj.Contents.Close()
			var rows []export.Row
			for line := range strings.Lines(string(b)) {
				var r export.Row
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					t.Fatalf("%s: %v", c.Key, err)
				}
				rows = append(rows, r)
			}
			out[c.Key] = rows
		}
		return out
	}
	members := func(rows []export.Row) []string {
		var out []string
		for _, r := range rows {
			if r.Action != "member" || r.SegmentID != seg["id"] {
				t.Errorf("row %+v: want a member of %s", r, seg["id"])
			}
			out = append(out, r.Kind+":"+r.Value)
		}
		sort.Strings(out)
		return out
	}
	hashed := func(ids ...string) []string {
		var out []string
		for _, id := range ids {
			kind, v, _ := strings.Cut(id, ":")
			out = append(out, kind+":"+export.Hash(v))
		}
		sort.Strings(out)
		return out
	}

	waitFor(t, func() bool { return len(objects()) == 1 })
	for key, rows := range objects() {
		if !strings.HasPrefix(key, "kenner/kenner-full-"+seg["id"].(string)+"-") || !strings.HasSuffix(key, ".ndjson") {
			t.Errorf("object %q: want kenner/kenner-full-<segment>-<time>.ndjson", key)
		}
		if got, want := members(rows), hashed("email:amy@example.com", "phone:+442079460958", "email:bob@example.com"); !slices.Equal(got, want) {
			t.Errorf("scheduled export %v, want %v", got, want)
		}
	}

	// Bob leaves and Cat joins; an export on request shows the audience as it is now.
	st.track(t, `{"batch":[{"type":"identify","userId":"bob","traits":{"plan":"free"},"messageId":"f4"},
		{"type":"identify","userId":"cat","traits":{"plan":"pro"},"messageId":"f5"}]}`)
	waitFor(t, func() bool {
		_, cat := st.do(t, "GET", "/v1/profiles/user_id:cat", admin, "")
		_, bob := st.do(t, "GET", "/v1/profiles/user_id:bob", admin, "")
		in, _ := cat["segments"].([]any)
		out, _ := bob["segments"].([]any)
		return len(in) == 1 && len(out) == 0
	})
	code, res := st.do(t, "POST", "/v1/destinations/"+d["id"].(string)+"/snapshot", admin, "")
	if code != 202 || res["key"] == nil {
		t.Fatalf("snapshot = %d %v", code, res)
	}
	waitFor(t, func() bool { return len(objects()) == 2 })
	var keys []string
	all := objects()
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if got, want := members(all[keys[1]]), hashed("email:amy@example.com", "phone:+442079460958", "email:cat@example.com"); !slices.Equal(got, want) {
		t.Errorf("requested export %v, want %v", got, want)
	}
	if n := unsigned.Load(); n > 0 {
		t.Errorf("%d requests to S3 were not signed with AWS signature v4", n)
	}
	// The upload comes before the delivery is marked delivered: wait for the mark.
	waitFor(t, func() bool {
		_, dl := st.do(t, "GET", "/v1/destinations/"+d["id"].(string)+"/deliveries?status=delivered", admin, "")
		full := 0
		for _, d := range dl["deliveries"].([]any) {
			if d.(map[string]any)["type"] == "audience.snapshot" {
				full++
			}
		}
		return full == 2
	})

	// A webhook has no full export.
	_, hook := st.do(t, "POST", "/v1/destinations", admin, `{"name":"hook","type":"webhook","config":{"url":"http://127.0.0.1:1/x"}}`)
	if code, _ := st.do(t, "POST", "/v1/destinations/"+hook["id"].(string)+"/snapshot", admin, ""); code != 400 {
		t.Errorf("webhook snapshot = %d, want 400", code)
	}
}

// TestEmailDestination mails people as they enter a segment, through a real SMTP server that
// first answers 451: the retry arrives with the same Message-ID.
func TestEmailDestination(t *testing.T) {
	st := newStack(t)
	admin := st.tokens[kenner.RoleAdmin]
	smtp := smtptest.Start(t, smtptest.Options{})
	host, port, _ := net.SplitHostPort(smtp.Addr)
	_, seg := st.do(t, "POST", "/v1/segments", admin, `{"name":"Trial","condition":"has(traits.plan) && traits.plan == \"trial\""}`)
	body := fmt.Sprintf(`{"name":"welcome","type":"email","subscribe":{"segments":[%q]},
		"config":{"host":%q,"port":%s,"security":"none","from":"Shop <news@shop.example>",
		"subject":"Welcome, {{default \"friend\" .profile.traits.name}}","text":"Your trial of {{.segment.name}} started."}}`, seg["id"], host, port)
	if code, d := st.do(t, "POST", "/v1/destinations", admin, body); code != 201 {
		t.Fatalf("create = %d %v", code, d)
	}
	smtp.Fail("ann@example.com", 451)
	st.track(t, `{"batch":[{"type":"identify","userId":"ann","traits":{"plan":"trial","name":"Ann","email":"Ann@Example.com"},"messageId":"e1"}]}`)
	waitFor(t, func() bool { return len(smtp.Mails()) == 1 })
	m := smtp.Mails()[0]
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if m.To[0] != "ann@example.com" || msg.Header.Get("Subject") != "Welcome, Ann" || strings.TrimSpace(string(text)) != "Your trial of Trial started." {
		t.Errorf("mail to %v, subject %q, text %q", m.To, msg.Header.Get("Subject"), text)
	}
	if !strings.HasPrefix(msg.Header.Get("Message-Id"), "<chg_") {
		t.Errorf("Message-ID %q: want one made from the idempotency key", msg.Header.Get("Message-Id"))
	}
}
