package detect

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/leakguard/leakguard/internal/identity"
)

func actor(ip, session, fp uint64) identity.Actor {
	var a identity.Actor
	a.Keys[identity.IP] = identity.Key{Kind: identity.IP, Hash: ip}
	a.Keys[identity.Net] = identity.Key{Kind: identity.Net, Hash: ip >> 8}
	if session != 0 {
		a.Keys[identity.Session] = identity.Key{Kind: identity.Session, Hash: session}
	}
	if fp != 0 {
		a.Keys[identity.Fingerprint] = identity.Key{Kind: identity.Fingerprint, Hash: fp}
	}
	return a
}

func TestSignalsMustAndMustNotTrip(t *testing.T) {
	d := New(Options{Allow: []netip.Prefix{netip.MustParsePrefix("198.51.100.20/32")}})
	browser := Traits{UA: UABrowser, Addr: netip.MustParseAddr("203.0.113.5")}
	// A person: page, asset, then records in the same session.
	p := actor(1, 77, 5)
	for _, k := range []Kind{Page, Asset} {
		tr := browser
		tr.Kind = k
		if s := d.Assess(&p, tr); s != 0 {
			t.Fatalf("page/asset load: signals %s", s)
		}
	}
	tr := browser
	tr.Kind = Record
	if s := d.Assess(&p, tr); s != 0 || p.Keys[identity.Crew].Hash != 0 {
		t.Fatalf("a person's record request: signals %s, crew %v", s, p.Keys[identity.Crew])
	}
	// A scraper with a browser UA and no session: sessionless, and in a crew.
	s1, s2 := actor(100, 0, 5), actor(200, 0, 5)
	if s := d.Assess(&s1, tr); s != Sessionless {
		t.Fatalf("sessionless record request: %s", s)
	}
	d.Assess(&s2, tr)
	if s1.Keys[identity.Crew].Hash == 0 || s1.Keys[identity.Crew] != s2.Keys[identity.Crew] {
		t.Fatalf("two addresses, one fingerprint, same behaviour: crews %v %v", s1.Keys[identity.Crew], s2.Keys[identity.Crew])
	}
	// A different fingerprint is a different crew.
	s3 := actor(300, 0, 6)
	d.Assess(&s3, tr)
	if s3.Keys[identity.Crew] == s1.Keys[identity.Crew] {
		t.Fatal("different fingerprints share a crew")
	}
	// A session that never loaded a page: no_assets.
	h := actor(400, 88, 5)
	if s := d.Assess(&h, tr); s != NoAssets || h.Keys[identity.Crew].Hash == 0 {
		t.Fatalf("session without page loads: %s", s)
	}
	// Pages alone never carry a crew key, whatever the UA.
	auto := Traits{UA: UAAutomation, Kind: Page}
	c := actor(500, 0, 9)
	if s := d.Assess(&c, auto); s != AutomationUA || c.Keys[identity.Crew].Hash != 0 {
		t.Fatalf("automation page load: %s crew %v", s, c.Keys[identity.Crew])
	}
	// Allowlisted address: exempt, and in no crew, though its client is
	// an automation one (a partner's integration; an outside red team's
	// log replay listed the partner in a python scraper's crew, and its
	// allowlisted clerks in an account crew's, 2026-12-06).
	pt := actor(600, 0, 7)
	if s := d.Assess(&pt, Traits{Kind: Record, UA: UAAutomation, Addr: netip.MustParseAddr("198.51.100.20")}); !s.Exempt() || pt.Keys[identity.Crew].Hash != 0 {
		t.Fatalf("allowlisted partner: %s crew %v", s, pt.Keys[identity.Crew])
	}
}

func TestAllowKeys(t *testing.T) {
	acct := identity.Key{Kind: identity.Account, Hash: 42}
	d := New(Options{AllowKeys: []identity.Key{acct}})
	a := actor(1, 0, 1)
	a.Keys[identity.Account] = acct
	if s := d.Assess(&a, Traits{Kind: Record}); !s.Exempt() {
		t.Fatalf("allowlisted account: %s", s)
	}
}

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		record       bool
		method, path string
		accept       string
		want         Kind
	}{
		{true, "GET", "/api/users/1", "application/json", Record},
		{false, "GET", "/items/1", "text/html,application/xhtml+xml", Page},
		{false, "GET", "/static/app.js", "*/*", Asset},
		{false, "GET", "/static/app.CSS", "*/*", Asset},
		{false, "GET", "/v1.2/users", "*/*", Other},
		{false, "POST", "/login", "text/html", Other},
		// a red team's churner: its script asked for as a page, and a
		// HEAD of the item's page for lineage (2026-12-03)
		{false, "GET", "/static/app.js", "text/html,application/xhtml+xml", Asset},
		{false, "HEAD", "/items/1", "text/html,application/xhtml+xml", Other},
	} {
		if got := KindOf(tc.record, tc.method, tc.path, tc.accept); got != tc.want {
			t.Errorf("KindOf(%v %s %s %q) = %d, want %d", tc.record, tc.method, tc.path, tc.accept, got, tc.want)
		}
	}
}

