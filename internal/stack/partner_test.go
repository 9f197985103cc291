package stack_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard/internal/proxy"
	"github.com/leakguard/leakguard/internal/shop"
	"github.com/leakguard/leakguard/internal/stack"
)

// handlerTransport answers a proxy's upstream requests from a handler.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	res := rec.Result()
	res.Request = r
	return res, nil
}

// TestEvasionPartnerSpreadOverItsPrefix: a partner allowlisted as a /28,
// as leakguard.example.yaml shows, harvested at 60 profiles a second
// over 14 of its addresses and took 3,363 in 90 s, never refused (a ninth
// red team, live, 2026-12-07): its allowlisted budget of 400 in 10
// minutes held each address apart. A partner allowlisted by prefix is now
// one actor on all of it. The control is a partner on one address.
func TestEvasionPartnerSpreadOverItsPrefix(t *testing.T) {
	for _, tc := range []struct {
		name, allow string
		addrs       int
	}{
		{"a /28 over 14 addresses", "203.0.113.0/28", 14},
		{"a /32 (control)", "203.0.113.7/32", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, h, st := buildWith(t, fmt.Sprintf(`upstream: http://upstream.invalid
mode: enforce
identity:
  trusted_proxies: [127.0.0.1/32]
  session: {cookie: sid}
detect:
  allow: [%s]
records:
  - route: GET /api/users/{id}
    entity: user
state: {dir: %q, persist: false}
`, tc.allow, t.TempDir()), stack.Options{NoBotDNS: true})
			opts := st.ProxyOptions(cfg, h, proxy.NewMetrics(prometheus.NewRegistry(), st.Catalog.Entities()), nil)
			opts.Upstream, _ = url.Parse("http://upstream.invalid")
			opts.Transport = handlerTransport{shop.New(1, 50000, 1000).Handler()}
			p := proxy.New(opts)
			served := 0
			for i := range 2000 {
				r := httptest.NewRequest("GET", "/api/users/"+strconv.Itoa(1+i), nil)
				r.RemoteAddr = "127.0.0.1:40000"
				base := 1
				if tc.addrs == 1 {
					base = 7
				}
				r.Header.Set("X-Forwarded-For", "203.0.113."+strconv.Itoa(base+i%tc.addrs))
				r.Header.Set("User-Agent", "AcmeSync/2.3")
				w := httptest.NewRecorder()
				p.ServeHTTP(w, r)
				if w.Code == http.StatusOK {
					served++
				}
			}
			if served != 400 {
				t.Fatalf("the partner was served %d of 2,000 profiles, want 400 (the allowlisted budget)", served)
			}
		})
	}
}
