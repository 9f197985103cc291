package identity

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/keyed"
)

func resolver(opt Options) *Resolver {
	return NewResolver(opt, keyed.New([]byte("identity-test-secret")))
}

func req(remote string, hdr ...string) *http.Request {
	r := httptest.NewRequest("GET", "/api/users/1", nil)
	r.RemoteAddr = remote
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

func TestClientAddr(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		r       *http.Request
		want    string
	}{
		{"direct client", nil, req("203.0.113.5:4000"), "203.0.113.5"},
		{"XFF from an untrusted peer is ignored", nil, req("203.0.113.5:4000", "X-Forwarded-For", "1.2.3.4"), "203.0.113.5"},
		{"XFF via trusted LB", lb, req("10.1.1.1:80", "X-Forwarded-For", "198.51.100.7"), "198.51.100.7"},
		{"spoofed left entries are ignored", lb, req("10.1.1.1:80", "X-Forwarded-For", "6.6.6.6, 198.51.100.7"), "198.51.100.7"},
		{"chain of trusted proxies", lb, req("127.0.0.1:80", "X-Forwarded-For", "198.51.100.7, 10.2.2.2"), "198.51.100.7"},
		{"several XFF headers", lb, req("10.1.1.1:80", "X-Forwarded-For", "6.6.6.6", "X-Forwarded-For", "198.51.100.8"), "198.51.100.8"},
		{"garbage stops the chain", lb, req("10.1.1.1:80", "X-Forwarded-For", "198.51.100.7, junk"), "10.1.1.1"},
		{"trusted peer without XFF", lb, req("10.1.1.1:80"), "10.1.1.1"},
		{"ipv6 peer", nil, req("[2001:db8::1]:443"), "2001:db8::1"},
		{"v4-mapped v6 is v4", nil, req("[::ffff:203.0.113.9]:1"), "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := resolver(Options{TrustedProxies: tt.trusted}).ClientAddr(tt.r)
			if !ok || got.String() != tt.want {
				t.Errorf("ClientAddr = %v, %v; want %s", got, ok, tt.want)
			}
		})
	}
}

// An access log's request is read as the proxy reads it live: behind a
// load balancer nginx's default format logs $remote_addr (the balancer)
// and "$http_x_forwarded_for". analyze took $remote_addr alone, and 500
// reads of ten clients behind 10.0.0.5 were one address, the balancer's;
// a format with only $http_x_forwarded_for took its left-most entry,
// whatever the client sent (a helper's probe, 2026-12-05).
func TestLineAddr(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tt := range []struct {
		name        string
		trusted     []netip.Prefix
		remote, xff string
		want        string // "" for malformed
	}{
		{"remote only", nil, "203.0.113.5", "", "203.0.113.5"},
		{"remote with a port", nil, "203.0.113.5:4000", "", "203.0.113.5"},
		{"XFF from an untrusted remote is ignored", nil, "203.0.113.5", "1.2.3.4", "203.0.113.5"},
		{"XFF via a trusted balancer", lb, "10.0.0.5", "198.51.100.7", "198.51.100.7"},
		{"spoofed left entries are ignored", lb, "10.0.0.5", "6.6.6.6, 198.51.100.7", "198.51.100.7"},
		{"a chain of trusted proxies", lb, "10.0.0.5", "198.51.100.7, 10.2.2.2", "198.51.100.7"},
		{"garbage stops the chain", lb, "10.0.0.5", "198.51.100.7, junk", "10.0.0.5"},
		{"no remote: the right-most hop, not the client's claim", nil, "", "6.6.6.6, 198.51.100.7", "198.51.100.7"},
		{"no remote, a trusted hop", lb, "", "6.6.6.6, 198.51.100.7, 10.2.2.2", "198.51.100.7"},
		{"no remote, one hop", nil, "", "198.51.100.7", "198.51.100.7"},
		{"no remote, garbage", nil, "", "junk", ""},
		{"neither", nil, "", "", ""},
		{"a malformed remote is not passed over for XFF", lb, "junk", "198.51.100.7", ""},
		{"a v4-mapped trusted remote", lb, "::ffff:10.0.0.5", "198.51.100.7", "198.51.100.7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := resolver(Options{TrustedProxies: tt.trusted}).LineAddr(tt.remote, tt.xff)
			if tt.want == "" {
				if ok {
					t.Errorf("LineAddr = %v, want malformed", got)
				}
				return
			}
			if !ok || got.String() != tt.want {
				t.Errorf("LineAddr = %v, %v; want %s", got, ok, tt.want)
			}
		})
	}
}