// A log has no Accept header: a page is a GET answered 2xx or 304 for a
// path a browser navigates to.
func TestKindOfLogged(t *testing.T) {
	for _, tc := range []struct {
		record       bool
		method, path string
		status       int
		want         Kind
	}{
		{true, "GET", "/api/users/1", 200, Record},
		{false, "GET", "/items/1", 200, Page},
		{false, "GET", "/items/1", 304, Page},
		{false, "GET", "/", 200, Page},
		{false, "GET", "/help/faq.html", 200, Page},
		{false, "GET", "/static/app.js", 200, Asset},
		// a 404 of the item's page is no page (a red team's churner, 2026-12-03)
		{false, "GET", "/items/999999", 404, Other},
		{false, "GET", "/items/1", 302, Other},
		{false, "HEAD", "/items/1", 200, Other},
		{false, "POST", "/login", 200, Other},
		// an API the record routes do not name, and data files
		{false, "GET", "/api/cart", 200, Other},
		{false, "GET", "/v2/API/items", 200, Other},
		{false, "GET", "/feed.json", 200, Other},
	} {
		if got := KindOfLogged(tc.record, tc.method, tc.path, tc.status); got != tc.want {
			t.Errorf("KindOfLogged(%v %s %s %d) = %d, want %d", tc.record, tc.method, tc.path, tc.status, got, tc.want)
		}
	}
}

type fakeDNS struct {
	ptr map[string][]string
	a   map[string][]string
}

func (f fakeDNS) LookupAddr(_ context.Context, addr string) ([]string, error) {
	if n, ok := f.ptr[addr]; ok {
		return n, nil
	}
	return nil, errors.New("nxdomain")
}

func (f fakeDNS) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	var out []net.IPAddr
	for _, s := range f.a[host] {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	if out == nil {
		return nil, errors.New("nxdomain")
	}
	return out, nil
}

// Verified bots: reverse name under the engine's domain, and forward back.
func TestBotVerifier(t *testing.T) {
	dns := fakeDNS{
		ptr: map[string][]string{
			"66.249.66.1":  {"crawl-66-249-66-1.googlebot.com."},
			"203.0.113.9":  {"crawl-66-249-66-1.googlebot.com."}, // lies: forward does not match
			"203.0.113.10": {"googlebot.com.evil.example."},
			"157.55.39.1":  {"msnbot-157-55-39-1.search.msn.com."},
		},
		a: map[string][]string{
			"crawl-66-249-66-1.googlebot.com.":   {"66.249.66.1"},
			"msnbot-157-55-39-1.search.msn.com.": {"157.55.39.1"},
			"googlebot.com.evil.example.":        {"203.0.113.10"},
		},
	}
	v := NewBotVerifier(dns)
	for addr, want := range map[string]bool{"66.249.66.1": true, "157.55.39.1": true, "203.0.113.9": false, "203.0.113.10": false, "192.0.2.1": false} {
		if got := v.Verified(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Verified(%s) = %v, want %v", addr, got, want)
		}
	}
	d := New(Options{Verify: v})
	a := actor(1, 0, 99)
	if s := d.Assess(&a, Traits{Kind: Record, UA: UASearchBot, Addr: netip.MustParseAddr("66.249.66.1")}); s&VerifiedBot == 0 || !s.Exempt() {
		t.Errorf("real Googlebot: %s", s)
	}
	if s := d.Assess(&a, Traits{Kind: Record, UA: UASearchBot, Addr: netip.MustParseAddr("203.0.113.9")}); s&UnverifiedBot == 0 || s.Exempt() {
		t.Errorf("fake Googlebot: %s", s)
	}
}

// Past its capacity the detector forgets keys. It forgot them in the
// map's order, which Go randomises, so the same log replayed twice gave
// reports that differed in a few crews (issue 14's 1M-line bench log at
// the default max_actors). It forgets by hash now.
func TestForgettingIsTheSameEachRun(t *testing.T) {
	run := func() []uint64 {
		d := New(Options{Sessions: 64 * 16})
		for i := range 64 * 16 * 3 {
			d.loaded(mix(uint64(i)))
		}
		var kept []uint64
		for i := range 64 * 16 * 3 {
			if d.recordCall(mix(uint64(i))) {
				kept = append(kept, uint64(i))
			}
		}
		return kept
	}
	first := run()
	for range 5 {
		if again := run(); !slices.Equal(first, again) {
			t.Fatalf("two runs kept %d and %d different sessions", len(first), len(again))
		}
	}
}

// On an API that serves a website and the operator's app, the app's
// anonymous users call without a session or page loads: named by their
// User-Agent, they are not the sessionless or no_assets crew, and the
// website's swarm still is (api_clients would spare both).
func TestAppUserAgentsSpareTheAppNotTheWeb(t *testing.T) {
	d := New(Options{AppUserAgents: []string{"ShopApp/", "okhttp/"}})
	const browser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
	for _, tt := range []struct {
		name    string
		ua      string
		session uint64
		want    Signals
	}{
		{"the app, no session", "ShopApp/3.2 (iPhone; iOS 17.1)", 0, 0},
		{"the app's Android HTTP client, a session that loaded nothing", "okhttp/4.12.0", 0x5e55, 0},
		{"a browser, no session", browser, 0, Sessionless},
		{"a browser, a session that loaded nothing", browser, 0x5e56, NoAssets},
		{"an app's name further in", "Mozilla/5.0 ShopApp/3.2", 0, Sessionless},
	} {
		a := actor(0x0a000001, tt.session, 0xf1)
		s := d.Assess(&a, Traits{Kind: Record, UA: UAOther, At: epoch, IDLow: -1, App: d.App(tt.ua)})
		if got := s & (Sessionless | NoAssets); got != tt.want {
			t.Errorf("%s: signals %s, want %s", tt.name, got, tt.want)
		}
	}
}
