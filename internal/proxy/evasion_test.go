package proxy

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/testserver"
)

// The budgets of the evasion tests: 5 profiles and 100 reviewers an address.
const (
	profileBudget  = 5
	reviewerBudget = 100
	reviewsAPage   = 10
)

// reviewPage is page n of an item's reviews: reviewsAPage reviewers of its own.
func reviewPage(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"item":7,"page":` + strconv.Itoa(n) + `,"reviews":[`)
	for i := 0; i < reviewsAPage; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"user":{"id":%d,"nick":"reader %d"},"text":"%s"}`, n*1000+i, i, strings.Repeat("fine ", 40))
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func encode(enc string, body []byte) []byte {
	var b bytes.Buffer
	var w io.WriteCloser
	switch enc {
	case "gzip":
		w = gzip.NewWriter(&b)
	case "deflate": // zlib, as RFC 9110 says
		w = zlib.NewWriter(&b)
	case "raw-deflate": // what some servers send as deflate
		w, _ = flate.NewWriter(&b, flate.DefaultCompression)
	case "br":
		w = brotli.NewWriter(&b)
	case "zstd":
		w, _ = zstd.NewWriter(&b)
	default:
		return body
	}
	w.Write(body)
	w.Close()
	return b.Bytes()
}

// anyMethodUpstream is a framework as many are: routes match whatever the
// path's case, every method reaches the handler, X-HTTP-Method-Override
// is honoured, and bodies are compressed in what the client prefers.
// seen records each request's method, override header and Accept-Encoding.
func anyMethodUpstream(t *testing.T, seen chan<- string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			select {
			case seen <- r.Method + " " + r.Header.Get("X-HTTP-Method-Override") + " " + r.URL.Query().Get("_method") + " ae=" + r.Header.Get("Accept-Encoding"):
			default:
			}
		}
		// cleaned as servlet containers and most frameworks do
		clean := path.Clean(strings.ToLower(r.URL.Path))
		var segs []string
		for _, seg := range strings.Split(strings.Trim(clean, "/"), "/") {
			seg, _, _ = strings.Cut(seg, ";")
			segs = append(segs, seg)
		}
		p := segs
		var body []byte
		switch {
		case len(p) == 3 && p[0] == "api" && p[1] == "users":
			body = []byte(`{"id":"` + p[2] + `","name":"someone"}`)
		case len(p) == 4 && p[0] == "api" && p[1] == "items" && p[3] == "reviews":
			n, _ := strconv.Atoi(r.URL.Query().Get("page"))
			body = reviewPage(n)
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := ""
		for _, e := range []string{"zstd", "br", "gzip", "deflate"} {
			if strings.Contains(r.Header.Get("Accept-Encoding"), e) {
				enc = e
				break
			}
		}
		if r.Header.Get("X-Test-Raw-Deflate") != "" && enc == "deflate" {
			body = encode("raw-deflate", body)
		} else {
			body = encode(enc, body)
		}
		if enc != "" {
			w.Header().Set("Content-Encoding", enc)
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	}))
	t.Cleanup(s.Close)
	return s
}

type budgetFixture struct {
	front   *httptest.Server
	metrics *Metrics
}

type fixtureOpt func(*records.Spec, *Options)