// LineAddr reads what an access log says of a client, which the client
// partly wrote (X-Forwarded-For): never a panic, and an address when it
// says yes.
func FuzzLineAddr(f *testing.F) {
	f.Add("10.0.0.5", "6.6.6.6, 198.51.100.7")
	f.Add("", "198.51.100.7, 10.2.2.2")
	f.Add("", ",,,")
	f.Add("[2001:db8::1]:443", "[2001:db8::2]:1, junk")
	f.Add("::ffff:10.0.0.5", "")
	r := resolver(Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}})
	f.Fuzz(func(t *testing.T, remote, xff string) {
		if a, ok := r.LineAddr(remote, xff); ok && !a.IsValid() {
			t.Fatalf("LineAddr(%q, %q) = %v, true", remote, xff, a)
		}
	})
}

// Regression: a client behind no proxy must not pick its identity (and so
// escape its budget, or frame another address) by sending X-Forwarded-For.
func TestXFFSpoofFromUntrustedPeerDoesNotChangeIPKey(t *testing.T) {
	r := resolver(Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	a := r.Identify(req("203.0.113.5:1", "X-Forwarded-For", "1.1.1.1"))
	b := r.Identify(req("203.0.113.5:2", "X-Forwarded-For", "2.2.2.2"))
	if a.Keys[IP] != b.Keys[IP] || a.Keys[Net] != b.Keys[Net] {
		t.Fatal("X-Forwarded-For from an untrusted peer changed the actor's keys")
	}
}

func TestNetKey(t *testing.T) {
	r := resolver(Options{})
	a := r.Identify(req("203.0.113.5:1"))
	b := r.Identify(req("203.0.113.200:1"))
	c := r.Identify(req("203.0.114.5:1"))
	if a.Keys[Net] != b.Keys[Net] {
		t.Error("same /24, different net keys")
	}
	if a.Keys[Net] == c.Keys[Net] || a.Keys[IP] == b.Keys[IP] {
		t.Error("different /24 (or address) share a key")
	}
	v6a := r.Identify(req("[2001:db8:1:1::1]:1"))
	v6b := r.Identify(req("[2001:db8:1:ffff::2]:1"))
	v6c := r.Identify(req("[2001:db8:2::1]:1"))
	if v6a.Keys[Net] != v6b.Keys[Net] || v6a.Keys[Net] == v6c.Keys[Net] {
		t.Error("IPv6 /48 grouping wrong")
	}
	wide := resolver(Options{IPv4Prefix: 16}).Identify(req("203.0.114.5:1"))
	if wide.Keys[Net] == c.Keys[Net] {
		t.Error("prefix width not part of the net key")
	}
}

func unsignedJWT(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return "Bearer " + enc([]byte(`{"alg":"HS256"}`)) + "." + enc([]byte(payload)) + ".sig"
}

func TestAccountAndSession(t *testing.T) {
	tests := []struct {
		name   string
		src    Source
		r      *http.Request
		has    bool
		sameAs *http.Request
	}{
		{"header", Source{Header: "X-Account"}, req("1.1.1.1:1", "X-Account", "alice"), true, req("2.2.2.2:1", "X-Account", "alice")},
		{"header missing", Source{Header: "X-Account"}, req("1.1.1.1:1"), false, nil},
		{"cookie", Source{Cookie: "sid"}, req("1.1.1.1:1", "Cookie", "a=1; sid=s123"), true, req("1.1.1.1:1", "Cookie", "sid=s123")},
		{"jwt claim", Source{JWTClaim: "sub"}, req("1.1.1.1:1", "Authorization", unsignedJWT(`{"sub":"u42","exp":1}`)), true, req("1.1.1.1:1", "Authorization", unsignedJWT(`{"sub":"u42"}`))},
		{"jwt numeric claim", Source{JWTClaim: "uid"}, req("1.1.1.1:1", "Authorization", unsignedJWT(`{"uid":42}`)), true, nil},
		{"jwt garbage", Source{JWTClaim: "sub"}, req("1.1.1.1:1", "Authorization", "Bearer a.!!!.c"), false, nil},
		{"jwt object claim", Source{JWTClaim: "sub"}, req("1.1.1.1:1", "Authorization", unsignedJWT(`{"sub":{"x":1}}`)), false, nil},
		{"not bearer", Source{JWTClaim: "sub"}, req("1.1.1.1:1", "Authorization", "Basic abc"), false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := resolver(Options{Account: tt.src, Session: tt.src})
			a := r.Identify(tt.r)
			if a.Has(Account) != tt.has || a.Has(Session) != tt.has {
				t.Fatalf("has account = %v, want %v", a.Has(Account), tt.has)
			}
			if a.Keys[Account] == a.Keys[Session] && tt.has {
				t.Error("account and session keys of the same value collide")
			}
			if tt.sameAs != nil && r.Identify(tt.sameAs).Keys[Account] != a.Keys[Account] {
				t.Error("same account value, different keys")
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	r := resolver(Options{Session: Source{Header: "X-Session"}})
	chrome := []string{"User-Agent", "Mozilla/5.0 Chrome/120", "Accept", "text/html", "Accept-Language", "zh-CN", "Accept-Encoding", "gzip, br"}
	base := r.Identify(req("1.1.1.1:1", chrome...)).Keys[Fingerprint]
	// Same client: another address, a cookie, a referer, a session header: same fingerprint.
	same := r.Identify(req("9.9.9.9:1", append(chrome, "Cookie", "sid=1", "Referer", "http://x/", "X-Session", "abc", "If-None-Match", "x")...)).Keys[Fingerprint]
	if same != base {
		t.Error("per-request headers changed the fingerprint")
	}
	// Another client shape: different fingerprint.
	curl := r.Identify(req("1.1.1.1:1", "User-Agent", "curl/8.0", "Accept", "*/*")).Keys[Fingerprint]
	extra := r.Identify(req("1.1.1.1:1", append(chrome, "X-Requested-With", "python")...)).Keys[Fingerprint]
	if curl == base || extra == base {
		t.Error("different header shapes share a fingerprint")
	}
}

// nginx and Traefik drop the hop-by-hop headers from what they pass to the
// auth endpoint; the proxy saw them. A browser on HTTP/1.1 (Connection:
// keep-alive) had one fingerprint through the proxy and another through
// nginx's auth_request, its budgets and challenge pass split between the
// two (found by a probe, 2026-12-05).
func TestFingerprintSameThroughAnEdge(t *testing.T) {
	r := resolver(Options{})
	chrome := []string{"User-Agent", "Mozilla/5.0 Chrome/120", "Accept", "text/html", "Accept-Language", "en", "Upgrade-Insecure-Requests", "1"}
	edge := r.Identify(req("1.1.1.1:1", chrome...)).Keys[Fingerprint]
	direct := r.Identify(req("1.1.1.1:1", append(chrome, "Connection", "keep-alive", "Keep-Alive", "300", "Te", "trailers", "Upgrade", "h2c", "Expect", "100-continue")...)).Keys[Fingerprint]
	if direct != edge {
		t.Error("the hop-by-hop headers an edge drops changed the fingerprint")
	}
}

// A client that sends more than 32 header names (an edge that adds its
// own) has one fingerprint: the names kept used to be the first 32 of
// Go's map order, a different set on each request (a red team,
// 2026-12-02).
func TestFingerprintOfManyHeaderNamesIsStable(t *testing.T) {
	r := resolver(Options{})
	hdr := []string{"User-Agent", "Mozilla/5.0 Chrome/120", "Accept", "text/html"}
	for i := range 40 {
		hdr = append(hdr, fmt.Sprintf("X-Edge-%02d", i), "1")
	}
	want := r.Identify(req("1.1.1.1:1", hdr...)).Keys[Fingerprint]
	for range 50 {
		if got := r.Identify(req("1.1.1.1:1", hdr...)).Keys[Fingerprint]; got != want {
			t.Fatal("the same 42 header names gave two fingerprints")
		}
	}
}

func TestKeyStringRoundTrip(t *testing.T) {
	k := Key{Account, 0x9f2c0a1b33d4e5f6}
	got, err := ParseKey(k.String())
	if err != nil || got != k {
		t.Fatalf("ParseKey(%q) = %v, %v", k.String(), got, err)
	}
	for _, bad := range []string{"", "ip", "ip:zz", "dev:9f2c0a1b33d4e5f6", "ip:9f2c0a1b33d4e5f"} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func FuzzIdentify(f *testing.F) {
	f.Add("10.0.0.1:1", "1.2.3.4, 10.0.0.2", "Bearer a.eyJzdWIiOiJ4In0.c", "sid=1")
	f.Add("garbage", ",,,", "Bearer ...", ";;;")
	r := resolver(Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Account: Source{JWTClaim: "sub"}, Session: Source{Cookie: "sid"}})
	f.Fuzz(func(t *testing.T, remote, xff, auth, cookie string) {
		rq := req(remote, "X-Forwarded-For", xff, "Authorization", auth, "Cookie", cookie)
		a := r.Identify(rq)
		if a.Has(IP) != a.Has(Net) {
			t.Fatal("ip key without net key or the reverse")
		}
		got, ok := r.ClientAddr(rq)
		if want, wok := clientAddrBySplit(r, rq); got != want || ok != wok {
			t.Fatalf("ClientAddr = %v, %v; splitting the chain gives %v, %v", got, ok, want, wok)
		}
	})
}

// clientAddrBySplit is ClientAddr as first written, splitting each
// X-Forwarded-For at its commas: the hop-by-hop walk must agree with it.
func clientAddrBySplit(r *Resolver, req *http.Request) (netip.Addr, bool) {
	peer, ok := parseHostAddr(req.RemoteAddr)
	if !ok {
		return netip.Addr{}, false
	}
	if !r.trusted(peer) {
		return peer, true
	}
	xff := req.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		parts := strings.Split(xff[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, ok := parseHostAddr(strings.TrimSpace(parts[j]))
			if !ok {
				return peer, true
			}
			if !r.trusted(a) {
				return a, true
			}
			peer = a
		}
	}
	return peer, true
}

// A log line and a live request from one address get the same ip and net
// keys, so analyze's report matches the proxy's decision log.
func TestIdentifyLogMatchesLiveKeys(t *testing.T) {
	r := resolver(Options{})
	live := r.Identify(req("203.0.113.5:1234", "User-Agent", "x"))
	logged := r.IdentifyLog(netip.MustParseAddr("203.0.113.5"), []byte("x"))
	if live.Keys[IP] != logged.Keys[IP] || live.Keys[Net] != logged.Keys[Net] {
		t.Fatal("log and live keys differ for the same address")
	}
	if dash := r.IdentifyLog(netip.MustParseAddr("203.0.113.5"), []byte("-")); dash.Has(Fingerprint) {
		t.Error(`a "-" user agent gave a fingerprint`)
	}
}

// A script that copies a browser's headers shares its fingerprint, and so
// its crew, with every visitor of that browser build; the TLS fingerprint
// the edge passes splits them, and is believed only from the edge.
func TestTLSFingerprintSplitsAScriptFromTheBrowserItCopies(t *testing.T) {
	const header = "CloudFront-Viewer-JA4-Fingerprint"
	const chromeJA4, pythonJA4 = "t13d1516h2_8daaf6152771_02713d6af862", "t13d1012h2_1d37bd780c83_882d495ac381"
	edge := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	chrome := []string{"User-Agent", "Mozilla/5.0 Chrome/120", "Accept", "application/json", "Accept-Language", "zh-CN", "Accept-Encoding", "gzip"}
	with := func(hdr []string, ja4 string) []string { return append(append([]string(nil), hdr...), header, ja4) }
	r := resolver(Options{TrustedProxies: edge, TLSFingerprintHeader: "cloudfront-viewer-ja4-fingerprint"})
	fp := func(remote string, hdr []string) uint64 {
		return r.Identify(req(remote, hdr...)).Keys[Fingerprint].Hash
	}
	tests := []struct {
		name string
		a, b uint64
		same bool
	}{
		{"two Chromes through the edge", fp("10.1.1.1:1", with(chrome, chromeJA4)), fp("10.2.2.2:1", with(chrome, chromeJA4)), true},
		{"Chrome and a script with its headers, through the edge", fp("10.1.1.1:1", with(chrome, chromeJA4)), fp("10.1.1.1:1", with(chrome, pythonJA4)), false},
		{"a client claiming a JA4 itself, not through the edge", fp("203.0.113.9:1", with(chrome, chromeJA4)), fp("203.0.113.9:1", with(chrome, pythonJA4)), true},
		{"a claim is no header at all", fp("203.0.113.9:1", with(chrome, chromeJA4)), fp("203.0.113.9:1", chrome), true},
		{"without the setting, the header shape only", resolver(Options{TrustedProxies: edge}).Identify(req("10.1.1.1:1", with(chrome, chromeJA4)...)).Keys[Fingerprint].Hash,
			resolver(Options{TrustedProxies: edge}).Identify(req("10.1.1.1:1", with(chrome, pythonJA4)...)).Keys[Fingerprint].Hash, true},
	}
	for _, tt := range tests {
		if got := tt.a == tt.b; got != tt.same {
			t.Errorf("%s: same fingerprint %v, want %v", tt.name, got, tt.same)
		}
	}
}

// Where the proxy terminates TLS itself, the connection's JA4 is the
// client's, unless the peer is a trusted proxy: then it is the proxy's own
// handshake, one for every client behind it, and only the header the
// edge passes (if named) says the client's.
func TestConnFingerprintIsTheClientsNotATrustedProxys(t *testing.T) {
	const header = "X-JA4"
	chromeJA4, pythonJA4, edgeJA4 := "t13d1516h2_8daaf6152771_02713d6af862", "t13d1012h2_1d37bd780c83_882d495ac381", "t13d1311h2_f57a46bbacb6_ab7e3b40a677"
	edge := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	chrome := []string{"User-Agent", "Mozilla/5.0 Chrome/120", "Accept", "application/json"}
	on := func(conn string, remote string, hdr ...string) *http.Request {
		r := req(remote, hdr...)
		return r.WithContext(WithConnFingerprint(r.Context(), &conn))
	}
	plain, withHeader := resolver(Options{TrustedProxies: edge}), resolver(Options{TrustedProxies: edge, TLSFingerprintHeader: header})
	tests := []struct {
		name   string
		r      *Resolver
		a, b   *http.Request
		same   bool
		tls    bool // a's actor holds a TLS fingerprint
		tlsOfB bool
	}{
		{"Chrome and a script with its headers, on their own connections", plain,
			on(chromeJA4, "203.0.113.9:1", chrome...), on(pythonJA4, "203.0.113.9:1", chrome...), false, true, true},
		{"two Chromes", plain, on(chromeJA4, "203.0.113.9:1", chrome...), on(chromeJA4, "198.51.100.7:1", chrome...), true, true, true},
		{"through an edge that re-encrypts: its handshake is no client's", plain,
			on(edgeJA4, "10.1.1.1:1", chrome...), req("10.1.1.1:1", chrome...), true, false, false},
		{"through an edge that passes the client's in its header", withHeader,
			on(edgeJA4, "10.1.1.1:1", append([]string{header, chromeJA4}, chrome...)...), on(edgeJA4, "10.1.1.1:1", append([]string{header, pythonJA4}, chrome...)...), false, true, true},
		{"a client's own header claim is not believed over its handshake", withHeader,
			on(pythonJA4, "203.0.113.9:1", append([]string{header, chromeJA4}, chrome...)...), on(pythonJA4, "203.0.113.9:1", chrome...), true, true, true},
	}
	for _, tt := range tests {
		a, b := tt.r.Identify(tt.a), tt.r.Identify(tt.b)
		if got := a.Keys[Fingerprint] == b.Keys[Fingerprint]; got != tt.same {
			t.Errorf("%s: same fingerprint %v, want %v", tt.name, got, tt.same)
		}
		if a.TLS != tt.tls || b.TLS != tt.tlsOfB {
			t.Errorf("%s: TLS fingerprint held %v and %v, want %v and %v", tt.name, a.TLS, b.TLS, tt.tls, tt.tlsOfB)
		}
	}
}

// A log that records the client's JA4 tells a script from the browser
// whose User-Agent it copies, as the live request through that edge
// would; a line without one is the User-Agent alone.
func TestIdentifyLineWithALoggedJA4(t *testing.T) {
	r := resolver(Options{})
	addr := netip.MustParseAddr("203.0.113.5")
	chrome, python := []byte("t13d1516h2_8daaf6152771_02713d6af862"), []byte("t13d1012h2_1d37bd780c83_882d495ac381")
	ua := []byte("Mozilla/5.0 Chrome/120")
	browser, script := r.IdentifyLine(addr, ua, chrome), r.IdentifyLine(addr, ua, python)
	if !browser.TLS || !script.TLS || browser.Keys[Fingerprint] == script.Keys[Fingerprint] {
		t.Errorf("one User-Agent, two JA4s: TLS %v/%v, same fingerprint %v", browser.TLS, script.TLS, browser.Keys[Fingerprint] == script.Keys[Fingerprint])
	}
	for _, none := range [][]byte{nil, []byte("-")} {
		if a := r.IdentifyLine(addr, ua, none); a.TLS || a != r.IdentifyLog(addr, ua) {
			t.Errorf("no JA4 (%q): %+v, want the User-Agent's alone", none, a)
		}
	}
	if a := r.IdentifyLine(addr, nil, chrome); !a.TLS || !a.Has(Fingerprint) {
		t.Errorf("a JA4 without a User-Agent: %+v", a)
	}
}

// An IPv6 host picks its addresses from a /64 of its own: a scraper that
// took a fresh one for every few calls was a fresh address each time, and
// took 47,559 records in a minute where one address was blocked at once
// (a red team, 2026-12-02). The ip key of an IPv6 address is its /64.
func TestIPv6AddressKeyIsItsSlash64(t *testing.T) {
	r := resolver(Options{})
	key := func(remote string) Actor { return r.Identify(req(remote)) }
	a, b := key("[2001:db8:aa:1::1]:1"), key("[2001:db8:aa:1:dead:beef:1:2]:1")
	if a.Keys[IP] != b.Keys[IP] {
		t.Error("two addresses of one /64 are two ip keys")
	}
	c := key("[2001:db8:aa:2::1]:1")
	if c.Keys[IP] == a.Keys[IP] {
		t.Error("two /64s share an ip key")
	}
	if c.Keys[Net] != a.Keys[Net] {
		t.Error("two /64s of one /48 are two net keys")
	}
	if key("1.2.3.4:1").Keys[IP] == key("1.2.3.5:1").Keys[IP] {
		t.Error("two IPv4 addresses share an ip key")
	}
	if key("[::ffff:1.2.3.4]:1").Keys[IP] != key("1.2.3.4:1").Keys[IP] {
		t.Error("an IPv4-mapped address is not its IPv4 address")
	}
	if got := HostString(netip.MustParseAddr("2001:db8:aa:1:dead:beef:1:2")); got != "2001:db8:aa:1::/64" {
		t.Errorf("HostString = %q", got)
	}
	if got := HostString(netip.MustParseAddr("::ffff:1.2.3.4")); got != "1.2.3.4" {
		t.Errorf("HostString = %q", got)
	}
}

// What goes upstream carries the identity leakguard metered: a cookie or
// header sent twice would be read by Go as its first value and by some
// frameworks as their last, so a scraper could be metered as a fresh
// session per request while the upstream served a real one's login.
func TestForwardKeepsTheIdentityMetered(t *testing.T) {
	r := resolver(Options{Session: Source{Cookie: "sid"}, Account: Source{Header: "X-Account"}})
	in := req("1.1.1.1:1", "Cookie", `a=1; sid=fresh; b="2"`, "Cookie", `sid=real; c=3`, "X-Account", "mallory", "X-Account", "alice")
	want := r.Identify(in)
	h := in.Header.Clone()
	r.Forward(h)
	if got := h.Values("Cookie"); !slices.Equal(got, []string{`a=1; sid=fresh; b="2"`, `c=3`}) {
		t.Errorf("Cookie going upstream: %q", got)
	}
	if got := h.Values("X-Account"); !slices.Equal(got, []string{"mallory"}) {
		t.Errorf("X-Account going upstream: %q", got)
	}
	out := req("1.1.1.1:1")
	out.Header = h
	if got := r.Identify(out); got != want {
		t.Errorf("what goes upstream identifies as %v, metered as %v", got, want)
	}
	// one of each: left as it came
	one := http.Header{"Cookie": {"sid=x; a=1", "b=2"}, "X-Account": {"alice"}}
	r.Forward(one)
	if !slices.Equal(one["Cookie"], []string{"sid=x; a=1", "b=2"}) || !slices.Equal(one["X-Account"], []string{"alice"}) {
		t.Errorf("a request with one of each was changed: %v", one)
	}
}

// Alternates: each later, different value of the account or session
// source, as the key of an actor otherwise the request's own.
func TestAlternates(t *testing.T) {
	r := resolver(Options{Account: Source{JWTClaim: "sub"}, Session: Source{Cookie: "sid"}})
	rq := req("1.1.1.1:1", "Authorization", unsignedJWT(`{"sub":"fresh"}`), "Authorization", unsignedJWT(`{"sub":"real"}`),
		"Authorization", unsignedJWT(`{"sub":"fresh"}`), "Cookie", "sid=a; sid=b", "Cookie", "sid=a")
	a := r.Identify(rq)
	alts, ok := r.Alternates(rq, &a)
	if !ok || len(alts) != 2 {
		t.Fatalf("%d alternates (ok %v), want 2: account real, session b", len(alts), ok)
	}
	real := r.Identify(req("1.1.1.1:1", "Authorization", unsignedJWT(`{"sub":"real"}`), "Cookie", "sid=a"))
	b := r.Identify(req("1.1.1.1:1", "Authorization", unsignedJWT(`{"sub":"fresh"}`), "Cookie", "sid=b"))
	if alts[0] != real || alts[1] != b {
		t.Errorf("alternates %v, want %v and %v", alts, real, b)
	}
	if alts, ok := r.Alternates(req("1.1.1.1:1", "Cookie", "sid=a"), &a); !ok || len(alts) != 0 {
		t.Errorf("one value: %d alternates, ok %v", len(alts), ok)
	}
}
