package proxy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/lograte"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
)

// authStack is a proxy with a path-identified route, a budget of 5 users
// per address, and automation user agents challenged; trusted are the
// proxies whose X-Forwarded-For is believed.
func authStack(t *testing.T, up string, trusted ...netip.Prefix) *Proxy {
	t.Helper()
	return authStackPer(t, up, identity.IP, identity.Options{TrustedProxies: trusted})
}

// authStackPer is authStack with its budget per key kind, and id's identity sources.
func authStackPer(t *testing.T, up string, per identity.Kind, id identity.Options) *Proxy {
	t.Helper()
	h := keyed.New([]byte("auth-test-secret-0123456"))
	cat, err := records.NewCatalog(records.Spec{Routes: []records.RouteSpec{{Route: "GET /api/users/{id}", Entity: "user"}}}, h)
	if err != nil {
		t.Fatal(err)
	}
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: len(cat.Entities()), ExactUpTo: 64, MaxActors: 10000})
	eng, err := engine.New(m, engine.Options{Entities: cat.Entities(),
		Budgets: []engine.Budget{{ID: "users", Entity: "user", Per: per, Window: time.Hour, Limit: 5, Action: engine.Block, BlockFor: time.Hour}},
		Risk: engine.Risk{Weights: map[detect.Signals]int{detect.AutomationUA: 5},
			Bands: []engine.Band{{Min: 5, Action: engine.Challenge, For: 10 * time.Minute}}}})
	if err != nil {
		t.Fatal(err)
	}
	ua, err := detect.NewUAClassifier()
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(up)
	return New(Options{Upstream: u, Resolver: identity.NewResolver(id, h), Catalog: cat, Engine: eng,
		Metrics: NewMetrics(prometheus.NewRegistry(), cat.Entities()), MaxBodyBytes: 64 << 10,
		Detector: detect.New(detect.Options{Behaviour: detect.NewBehaviour(1000)}), UA: ua,
		Challenger: &Challenger{Secret: []byte("challenge-secret"), Difficulty: 4}})
}

type authReq struct {
	method, uri string
	hdr         []string // name, value, ...
}