func budgetProxy(t *testing.T, upstream string, opts ...fixtureOpt) *budgetFixture {
	t.Helper()
	h := keyed.New([]byte("evasion-test-secret-123"))
	spec := records.Spec{Routes: []records.RouteSpec{
		{Route: "GET /api/users/{id}", Entity: "user"},
		{Route: "GET /api/items/{item}/reviews", Entity: "reviewer", Body: "$.reviews[*].user.id"},
	}}
	u, _ := url.Parse(upstream)
	o := Options{Upstream: u, MaxBodyBytes: 64 << 10}
	for _, f := range opts {
		f(&spec, &o)
	}
	cat, err := records.NewCatalog(spec, h)
	if err != nil {
		t.Fatal(err)
	}
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: len(cat.Entities()), ExactUpTo: 256, MaxActors: 10000})
	eng, err := engine.New(m, engine.Options{Entities: cat.Entities(), Budgets: []engine.Budget{
		{ID: "profiles", Entity: "user", Per: identity.IP, Window: time.Hour, Limit: profileBudget, Action: engine.Block, BlockFor: time.Hour},
		{ID: "reviewers", Entity: "reviewer", Per: identity.IP, Window: time.Hour, Limit: reviewerBudget, Action: engine.Block, BlockFor: time.Hour},
	}})
	if err != nil {
		t.Fatal(err)
	}
	met := NewMetrics(prometheus.NewRegistry(), cat.Entities())
	o.Resolver, o.Catalog, o.Engine, o.Metrics = identity.NewResolver(identity.Options{}, h), cat, eng, met
	front := httptest.NewServer(New(o))
	t.Cleanup(front.Close)
	return &budgetFixture{front: front, metrics: met}
}

// served sends n requests made by mk and returns how many were answered 2xx.
func (f *budgetFixture) served(t *testing.T, n int, mk func(i int) *http.Request) int {
	t.Helper()
	ok := 0
	for i := 1; i <= n; i++ {
		req := mk(i)
		resp, err := client.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			ok++
		}
	}
	return ok
}

// client is a client that sends what it is told: Go's default transport
// would ask for gzip on its own and inflate the answer.
var client = &http.Transport{DisableCompression: true}

func req(method, u string, hdr ...string) *http.Request {
	r, _ := http.NewRequest(method, u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return r
}

// plainProfiles is what the budget lets through for plain GETs: the
// measure every evasion is held to.
func plainProfiles(t *testing.T, up string) int {
	f := budgetProxy(t, up)
	n := f.served(t, 10, func(i int) *http.Request { return req("GET", f.front.URL+"/api/users/"+strconv.Itoa(i)) })
	if n >= 10 || n < profileBudget {
		t.Fatalf("plain GETs: %d of 10 served; the budget of %d does not hold to begin with", n, profileBudget)
	}
	return n
}

func TestEvasionPathCase(t *testing.T) {
	up := anyMethodUpstream(t, nil)
	want := plainProfiles(t, up.URL)
	for _, form := range []string{"/API/USERS/%d", "/Api/Users/%d", "/api/USERS/%d"} {
		f := budgetProxy(t, up.URL)
		got := f.served(t, 10, func(i int) *http.Request { return req("GET", f.front.URL+fmt.Sprintf(form, i)) })
		if got != want {
			t.Errorf("%s: %d of 10 served, plain GETs get %d", form, got, want)
		}
	}
}

// Spellings an upstream resolves to the same path: percent-encoding,
// dot segments, doubled slashes, Tomcat's ;parameters, trailing slash,
// leading zeros, a query string.
func TestEvasionPathSpelling(t *testing.T) {
	up := anyMethodUpstream(t, nil)
	want := plainProfiles(t, up.URL)
	for _, form := range []string{"/api/%%75sers/%d", "/api/x/../users/%d", "/api/./users/%d", "/api//users//%d", "/api;x=1/users/%d",
		"/api/users/%d/", "/api/users/00%d", "/api/users/%d?x=1"} {
		f := budgetProxy(t, up.URL)
		got := f.served(t, 10, func(i int) *http.Request {
			r := req("GET", f.front.URL)
			r.URL.Opaque = fmt.Sprintf(form, i) // sent as written, not cleaned by the client
			if q := strings.Index(r.URL.Opaque, "?"); q >= 0 {
				r.URL.RawQuery, r.URL.Opaque = r.URL.Opaque[q+1:], r.URL.Opaque[:q]
			}
			return r
		})
		if got != want {
			t.Errorf("%s: %d of 10 served, plain GETs get %d", form, got, want)
		}
	}
}

func TestEvasionMethods(t *testing.T) {
	up := anyMethodUpstream(t, nil)
	want := plainProfiles(t, up.URL)
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"} {
		f := budgetProxy(t, up.URL)
		got := f.served(t, 10, func(i int) *http.Request { return req(m, f.front.URL+"/api/users/"+strconv.Itoa(i)) })
		if got != want {
			t.Errorf("%s: %d of 10 served, plain GETs get %d", m, got, want)
		}
	}
}

