// Package egress is the policy for the connections Kenner makes on a user's behalf
// (destinations: webhooks, forwarders, S3 uploads, SMTP relays): the address is checked after
// name resolution, at the moment of connecting, so that neither a host name that resolves to
// an internal address nor a DNS answer that changes between a check and the connection
// (rebinding) reaches a service inside the network. Loopback, private, link-local (the cloud
// metadata services live there), unique-local, multicast and unspecified addresses are refused
// unless an operator allows a range explicitly (--destination-allow).
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/kenner-cdp/kenner"
)

// Policy decides which addresses destinations may connect to. The zero Policy refuses every
// internal address and allows the public internet.
type Policy struct {
	allow []netip.Prefix
}

// New returns a policy that also allows the given ranges ("127.0.0.0/8", "10.1.2.3", "fd00::/8").
func New(allow []string) (Policy, error) {
	var p Policy
	for _, s := range allow {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return p, kenner.Errorf(kenner.EInvalid, "destination allow-list: %q is neither a CIDR range nor an IP address", s)
			}
			p.allow = append(p.allow, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		pr, err := netip.ParsePrefix(s)
		if err != nil {
			return p, kenner.Errorf(kenner.EInvalid, "destination allow-list: %q is not a CIDR range", s)
		}
		p.allow = append(p.allow, pr.Masked())
	}
	return p, nil
}

// MustAllow is New for tests and literals that cannot be wrong.
func MustAllow(allow ...string) Policy {
	p, err := New(allow)
	if err != nil {
		panic(err)
	}
	return p
}

// ErrRefused is the error of a connection the policy refused.
var ErrRefused = errors.New("the destination's address is internal (loopback, private, link-local or metadata); an operator can allow it with --destination-allow")

// metadataHosts are names of cloud metadata services that are refused by name as well, before
// any resolution, because some resolve only inside their cloud.
var metadataHosts = map[string]bool{
	"metadata.google.internal": true, "metadata": true, "metadata.goog": true,
	"instance-data": true, "instance-data.ec2.internal": true,
}

// Allowed reports whether a connection to addr is allowed.
func (p Policy) Allowed(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, pr := range p.allow {
		if pr.Contains(addr) {
			return true
		}
	}
	return !internal(addr)
}

func internal(a netip.Addr) bool {
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || !a.IsValid() {
		return true
	}
	for _, pr := range reserved {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// reserved are ranges the standard predicates leave out but no destination lives in: "this
// network", carrier-grade NAT (cloud VPCs use it), benchmarking, and IPv6 translation and
// discard prefixes that can lead back into the private IPv4 space.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2002::/16"),
}

// CheckHost checks a destination's host when it is saved: a literal address must be allowed,
// a name must be a plain DNS name (numeric forms such as 0x7f000001 or 2130706433, which some
// resolvers read as addresses, are refused) and not a metadata service's. Names are checked
// again, resolved, on every connection.
func (p Policy) CheckHost(host string) error {
	h := strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if h == "" {
		return kenner.Errorf(kenner.EInvalid, "the host is empty")
	}
	if i := strings.IndexByte(h, '%'); i >= 0 { // zone of a link-local address
		h = h[:i]
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if !p.Allowed(a) {
			return kenner.Errorf(kenner.EInvalid, "%s: %v", host, ErrRefused)
		}
		return nil
	}
	if metadataHosts[h] || h == "localhost" || strings.HasSuffix(h, ".localhost") {
		if p.allowsLoopbackName() && (h == "localhost" || strings.HasSuffix(h, ".localhost")) {
			return nil
		}
		return kenner.Errorf(kenner.EInvalid, "%s: %v", host, ErrRefused)
	}
	if numericLooking(h) {
		return kenner.Errorf(kenner.EInvalid, "%q is neither a host name nor an IP address in standard form", host)
	}
	return nil
}

// allowsLoopbackName lets "localhost" through when the operator allowed loopback.
func (p Policy) allowsLoopbackName() bool {
	return p.Allowed(netip.MustParseAddr("127.0.0.1"))
}

// numericLooking reports a name made only of digits, hex and dots whose last label is not
// alphabetic: inet_aton's forms (0x7f.1, 017700000001, 2130706433).
func numericLooking(h string) bool {
	labels := strings.Split(h, ".")
	last := labels[len(labels)-1]
	if last == "" {
		return false
	}
	if strings.HasPrefix(last, "0x") {
		return true
	}
	for _, r := range last {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// CheckURL checks an http(s) URL's host with CheckHost.
func (p Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return kenner.Errorf(kenner.EInvalid, "%q is not an absolute URL", raw)
	}
	return p.CheckHost(u.Hostname())
}

// control refuses a connection whose resolved address the policy does not allow. It runs
// after resolution and before connect, for every address tried.
func (p Policy) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return ErrRefused
	}
	if !p.Allowed(ap.Addr()) {
		return ErrRefused
	}
	return nil
}

// Dialer returns a dialer that connects only where the policy allows.
func (p Policy) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: p.control}
}

// HTTPClient returns a client for destinations: connections checked by the policy, no
// proxy from the environment, and no redirects followed (a 3xx is the receiver's answer;
// following it would turn a POST into a GET somewhere else with the destination's headers).
func (p Policy) HTTPClient(timeout time.Duration, idlePerHost int) *http.Client {
	tr := &http.Transport{
		DialContext:           p.Dialer(10 * time.Second).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   max(idlePerHost, 2),
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Generic turns a connection error into one that says what kind of failure it was, not what
// the network looked like: refused, reset and unreachable all read the same, so a destination
// cannot be used to scan which internal ports are open.
func Generic(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrRefused) {
		return ErrRefused
	}
	if errors.Is(err, context.Canceled) {
		return context.Canceled
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return errTimeout
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return fmt.Errorf("the destination's host name does not resolve")
	}
	return errConnect
}

var (
	errTimeout = errors.New("the receiver did not answer in time")
	errConnect = errors.New("could not connect to the receiver")
)
