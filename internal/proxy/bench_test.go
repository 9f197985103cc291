package proxy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/shop"
)

// cannedTransport answers every request with a review page from the shop,
// without a network, so the benchmark measures the proxy alone.
type cannedTransport struct{ bodies [][]byte }

func newCanned() *cannedTransport {
	s := shop.New(1, 50000, 1000)
	h := s.Handler()
	c := &cannedTransport{}
	for i := 1; i <= 1000; i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/items/"+strconv.Itoa(i)+"/reviews", nil))
		c.bodies = append(c.bodies, rec.Body.Bytes())
	}
	return c
}

func (c *cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	if id == 0 {
		// path is /api/items/{id}/reviews
		p := r.URL.Path
		n := 0
		for i := len("/api/items/"); i < len(p) && p[i] >= '0' && p[i] <= '9'; i++ {
			n = n*10 + int(p[i]-'0')
		}
		id = n
	}
	b := c.bodies[(id-1)%len(c.bodies)]
	return &http.Response{
		StatusCode: 200, ProtoMajor: 1, ProtoMinor: 1, Request: r, ContentLength: int64(len(b)),
		Header: http.Header{"Content-Type": {"application/json"}, "Content-Length": {strconv.Itoa(len(b))}},
		Body:   io.NopCloser(bytes.NewReader(b)),
	}, nil
}

func guarded(b *testing.B, rt http.RoundTripper, scan bool) http.Handler {
	h := keyed.New([]byte("bench-secret-0123456789"))
	spec := records.Spec{
		Routes: []records.RouteSpec{
			{Route: "GET /api/users/{id}", Entity: "user"},
			{Route: "GET /api/items/{id}/reviews", Entity: "user", Body: "$.reviews[*].user.id"},
		},
		PhoneRegions: []string{"CN"},
	}
	if scan {
		spec.PII, spec.ScanAll = []string{"phone", "email", "cn_id", "bank_card"}, true
	}
	cat, err := records.NewCatalog(spec, h)
	if err != nil {
		b.Fatal(err)
	}
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour, 24 * time.Hour}, Entities: len(cat.Entities()), ExactUpTo: 128, MaxActors: 1_000_000})
	eng, _ := engine.New(m, engine.Options{Entities: cat.Entities(), Budgets: []engine.Budget{
		{ID: "ip", Entity: "user", Per: identity.IP, Window: time.Hour, Limit: 1 << 40, Action: engine.Block},
	}})
	u, _ := url.Parse("http://upstream.invalid")
	return New(Options{Upstream: u, Resolver: identity.NewResolver(identity.Options{}, h), Catalog: cat, Engine: eng,
		Metrics: NewMetrics(prometheus.NewRegistry(), cat.Entities()), MaxBodyBytes: 1 << 20, Transport: rt})
}

// detecting is guarded with the detector on: UA classes, sessions, crews,
// history signals and the default risk weights and bands.
func detecting(b *testing.B, rt http.RoundTripper) http.Handler {
	p := guarded(b, rt, true).(*Proxy)
	ua, err := detect.NewUAClassifier()
	if err != nil {
		b.Fatal(err)
	}
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour, 24 * time.Hour}, Entities: len(p.o.Catalog.Entities()), ExactUpTo: 128, MaxActors: 1_000_000})
	eng, _ := engine.New(m, engine.Options{Entities: p.o.Catalog.Entities(),
		Budgets: []engine.Budget{{ID: "ip", Entity: "user", Per: identity.IP, Window: time.Hour, Limit: 1 << 40, Action: engine.Block}},
		Risk: engine.Risk{Weights: map[detect.Signals]int{detect.AutomationUA: 5, detect.Sessionless: 1, detect.ColdSweep: 3, detect.MachineTiming: 2},
			Bands: []engine.Band{{Min: 50, Action: engine.Challenge}}, EnumMinRequests: 20, EnumMissRatio: 0.5}})
	p.o.Engine = eng
	p.o.Detector = detect.New(detect.Options{Behaviour: detect.NewBehaviour(1_000_000)})
	p.o.UA = ua
	return p
}

func plain(rt http.RoundTripper) http.Handler {
	u, _ := url.Parse("http://upstream.invalid")
	// tuned like leakguard's: pooled copy buffers
	return &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() }, Transport: rt, BufferPool: newBufferPool()}
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

func benchHandler(b *testing.B, h http.Handler) {
	reqs := make([]*http.Request, 1000)
	for i := range reqs {
		reqs[i] = httptest.NewRequest("GET", "/api/items/"+strconv.Itoa(i+1)+"/reviews", nil)
		reqs[i].RemoteAddr = "198.51.100." + strconv.Itoa(i%250) + ":1234"
		reqs[i].Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120")
		reqs[i].Header.Set("Accept", "application/json")
	}
	w := &discardWriter{h: http.Header{}}
	// warm the phone cache the way a live proxy's is warm
	for _, r := range reqs {
		h.ServeHTTP(w, r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		h.ServeHTTP(w, reqs[i%len(reqs)])
	}
}

// The CPU leakguard adds per request, next to a plain ReverseProxy doing the same forwarding.
func BenchmarkOverheadPlainReverseProxy(b *testing.B) { benchHandler(b, plain(newCanned())) }
func BenchmarkOverheadGuardedNoScan(b *testing.B)     { benchHandler(b, guarded(b, newCanned(), false)) }
func BenchmarkOverheadGuardedPIIScan(b *testing.B)    { benchHandler(b, guarded(b, newCanned(), true)) }
func BenchmarkOverheadGuardedDetect(b *testing.B)     { benchHandler(b, detecting(b, newCanned())) }
