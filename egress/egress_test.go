package egress_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/kenner-cdp/kenner/egress"
)

func TestAllowed(t *testing.T) {
	def := egress.Policy{}
	loop := egress.MustAllow("127.0.0.0/8")
	for _, tc := range []struct {
		addr       string
		def, loops bool
	}{
		{"93.184.216.34", true, true},
		{"2606:2800:220:1::1", true, true},
		{"127.0.0.1", false, true},
		{"::1", false, false},
		{"10.1.2.3", false, false},
		{"172.16.0.1", false, false},
		{"192.168.1.1", false, false},
		{"169.254.169.254", false, false}, // cloud metadata
		{"fd00::1", false, false},
		{"fe80::1", false, false},
		{"100.100.100.200", false, false}, // carrier-grade NAT (Alibaba's metadata)
		{"0.0.0.0", false, false},
		{"::ffff:127.0.0.1", false, true}, // IPv4-mapped loopback
		{"::ffff:10.0.0.1", false, false},
		{"64:ff9b::a00:1", false, false}, // NAT64 of 10.0.0.1
		{"224.0.0.1", false, false},
	} {
		a := netip.MustParseAddr(tc.addr)
		if got := def.Allowed(a); got != tc.def {
			t.Errorf("default policy, %s: allowed %v, want %v", tc.addr, got, tc.def)
		}
		if got := loop.Allowed(a); got != tc.loops {
			t.Errorf("loopback allowed, %s: allowed %v, want %v", tc.addr, got, tc.loops)
		}
	}
}

func TestCheckHost(t *testing.T) {
	p := egress.Policy{}
	for _, h := range []string{"169.254.169.254", "10.0.0.1", "[fd00::1]", "metadata.google.internal", "METADATA.GOOGLE.INTERNAL.",
		"0x7f000001", "2130706433", "017700000001", "0x7f.1", "127.1", "localhost", "api.localhost", "[::ffff:127.0.0.1]"} {
		if err := p.CheckHost(strings.Trim(h, "[]")); err == nil {
			t.Errorf("CheckHost(%q) allowed an internal or numeric host", h)
		}
	}
	for _, h := range []string{"hooks.example.com", "93.184.216.34", "crm-1.example.co.uk", "x.y.z9a"} {
		if err := p.CheckHost(h); err != nil {
			t.Errorf("CheckHost(%q): %v", h, err)
		}
	}
	if err := egress.MustAllow("127.0.0.0/8").CheckHost("localhost"); err != nil {
		t.Errorf("localhost with loopback allowed: %v", err)
	}
}

// TestClientRefusesAtConnect: a name that resolves to loopback passes CheckHost (it is a
// name) but the connection is refused once resolved, with a generic error.
func TestClientRefusesAtConnect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	c := egress.Policy{}.HTTPClient(5*time.Second, 2)
	req, _ := http.NewRequestWithContext(context.Background(), "POST", url, nil)
	_, err := c.Do(req)
	if err == nil {
		t.Fatal("a request to loopback went through")
	}
	if got := egress.Generic(err); got != egress.ErrRefused {
		t.Errorf("error %v, want ErrRefused", got)
	}
	resp, err := egress.MustAllow("127.0.0.0/8", "::1").HTTPClient(5*time.Second, 2).Do(req)
	if err != nil {
		t.Fatalf("allowed: %v", err)
	}
	resp.Body.Close()
}

// TestNoRedirects: a 302 is the answer, not an instruction to POST (or GET) elsewhere with
// the destination's headers.
func TestNoRedirects(t *testing.T) {
	hit := make(chan string, 1)
	inner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit <- r.Header.Get("X-Secret") }))
	defer inner.Close()
	outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inner.URL, http.StatusFound)
	}))
	defer outer.Close()
	req, _ := http.NewRequest("POST", outer.URL, strings.NewReader("{}"))
	req.Header.Set("X-Secret", "s3cret")
	resp, err := egress.MustAllow("127.0.0.0/8").HTTPClient(5*time.Second, 2).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status %d, want the 302 itself", resp.StatusCode)
	}
	select {
	case <-hit:
		t.Error("the redirect was followed")
	default:
	}
}

// TestGenericErrors: a closed port and a port that answers read alike (no port scanning).
func TestGenericErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	addr := srv.URL
	srv.Close() // now nothing listens there
	_, err := egress.MustAllow("127.0.0.0/8").HTTPClient(5*time.Second, 2).Post(addr, "application/json", nil)
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	got := egress.Generic(err).Error()
	if strings.Contains(got, "refused") && strings.Contains(got, "connect:") || strings.Contains(got, "127.0.0.1") {
		t.Errorf("error %q tells what the network looks like", got)
	}
}