// proxied sends rq through the proxy as a client would.
func proxied(t *testing.T, c *http.Client, base string, rq authReq) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(rq.method, base+rq.uri, nil)
	for i := 0; i+1 < len(rq.hdr); i += 2 {
		req.Header.Set(rq.hdr[i], rq.hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// asked sends rq to the auth endpoint as nginx's auth_request (traefik:
// ForwardAuth) would: a GET of AuthPath with the original method and URI
// in headers and the client's headers passed on.
func asked(t *testing.T, c *http.Client, base string, rq authReq, traefik bool) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", base+AuthPath, nil)
	for i := 0; i+1 < len(rq.hdr); i += 2 {
		req.Header.Set(rq.hdr[i], rq.hdr[i+1])
	}
	if traefik {
		req.Header.Set("X-Forwarded-Method", rq.method)
		req.Header.Set("X-Forwarded-Uri", rq.uri)
	} else {
		req.Header.Set("X-Original-Method", rq.method)
		req.Header.Set("X-Original-URI", rq.uri)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// The auth endpoint answers every request as the proxy does: the same
// sequence of requests, sent to a proxy and to an auth endpoint each in
// front of its own engine, gets the same statuses, Retry-After and
// challenge, for nginx's headers and Traefik's.
func TestAuthAnswersAsTheProxy(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	defer up.Close()
	browser := []string{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
		"Accept-Language", "en", "Accept", "application/json"}
	with := func(base []string, kv ...string) []string { return append(append([]string(nil), base...), kv...) }
	var seq []authReq
	for id := 1; id <= 8; id++ { // a scraper over its budget of 5 users
		seq = append(seq, authReq{"GET", fmt.Sprintf("/api/users/%d?x=1", id), with(browser, "X-Forwarded-For", "203.0.113.5")})
	}
	for id := 1; id <= 3; id++ { // a shopper, and pages that are not records
		seq = append(seq, authReq{"GET", fmt.Sprintf("/api/users/%d", id), with(browser, "X-Forwarded-For", "198.51.100.7")})
		seq = append(seq, authReq{"GET", "/items/1", with(browser, "X-Forwarded-For", "203.0.113.5")})
	}
	// A method override counts (the edge passes it on): the scraper stays blocked.
	seq = append(seq, authReq{"POST", "/api/users/99", with(browser, "X-Forwarded-For", "203.0.113.5", "X-HTTP-Method-Override", "GET")})
	// An automation client is challenged on record routes.
	seq = append(seq, authReq{"GET", "/api/users/1", []string{"User-Agent", "python-requests/2.31", "X-Forwarded-For", "192.0.2.9"}})

	for _, traefik := range []bool{false, true} {
		t.Run(fmt.Sprintf("traefik=%v", traefik), func(t *testing.T) {
			lo := netip.MustParsePrefix("127.0.0.1/32")
			px := httptest.NewServer(authStack(t, up.URL, lo))
			defer px.Close()
			au := httptest.NewServer(authStack(t, up.URL, lo).Auth())
			defer au.Close()
			c := &http.Client{Timeout: 5 * time.Second}
			var got []int
			for i, rq := range seq {
				want := proxied(t, c, px.URL, rq)
				have := asked(t, c, au.URL, rq, traefik)
				if have.StatusCode != want.StatusCode || have.Header.Get("Retry-After") != want.Header.Get("Retry-After") ||
					(have.Header.Get("Leakguard-Challenge") == "") != (want.Header.Get("Leakguard-Challenge") == "") {
					t.Fatalf("request %d %s %v: auth answered %d (Retry-After %q, challenge %q), the proxy %d (%q, %q)", i, rq.method, rq.uri,
						have.StatusCode, have.Header.Get("Retry-After"), have.Header.Get("Leakguard-Challenge"),
						want.StatusCode, want.Header.Get("Retry-After"), want.Header.Get("Leakguard-Challenge"))
				}
				got = append(got, have.StatusCode)
			}
			// Not vacuous: the sequence allows, blocks and challenges.
			want := []int{200, 200, 200, 200, 200, 403, 403, 403, 200, 403, 200, 403, 200, 403, 403, 429}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("statuses %v, want %v", got, want)
			}
		})
	}
}

// X-Forwarded-For is believed only from a trusted proxy: an untrusted
// caller's claims do not split it into many actors.
func TestAuthTrustsForwardedForOnlyFromTrustedProxies(t *testing.T) {
	au := httptest.NewServer(authStack(t, "http://127.0.0.1:1", netip.MustParsePrefix("10.0.0.0/8")).Auth())
	defer au.Close()
	c := &http.Client{Timeout: 5 * time.Second}
	var codes []int
	for id := 1; id <= 7; id++ {
		rq := authReq{"GET", fmt.Sprintf("/api/users/%d", id), []string{"User-Agent", "Mozilla/5.0 Firefox/127.0", "Accept-Language", "en",
			"X-Forwarded-For", fmt.Sprintf("203.0.113.%d", id)}}
		codes = append(codes, asked(t, c, au.URL, rq, false).StatusCode)
	}
	if fmt.Sprint(codes) != "[200 200 200 200 200 403 403]" {
		t.Fatalf("statuses %v: the claimed addresses were believed", codes)
	}
}

func TestAuthWithoutOriginalURI(t *testing.T) {
	au := httptest.NewServer(authStack(t, "http://127.0.0.1:1").Auth())
	defer au.Close()
	// Each says what the edge sent wrong: one it could not parse was
	// answered as one it never sent (found by a probe, 2026-12-05).
	for uri, want := range map[string]string{
		"":                               "sent no X-Original-URI",
		"api/users/1":                    "not a path starting with /",
		"http://example.com/api/users/1": "not a path starting with /",
		"/api/users/%zz":                 "not a valid request URI",
	} {
		req, _ := http.NewRequest("GET", au.URL+AuthPath, nil)
		if uri != "" {
			req.Header.Set("X-Original-URI", uri)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), want) {
			t.Errorf("X-Original-URI %q: status %d %s, want 400 saying %q", uri, resp.StatusCode, body, want)
		}
	}
	resp, err := http.Get(au.URL + "/api/users/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a path not served by the auth listener: %d, want 404", resp.StatusCode)
	}
}