// A route restricted to GET still counts a POST the upstream takes as a
// GET; in strip mode the upstream never sees the override.
func TestEvasionMethodOverride(t *testing.T) {
	seen := make(chan string, 64)
	up := anyMethodUpstream(t, seen)
	want := plainProfiles(t, up.URL)
	getOnly := func(s *records.Spec, _ *Options) { s.Routes[0].Methods = []string{"GET"} }
	overrides := map[string]func(u string) *http.Request{
		"X-HTTP-Method-Override": func(u string) *http.Request { return req("POST", u, "X-HTTP-Method-Override", "GET") },
		"X-HTTP-Method":          func(u string) *http.Request { return req("POST", u, "X-HTTP-Method", "get") },
		"X-Method-Override":      func(u string) *http.Request { return req("POST", u, "X-Method-Override", "GET") },
		"_method":                func(u string) *http.Request { return req("POST", u+"?_method=GET") },
	}
	for name, mk := range overrides {
		f := budgetProxy(t, up.URL, getOnly)
		if got := f.served(t, 10, func(i int) *http.Request { return mk(f.front.URL + "/api/users/" + strconv.Itoa(i)) }); got != want {
			t.Errorf("POST with %s: GET: %d of 10 served, plain GETs get %d", name, got, want)
		}
	}
	// Restricted, a plain POST does not count: the restriction works.
	f := budgetProxy(t, up.URL, getOnly)
	if got := f.served(t, 10, func(i int) *http.Request { return req("POST", f.front.URL+"/api/users/"+strconv.Itoa(i)) }); got != 10 {
		t.Errorf("plain POSTs on a GET-only route: %d of 10 served, want all", got)
	}
	for len(seen) > 0 {
		<-seen
	}
	f = budgetProxy(t, up.URL, getOnly, func(_ *records.Spec, o *Options) { o.StripMethodOverrides = true })
	f.served(t, 1, func(int) *http.Request {
		return req("POST", f.front.URL+"/api/users/1?_method=GET&a=b", "X-HTTP-Method-Override", "GET", "X-HTTP-Method", "GET")
	})
	if s := <-seen; s != "POST   ae=identity" {
		t.Errorf("strip mode: upstream saw %q", s)
	}
}

// Review pages (records in the JSON body) in every coding a client may
// ask for count as plain ones do; the client gets the coding it asked for.
func TestEvasionBodyEncodings(t *testing.T) {
	up := anyMethodUpstream(t, nil)
	pages := func(f *budgetFixture, enc string, hdr ...string) (int, string) {
		var got string
		resp, err := client.RoundTrip(req("GET", f.front.URL+"/api/items/8/reviews?page=99", append(hdr, "Accept-Encoding", enc)...))
		if err == nil {
			got = resp.Header.Get("Content-Encoding")
			resp.Body.Close()
		}
		n := f.served(t, 15, func(i int) *http.Request {
			r := req("GET", f.front.URL+"/api/items/7/reviews?page="+strconv.Itoa(i), hdr...)
			if enc != "" {
				r.Header.Set("Accept-Encoding", enc)
			}
			return r
		})
		return n, got
	}
	want, _ := pages(budgetProxy(t, up.URL), "identity")
	if want >= 15 || want < reviewerBudget/reviewsAPage-1 {
		t.Fatalf("plain pages: %d of 15 served; the budget does not hold to begin with", want)
	}
	for _, tc := range []struct{ name, enc, raw string }{
		{"TestEvasionGzipBody", "gzip", ""},
		{"TestEvasionDeflateBody", "deflate", ""},
		{"TestEvasionRawDeflateBody", "deflate", "1"},
		{"TestEvasionBrotliBody", "br", ""},
		{"TestEvasionZstdBody", "zstd", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.raw != "" {
				hdr = []string{"X-Test-Raw-Deflate", "1"}
			}
			got, enc := pages(budgetProxy(t, up.URL), tc.enc, hdr...)
			if got != want {
				t.Errorf("Accept-Encoding %s: %d of 15 pages served, plain pages get %d", tc.enc, got, want)
			}
			if enc != tc.enc {
				t.Errorf("the client asked for %s and got %q", tc.enc, enc)
			}
		})
	}
}

