package stack_test

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/proxy"
	"github.com/leakguard/leakguard/internal/shop"
	"github.com/leakguard/leakguard/internal/stack"
	"github.com/leakguard/leakguard/internal/store"
)

// shopAnswers answers every request from the synthetic shop's answers,
// taken once: the benchmark measures the proxy, not the shop.
type shopAnswers map[string][]byte

func (a shopAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	b, ok := a[r.URL.Path]
	ct := "application/json"
	switch {
	case !ok:
		b = []byte("{}")
	case r.URL.Path == "/static/app.js":
		ct = "application/javascript"
	case !bytes.HasPrefix([]byte(r.URL.Path), []byte("/api/")):
		ct = "text/html; charset=utf-8"
	}
	return &http.Response{StatusCode: 200, ProtoMajor: 1, ProtoMinor: 1, Request: r, ContentLength: int64(len(b)),
		Header: http.Header{"Content-Type": {ct}, "Content-Length": {strconv.Itoa(len(b))}}, Body: io.NopCloser(bytes.NewReader(b))}, nil
}

// BenchmarkDefaultPolicyPeople is the proxy as `leakguard proxy` builds
// it from the README's minimal config (the record routes and the session
// cookie, no budgets: the default policy and the whole detector), with
// requests as bench/people.lua makes them: 20,000 people, 30% behind 4
// carrier-NAT addresses, each item's page, its script, then its reviews,
// a session a visit of 30 requests. State in memory only
// (BenchmarkDefaultPolicyPeopleStored adds the embedded store). Its ns/op
// is the CPU of one request on one core, next to
// BenchmarkOverheadPlainReverseProxy's.
func BenchmarkDefaultPolicyPeople(b *testing.B) {
	p, reqs := peopleProxy(b, stack.Options{})
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		p.ServeHTTP(w, reqs[i%len(reqs)])
	}
}

// BenchmarkDefaultPolicyPeopleStored is BenchmarkDefaultPolicyPeople with
// the embedded store, flushed as the proxy's syncer does every 2 s: here
// every 24,000 requests, which is 2 s at 12,000 requests a second, on the
// same core. Its ns/op less BenchmarkDefaultPolicyPeople's is what keeping
// state on disk costs a request.
func BenchmarkDefaultPolicyPeopleStored(b *testing.B) {
	dir := b.TempDir()
	var s *store.Store
	p, reqs := peopleProxy(b, stack.Options{Persist: true, Load: func(k identity.Key) []byte {
		if s == nil {
			return nil
		}
		return s.Load(k)
	}}, func(st *stack.Stack) {
		var err error
		if s, _, err = store.Open(dir, store.Meta{Windows: st.Meter.Windows(), Entities: st.Catalog.Entities()}, store.Options{}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
	})
	w := &discard{h: http.Header{}}
	flush := func() {
		saved, _ := p.meter.Drain()
		if err := s.Write(store.Batch{Actors: saved, Now: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	flush() // the first sight of every person, as a running proxy holds it
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		p.ServeHTTP(w, reqs[i%len(reqs)])
		if i%24_000 == 23_999 {
			flush()
		}
	}
}

// peopleProxy is the proxy BenchmarkDefaultPolicyPeople measures, which has
// seen every person once, as on a proxy that has been running: the meter's
// and the detector's first sight of a key is not the steady state, and
// would make ns/op depend on b.N.
func peopleProxy(b *testing.B, o stack.Options, opened ...func(*stack.Stack)) (*peopleHandler, []*http.Request) {
	o.NoBotDNS = true
	cfg, h, st := buildWith(b, fmt.Sprintf(`upstream: http://upstream.invalid
mode: shadow
identity:
  trusted_proxies: [127.0.0.1/32]
  session: {cookie: sid}
records:
  - route: GET /api/users/{id}
    entity: user
  - route: GET /api/items/{id}/reviews
    entity: user
    body: $.reviews[*].user.id
log: {decisions: %q}
state: {dir: %q, persist: false}
`, os.DevNull, b.TempDir()), o)
	for _, f := range opened {
		f(st)
	}
	st.Engine.SetShadow(true)
	sh := shop.New(1, 50000, 1000).Handler()
	answers := shopAnswers{}
	answers["/static/app.js"] = get(sh, "/static/app.js")
	for i := 1; i <= 1000; i++ {
		answers["/items/"+strconv.Itoa(i)] = get(sh, "/items/"+strconv.Itoa(i))
		answers["/api/items/"+strconv.Itoa(i)+"/reviews"] = get(sh, "/api/items/"+strconv.Itoa(i)+"/reviews")
	}
	for i := 1; i <= 50000; i++ {
		answers["/api/users/"+strconv.Itoa(i)] = get(sh, "/api/users/"+strconv.Itoa(i))
	}
	opts := st.ProxyOptions(cfg, h, proxy.NewMetrics(prometheus.NewRegistry(), st.Catalog.Entities()), nil)
	opts.Upstream, _ = url.Parse("http://upstream.invalid")
	opts.Transport = answers
	p := &peopleHandler{Handler: proxy.New(opts), meter: st.Meter}
	reqs := peopleRequests(20000, 60000)
	w := &discard{h: http.Header{}}
	for _, r := range reqs {
		clear(w.h)
		p.ServeHTTP(w, r)
	}
	return p, reqs
}

type peopleHandler struct {
	http.Handler
	meter *memory.Memory
}

// peopleRequests is n requests of as many people as bench/people.lua's.
func peopleRequests(people, n int) []*http.Request {
	rng := rand.New(rand.NewPCG(1, 2))
	step, visit, item := make([]int, people), make([]int, people), make([]int, people)
	reqs := make([]*http.Request, n)
	for i := range reqs {
		p := rng.IntN(people)
		s := step[p]
		step[p]++
		if s%30 == 0 {
			visit[p]++
		}
		k := s % 3
		if k == 0 {
			item[p] = max(1, int(math.Pow(1000, rng.Float64())))
		}
		path, accept := "/api/items/"+strconv.Itoa(item[p])+"/reviews", "application/json"
		switch {
		case k == 0:
			path, accept = "/items/"+strconv.Itoa(item[p]), "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
		case k == 1:
			path, accept = "/static/app.js", "*/*"
		case s%30 == 29:
			path = "/api/users/" + strconv.Itoa(1+p%50000)
		}
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = "127.0.0.1:40000"
		addr := fmt.Sprintf("10.%d.%d.%d", p>>16, p>>8&255, p&255)
		if p%10 < 3 {
			addr = fmt.Sprintf("100.64.0.%d", 1+p%4)
		}
		r.Header.Set("X-Forwarded-For", addr)
		r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
		r.Header.Set("Accept-Language", "en-US,en;q=0.9")
		r.Header.Set("Accept", accept)
		r.Header.Set("Cookie", "sid=p"+strconv.Itoa(p)+"-"+strconv.Itoa(visit[p]))
		reqs[i] = r
	}
	return reqs
}

func get(h http.Handler, path string) []byte {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Body.Bytes()
}

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}