// RefusedPath renders what nginx could not pass on, and grants nothing.
func TestAuthRefused(t *testing.T) {
	au := httptest.NewServer(authStack(t, "http://127.0.0.1:1").Auth())
	defer au.Close()
	ask := func(kv ...string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", au.URL+RefusedPath, nil)
		req.Header.Set("X-Original-URI", "/api/users/1")
		for i := 0; i+1 < len(kv); i += 2 {
			req.Header.Set(kv[i], kv[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	resp, _ := ask("Leakguard-Status", "429", "Leakguard-Retry-After", "42")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "42" {
		t.Errorf("throttle: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	resp, body := ask("Leakguard-Status", "429", "Leakguard-Retry-After", "600", "Leakguard-Challenge", "pow=sha256")
	var ch struct{ Seed, Submit string }
	if json.Unmarshal([]byte(body), &ch); resp.StatusCode != 429 || ch.Seed == "" || ch.Submit != ChallengePath || resp.Header.Get("Retry-After") != "600" {
		t.Errorf("challenge: %d %q", resp.StatusCode, body)
	}
	resp, body = ask("Leakguard-Status", "429", "Leakguard-Challenge", "x", "Accept", "text/html")
	if resp.StatusCode != 429 || !strings.Contains(body, `value="/api/users/1"`) {
		t.Errorf("challenge page: %d, back to the original URI? %q", resp.StatusCode, body)
	}
	resp, _ = ask("Leakguard-Status", "403", "Leakguard-Retry-After", "3600")
	if resp.StatusCode != 403 || resp.Header.Get("Retry-After") != "3600" {
		t.Errorf("block: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Past int64 is the longest wait, not the shortest (it was 1 s).
	resp, _ = ask("Leakguard-Status", "403", "Leakguard-Retry-After", "99999999999999999999")
	if resp.StatusCode != 403 || resp.Header.Get("Retry-After") != "31622400" {
		t.Errorf("block for ever: %d Retry-After %q, want 31622400 (366 days)", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	for _, st := range []string{"", "200", "502"} {
		if resp, _ := ask("Leakguard-Status", st); resp.StatusCode != 500 {
			t.Errorf("status %q: %d, want 500", st, resp.StatusCode)
		}
	}
}

// A client that can reach the auth endpoint grew the log by 120 MB in 2 s,
// a warning with a 60 KB URI for each request without a usable original
// URI (found by a probe, 2026-12-05): at most one a minute now, with the
// number held back, and the URI clipped.
func TestAuthWarningsAreRateLimited(t *testing.T) {
	var w lograte.Limiter // the auth endpoint's (Proxy.badAuth)
	t0 := time.Unix(1_800_000_000, 0)
	var logged []int64
	for i := range 120 {
		if ok, held := w.Allow(t0.Add(time.Duration(i) * time.Second)); ok {
			logged = append(logged, held)
		}
	}
	if !slices.Equal(logged, []int64{0, 59}) {
		t.Errorf("logged with held back %v over two minutes of one a second, want [0 59]", logged)
	}
	if got := clip(strings.Repeat("x", 60<<10), 256); len(got) > 260 {
		t.Errorf("a 60 KB URI clipped to %d bytes", len(got))
	}
}

// Traefik copies every client header to its ForwardAuth request and sets
// X-Forwarded-Method and -Uri; nginx's configuration sets X-Original-*
// and passes the client's X-Forwarded-* on. A client's own X-Original-URI
// came first behind Traefik: a scraper naming a page in it was asked
// about that page, and served every record (8 of 8 against a budget of 5,
// found by a probe, 2026-12-05). Headers that disagree are answered 400.
func TestEvasionAuthForgedOriginalURI(t *testing.T) {
	au := httptest.NewServer(authStack(t, "http://127.0.0.1:1", netip.MustParsePrefix("127.0.0.1/32")).Auth())
	defer au.Close()
	c := &http.Client{Timeout: 5 * time.Second}
	for _, tc := range []struct {
		name   string
		edge   func(id int) []string // what the edge sets
		forged []string              // what the client adds
	}{
		{"traefik, client's X-Original-URI", func(id int) []string {
			return []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", fmt.Sprintf("/api/users/%d", id)}
		}, []string{"X-Original-URI", "/items/1", "X-Original-Method", "GET"}},
		{"nginx, client's X-Forwarded-Uri", func(id int) []string {
			return []string{"X-Original-Method", "GET", "X-Original-URI", fmt.Sprintf("/api/users/%d", id)}
		}, []string{"X-Forwarded-Uri", "/items/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			served := 0
			for id := 1; id <= 8; id++ {
				req, _ := http.NewRequest("GET", au.URL+AuthPath, nil)
				kv := append(append([]string{"User-Agent", "Mozilla/5.0 Firefox/127.0", "X-Forwarded-For", "203.0.113.40"}, tc.edge(id)...), tc.forged...)
				for i := 0; i+1 < len(kv); i += 2 {
					req.Header.Set(kv[i], kv[i+1])
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					served++
				}
			}
			if served > 5 {
				t.Fatalf("%d of 8 users admitted against a budget of 5: the client's header was believed", served)
			}
		})
	}
	// A method the client names against the edge's is refused likewise.
	req, _ := http.NewRequest("GET", au.URL+AuthPath, nil)
	req.Header.Set("X-Forwarded-Method", "GET")
	req.Header.Set("X-Forwarded-Uri", "/api/users/1")
	req.Header.Set("X-Original-Method", "OPTIONS")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("X-Original-Method OPTIONS against X-Forwarded-Method GET: %d, want 400", resp.StatusCode)
	}
}

// The proxy forwards only the first value of the account or session
// source, the one it metered (identity.Resolver.Forward); an edge asking
// the auth endpoint passes them all, and an upstream that reads the last
// (Django keeps the last cookie of a name) served the real session while
// a fresh first one was metered: through nginx, 8 of 8 users against a
// session budget of 5 (found by a probe, 2026-12-05). Every value is
// admitted and metered now.
func TestEvasionAuthIdentitySentTwice(t *testing.T) {
	lo := netip.MustParsePrefix("127.0.0.1/32")
	c := &http.Client{Timeout: 5 * time.Second}
	ask := func(t *testing.T, au string, id int, kv ...string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", au+AuthPath, nil)
		req.Header.Set("X-Original-Method", "GET")
		req.Header.Set("X-Original-URI", fmt.Sprintf("/api/users/%d", id))
		req.Header.Set("User-Agent", "Mozilla/5.0 Firefox/127.0")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", id)) // an address each
		for i := 0; i+1 < len(kv); i += 2 {
			req.Header.Add(kv[i], kv[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name string
		per  identity.Kind
		hdr  func(id int) []string
	}{
		{"one cookie line", identity.Session, func(id int) []string { return []string{"Cookie", fmt.Sprintf("sid=fresh%d; sid=real", id)} }},
		{"two cookie lines", identity.Session, func(id int) []string {
			return []string{"Cookie", fmt.Sprintf("sid=fresh%d", id), "Cookie", "sid=real"}
		}},
		{"empty first cookie", identity.Session, func(id int) []string { return []string{"Cookie", "sid=; sid=real"} }},
		{"account header twice", identity.Account, func(id int) []string {
			return []string{"X-Account", fmt.Sprintf("fresh%d", id), "X-Account", "real"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			au := httptest.NewServer(authStackPer(t, "http://127.0.0.1:1", tc.per,
				identity.Options{TrustedProxies: []netip.Prefix{lo}, Account: identity.Source{Header: "X-Account"}, Session: identity.Source{Cookie: "sid"}}).Auth())
			defer au.Close()
			var codes []int
			for id := 1; id <= 8; id++ {
				codes = append(codes, ask(t, au.URL, id, tc.hdr(id)...))
			}
			if fmt.Sprint(codes) != "[200 200 200 200 200 403 403 403]" {
				t.Fatalf("statuses %v, want the budget of 5 then 403: the later value was not metered", codes)
			}
		})
	}
	t.Run("past MaxAlternates", func(t *testing.T) {
		au := httptest.NewServer(authStackPer(t, "http://127.0.0.1:1", identity.Session,
			identity.Options{TrustedProxies: []netip.Prefix{lo}, Session: identity.Source{Cookie: "sid"}}).Auth())
		defer au.Close()
		var kv []string
		for i := 0; i <= identity.MaxAlternates+1; i++ {
			kv = append(kv, "Cookie", fmt.Sprintf("sid=s%d", i))
		}
		if code := ask(t, au.URL, 1, kv...); code != http.StatusForbidden {
			t.Fatalf("%d values of the session: %d, want 403", identity.MaxAlternates+2, code)
		}
	})
}