// A page larger than max_body_bytes is inspected as it streams.
func TestEvasionLargeBody(t *testing.T) {
	up := anyMethodUpstream(t, nil)
	small := func(_ *records.Spec, o *Options) { o.MaxBodyBytes = 1024 }
	for _, enc := range []string{"identity", "gzip", "br"} {
		f := budgetProxy(t, up.URL, small)
		got := f.served(t, 15, func(i int) *http.Request {
			return req("GET", f.front.URL+"/api/items/7/reviews?page="+strconv.Itoa(i), "Accept-Encoding", enc)
		})
		if got >= 15 {
			t.Errorf("%s pages of %d bytes over a 1 KiB max_body_bytes: all 15 served", enc, len(reviewPage(1)))
		}
		if n := testutil.ToFloat64(f.metrics.recordsBy[1]); n < reviewerBudget {
			t.Errorf("%s: %v reviewers counted", enc, n)
		}
	}
}

// A range of a JSON page is a fragment a JSONPath cannot read: the proxy
// asks for the whole page.
func TestEvasionRangeOnJSONBody(t *testing.T) {
	up := anyMethodUpstream(t, nil)
	f := budgetProxy(t, up.URL)
	got := f.served(t, 15, func(i int) *http.Request {
		return req("GET", f.front.URL+"/api/items/7/reviews?page="+strconv.Itoa(i), "Range", "bytes=20-2000", "Accept-Encoding", "identity")
	})
	if got >= 15 {
		t.Errorf("ranges of pages: all %d served", got)
	}
}

// gzipOnly ignores Accept-Encoding and always sends gzip, as the upstream
// of issue 17's measurement did.
func gzipOnly(t *testing.T, body []byte, seen chan<- string) *httptest.Server {
	gz := encode("gzip", body)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			seen <- r.Header.Get("Accept-Encoding")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gz)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestNoInflateForClientThatDidNotAsk(t *testing.T) {
	body := reviewPage(1)
	seen := make(chan string, 4)
	up := gzipOnly(t, body, seen)
	f := budgetProxy(t, up.URL)
	// No Accept-Encoding: the upstream is asked for identity; what it
	// sends anyway passes as it is, never inflated.
	r := req("GET", f.front.URL+"/api/items/7/reviews")
	resp, err := client.RoundTrip(r)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ae := <-seen; ae != "identity" {
		t.Errorf("upstream was asked for %q", ae)
	}
	if resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(got, encode("gzip", body)) {
		t.Errorf("client that asked for nothing got %d bytes, Content-Encoding %q; want the %d gzip bytes as sent",
			len(got), resp.Header.Get("Content-Encoding"), len(encode("gzip", body)))
	}
	if n := testutil.ToFloat64(f.metrics.recordsBy[1]); n != reviewsAPage {
		t.Errorf("%v reviewers counted, want %d", n, reviewsAPage)
	}
	// A client that takes only br is never sent gzip: it gets identity.
	resp, err = client.RoundTrip(req("GET", f.front.URL+"/api/items/7/reviews", "Accept-Encoding", "br"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	<-seen
	if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(got, body) {
		t.Errorf("client taking br got Content-Encoding %q, %d bytes; want identity, %d", resp.Header.Get("Content-Encoding"), len(got), len(body))
	}
}

// The transport the proxy makes never decodes on its own.
func TestTransportDoesNotDecompress(t *testing.T) {
	if !NewTransport(time.Second, 1).DisableCompression {
		t.Fatal("the proxy's transport would add gzip and inflate for clients that did not ask")
	}
}

func TestUnknownCodingRefused(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "compress")
		w.Write([]byte("\x1f\x9d\x90whatever"))
	}))
	defer up.Close()
	f := budgetProxy(t, up.URL)
	resp, err := client.RoundTrip(req("GET", f.front.URL+"/api/items/7/reviews", "Accept-Encoding", "compress, gzip"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("a record page in a coding the proxy cannot read: %s, want 502", resp.Status)
	}
	if n := testutil.ToFloat64(f.metrics.cut.WithLabelValues("encoding")); n != 1 {
		t.Errorf("cut{encoding} = %v", n)
	}
}

