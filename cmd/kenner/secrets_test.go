package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDestinationSecretsStaySecret: destination credentials (a webhook's signing secret and
// header token, an SMTP password, S3 keys) are write-only in the API and never in plain text
// in any file of the data directory; and every file there is private to Kenner's user, also
// in a directory an older version left open (0755, files 0644).
func TestDestinationSecretsStaySecret(t *testing.T) {
	data := t.TempDir()
	os.Chmod(data, 0o755)
	os.WriteFile(filepath.Join(data, "left-by-an-old-version"), []byte("x"), 0o644)
	s := startServer(t, data)
	creds := credentialsOf(t, data)
	api := adminAPI(t, s.url, creds.AdminToken)
	// A lookup of an unknown email names it as the caller sent it, never its sealed form.
	for _, ref := range []string{"email:Nobody@Example.com", "phone:+4915199999999"} {
		code, out := api("GET", "/v1/profiles/"+ref, "")
		msg := fmt.Sprint(out["error"].(map[string]any)["message"])
		if code != 404 || !strings.Contains(msg, ref) || strings.Contains(msg, "~") {
			t.Errorf("unknown %s: %d %q", ref, code, msg)
		}
	}
	secrets := []string{"whsec-7Hq2Zp0VbN", "hdr-token-Kx93mQ", "smtp-pass-Wy81rT", "s3-secret-Lp44eD"}
	for _, body := range []string{
		`{"name":"crm","type":"webhook","config":{"url":"http://127.0.0.1:9/hook","secret":"whsec-7Hq2Zp0VbN","headers":{"Authorization":"Bearer hdr-token-Kx93mQ"}}}`,
		`{"name":"mail","type":"email","config":{"host":"127.0.0.1","port":2525,"security":"none","username":"u","password":"smtp-pass-Wy81rT","from":"news@shop.example","subject":"Hi","text":"Hello"}}`,
		`{"name":"ads","type":"file","config":{"s3":{"endpoint":"http://127.0.0.1:9","bucket":"b","access_key_id":"AK","secret_access_key":"s3-secret-Lp44eD","path_style":true}}}`,
	} {
		code, out := api("POST", "/v1/destinations", body)
		if code != 201 {
			t.Fatalf("create: %d %v", code, out)
		}
		shown, _ := json.Marshal(out)
		for _, sec := range secrets {
			if bytes.Contains(shown, []byte(sec)) {
				t.Errorf("the API shows %q: %s", sec, shown)
			}
		}
		if !bytes.Contains(shown, []byte(`"(set)"`)) {
			t.Errorf("no (set) placeholder in %s", shown)
		}
		// Sending back what was shown keeps the secret; sending the placeholder for a
		// secret that was never set is refused.
		id := out["id"].(string)
		cfg, _ := json.Marshal(map[string]any{"config": out["config"]})
		if code, out := api("PUT", "/v1/destinations/"+id, string(cfg)); code != 200 {
			t.Errorf("put back as shown: %d %v", code, out)
		}
	}
	if code, _ := api("POST", "/v1/destinations", `{"name":"x","type":"webhook","config":{"url":"http://127.0.0.1:9/","secret":"(set)"}}`); code != 400 {
		t.Errorf("a new destination with the placeholder as its secret: %d, want 400", code)
	}
	_, list := api("GET", "/v1/destinations", "")
	shown, _ := json.Marshal(list)
	for _, sec := range secrets {
		if bytes.Contains(shown, []byte(sec)) {
			t.Errorf("the list shows %q", sec)
		}
	}

	filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, _ := d.Info()
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v: others can read it", path, info.Mode().Perm())
		}
		if d.IsDir() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		for _, sec := range secrets {
			if bytes.Contains(b, []byte(sec)) {
				t.Errorf("%q is in %s in plain text", sec, path)
			}
		}
		return nil
	})
}