// dripUpstream sends a review page a byte at a time, then drips forever
// (until the proxy hangs up).
func TestUpstreamDripIsCut(t *testing.T) {
	page := reviewPage(1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(page[:len(page)-2]) // all ten reviews but the closing ]}
		w.(http.Flusher).Flush()
		for i := 0; i < 600; i++ {
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}))
	defer up.Close()
	f := budgetProxy(t, up.URL, func(_ *records.Spec, o *Options) { o.UpstreamBodyTimeout = 500 * time.Millisecond })
	start := time.Now()
	resp, err := client.RoundTrip(req("GET", f.front.URL+"/api/items/7/reviews", "Accept-Encoding", "identity"))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a drip held the request %v", d)
	}
	waitCounter(t, f.metrics.cut.WithLabelValues("timeout"), 1)
	if n := testutil.ToFloat64(f.metrics.recordsBy[1]); n != reviewsAPage {
		t.Errorf("%v reviewers counted from the cut page, want the %d sent", n, reviewsAPage)
	}
}

func TestUpstreamEndlessBodyIsCut(t *testing.T) {
	chunk := bytes.Repeat([]byte(`{"user":{"id":1}},`), 1000)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"reviews":[`))
		for i := 0; i < 1<<20; i++ { // 18 GB if nothing stops it
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer up.Close()
	const max = 4 << 20
	f := budgetProxy(t, up.URL, func(_ *records.Spec, o *Options) { o.MaxUpstreamBodyBytes = max })
	resp, err := client.RoundTrip(req("GET", f.front.URL+"/api/items/7/reviews", "Accept-Encoding", "identity"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n > max {
		t.Errorf("client got %d bytes past a %d bound", n, max)
	}
	waitCounter(t, f.metrics.cut.WithLabelValues("size"), 1)
	if r := testutil.ToFloat64(f.metrics.recordsBy[1]); r != 1 {
		t.Errorf("%v reviewers counted, want user 1", r)
	}
}

// A body that decodes to far more than max_decoded_body_bytes is cut at
// that bound, in each coding, whether the client takes it coded or not.
func TestDecompressionBomb(t *testing.T) {
	zeros := make([]byte, 64<<20)
	for _, enc := range []string{"gzip", "br", "zstd", "deflate"} {
		bomb := encode(enc, append(append([]byte(`{"reviews":[{"user":{"id":1}}],"x":"`), zeros...), `"}`...))
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", enc)
			w.Write(bomb)
		}))
		for _, ae := range []string{enc, "identity"} {
			f := budgetProxy(t, up.URL, func(_ *records.Spec, o *Options) { o.MaxDecodedBodyBytes = 4 << 20 })
			start := time.Now()
			var n int64
			// Cut before the first flush, the client sees the connection
			// close; after it, a short body.
			if resp, err := client.RoundTrip(req("GET", f.front.URL+"/api/items/7/reviews", "Accept-Encoding", ae)); err == nil {
				n, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if ae == "identity" && n > 4<<20 {
				t.Errorf("%s bomb to an identity client: %d bytes sent", enc, n)
			}
			waitCounter(t, f.metrics.cut.WithLabelValues("decoded_size"), 1)
			if r := testutil.ToFloat64(f.metrics.recordsBy[1]); r != 1 {
				t.Errorf("%s bomb (%s client): %v reviewers counted, want user 1", enc, ae, r)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("%s bomb took %v", enc, d)
			}
		}
		up.Close()
	}
}

// waitCounter polls c until it reaches want: the proxy counts after the
// client has its answer.
func waitCounter(t *testing.T, c prometheus.Counter, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(c) != want {
		if time.Now().After(deadline) {
			t.Fatalf("counter at %v, want %v", testutil.ToFloat64(c), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Against a real nginx that compresses JSON in br and gzip (Debian's
// brotli module): review pages count in each coding.
func TestEvasionNginxBrotli(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "api", "items", "7")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 15; i++ {
		os.WriteFile(filepath.Join(dir, "reviews-"+strconv.Itoa(i)+".json"), reviewPage(i), 0o644)
	}
	// /api/items/7/reviews?page=N is the file reviews-N.json
	ng := testserver.Nginx(t, root, `location = /api/items/7/reviews { default_type application/json; try_files /api/items/7/reviews-$arg_page.json =404; }`)
	want := -1
	for _, enc := range []string{"identity", "gzip", "br"} {
		f := budgetProxy(t, "http://"+ng.Addr)
		var sent, via string
		// first, while the budget allows: the client keeps its coding
		if resp, err := client.RoundTrip(req("GET", f.front.URL+"/api/items/7/reviews?page=99", "Accept-Encoding", enc)); err == nil {
			via = resp.Header.Get("Content-Encoding")
			resp.Body.Close()
		}
		if enc != "identity" && via != enc {
			t.Errorf("through the proxy, a client asking for %s got %q", enc, via)
		}
		got := f.served(t, 15, func(i int) *http.Request {
			return req("GET", f.front.URL+"/api/items/7/reviews?page="+strconv.Itoa(i), "Accept-Encoding", enc)
		})
		resp, err := client.RoundTrip(req("GET", "http://"+ng.Addr+"/api/items/7/reviews?page=1", "Accept-Encoding", enc))
		if err == nil {
			sent = resp.Header.Get("Content-Encoding")
			resp.Body.Close()
		}
		if enc != "identity" && sent != enc {
			t.Fatalf("nginx did not answer in %s (%q): the test would prove nothing\n%s", enc, sent, ng.Log())
		}
		if want < 0 {
			want = got
			if want >= 15 {
				t.Fatalf("plain pages through nginx: all 15 served")
			}
		}
		if got != want {
			t.Errorf("nginx, Accept-Encoding %s: %d of 15 pages served, plain pages get %d", enc, got, want)
		}
	}
}

// slowReviews serves review pages after a delay, as a busy API does: the
// time in which every request already admitted is served on one count.
func slowReviews(t *testing.T, delay time.Duration) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		n, _ := strconv.Atoi(r.URL.Query().Get("page"))
		w.Header().Set("Content-Type", "application/json")
		w.Write(reviewPage(n))
	}))
	t.Cleanup(s.Close)
	return s
}

// concurrently sends n requests made by mk at once and returns how many
// were answered 2xx, and how many 429 "in flight".
func (f *budgetFixture) concurrently(t *testing.T, n int, mk func(i int) *http.Request) (ok, inFlight int) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	tr := &http.Transport{DisableCompression: true, MaxConnsPerHost: n, MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := tr.RoundTrip(mk(i))
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case resp.StatusCode/100 == 2:
				ok++
			case strings.Contains(string(body), "in flight"):
				inFlight++
			}
		}()
	}
	wg.Wait()
	return ok, inFlight
}

// One address with hundreds of connections open at once on a review
// route took 1,600 reviewers against a budget of 300 (a red team,
// 2026-12-02): the budget is checked as a request arrives, its records
// counted once it is served, and every request in between was served on
// the same count. A key's requests past its cap in flight now wait for
// its earlier ones to be metered.
func TestEvasionConcurrentRequests(t *testing.T) {
	up := slowReviews(t, 30*time.Millisecond)
	pages := reviewerBudget / reviewsAPage
	for _, tc := range []struct {
		name    string
		cap     int
		maxPage int // pages served at most
	}{
		{"cap of 4", 4, pages + 4},
		{"default cap", 0, pages + DefaultInFlightPerAddress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := budgetProxy(t, up.URL, func(_ *records.Spec, o *Options) { o.InFlightPerAddress = tc.cap })
			ok, inFlight := f.concurrently(t, 200, func(i int) *http.Request {
				return req("GET", f.front.URL+"/api/items/7/reviews?page="+strconv.Itoa(i))
			})
			if ok > tc.maxPage || ok < pages {
				t.Errorf("200 pages at once from one address: %d served, want %d to %d (the budget's %d pages and the cap's)", ok, pages, tc.maxPage, pages)
			}
			if inFlight > 0 {
				t.Errorf("%d requests refused for waiting, within limits.in_flight_wait", inFlight)
			}
		})
	}
	// Within its budget nobody is refused: requests past the cap wait.
	t.Run("within the budget", func(t *testing.T) {
		f := budgetProxy(t, up.URL, func(_ *records.Spec, o *Options) { o.InFlightPerAddress = 4 })
		ok, _ := f.concurrently(t, 40, func(int) *http.Request {
			return req("GET", f.front.URL+"/api/items/7/reviews?page=1")
		})
		if ok != 40 {
			t.Errorf("40 requests for one page at once: %d served, want all", ok)
		}
		if w := testutil.ToFloat64(f.metrics.inFlightWaits); w < 1 {
			t.Errorf("in-flight waits %v: the cap of 4 never made a request wait", w)
		}
	})
}

// An upstream that served its review pages as a download, with no
// Content-Type or under an unregistered JSON type had them passed on
// unread: 4,800 phone numbers against a budget of 300 (a red team,
// 2026-12-02). On a record route the body is read whatever its type says,
// but for media nothing can read.
func TestEvasionContentTypes(t *testing.T) {
	pagesAs := func(ct string) int {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := strconv.Atoi(r.URL.Query().Get("page"))
			if ct == "" {
				w.Header()["Content-Type"] = nil // no type, and none sniffed
			} else {
				w.Header().Set("Content-Type", ct)
			}
			w.Write(reviewPage(n))
		}))
		defer up.Close()
		f := budgetProxy(t, up.URL)
		return f.served(t, 15, func(i int) *http.Request {
			return req("GET", f.front.URL+"/api/items/7/reviews?page="+strconv.Itoa(i))
		})
	}
	want := pagesAs("application/json")
	if want >= 15 || want < reviewerBudget/reviewsAPage-1 {
		t.Fatalf("JSON pages: %d of 15 served; the budget does not hold to begin with", want)
	}
	for _, ct := range []string{"", "application/octet-stream", "application/x-json", "text/plain; charset=utf-8", "text/javascript", "application/vnd.shop.reviews+json", "application/vnd.shop.reviews"} {
		if got := pagesAs(ct); got != want {
			t.Errorf("Content-Type %q: %d of 15 pages served, JSON pages get %d", ct, got, want)
		}
	}
	// what no JSONPath reads is passed on unread, as before
	if got := pagesAs("image/png"); got != 15 {
		t.Errorf("Content-Type image/png: %d of 15 served, want all (media is not read)", got)
	}
}

// A WebSocket (any 101 Switching Protocols) was answered 502: the
// upstream's body was wrapped for reading before its status was looked at,
// and ReverseProxy needs it as it came to copy both ways (a red team,
// 2026-12-02).
func TestUpgradeIsPassedThrough(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n')
		rw.WriteString("echo: " + line)
		rw.Flush()
	}))
	defer up.Close()
	f := budgetProxy(t, up.URL)
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /live HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %s, want 101", resp.Status)
	}
	fmt.Fprintf(conn, "hello\n")
	if got, _ := br.ReadString('\n'); got != "echo: hello\n" {
		t.Errorf("over the upgraded connection: %q, want the upstream's echo", got)
	}
}
