package proxy

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
)

// scanAllProxy is a proxy with one record route (GET /r/{kind}, records
// in the JSON body), the phone scan on every text response, and no
// budgets; it is not yet serving, so a test may set its held budget.
func scanAllProxy(t *testing.T, up string, maxBody int64, log *slog.Logger) (*Proxy, *Metrics) {
	t.Helper()
	h := keyed.New([]byte("bounds-test-secret-123"))
	cat, err := records.NewCatalog(records.Spec{
		Routes:       []records.RouteSpec{{Route: "GET /r/{kind}", Entity: "user", Body: "$.reviews[*].user.id"}},
		PII:          []string{"phone"},
		PhoneRegions: []string{"CN"},
		ScanAll:      true,
	}, h)
	if err != nil {
		t.Fatal(err)
	}
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: len(cat.Entities()), ExactUpTo: 64, MaxActors: 10000})
	eng, err := engine.New(m, engine.Options{Entities: cat.Entities()})
	if err != nil {
		t.Fatal(err)
	}
	met := NewMetrics(prometheus.NewRegistry(), cat.Entities())
	u, _ := url.Parse(up)
	return New(Options{Upstream: u, Resolver: identity.NewResolver(identity.Options{}, h), Catalog: cat, Engine: eng,
		Metrics: met, MaxBodyBytes: maxBody, Log: log}), met
}

// A streamed body sends at most its allowance of phone numbers to
// libphonenumber. Past it, mobiles still count (unvalidated, as
// validation hashes them) and fixed lines do not: the body is counted in
// leakguard_bodies_skipped_total{reason="phones_unchecked"}.
func TestStreamedBodyPhoneAllowance(t *testing.T) {
	const n = 1500
	var b strings.Builder
	b.WriteString(`{"reviews":[`)
	for i := range n {
		fmt.Fprintf(&b, `{"user":{"id":%d},"m":"139%08d","f":"010-6%07d"},`, i, i, i)
	}
	b.WriteString(`{}]}`)
	page := b.String()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, page)
	}))
	defer up.Close()
	p, met := scanAllProxy(t, up.URL, 16<<10, nil)
	front := httptest.NewServer(p)
	defer front.Close()
	resp, err := client.RoundTrip(req("GET", front.URL+"/r/x"))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	waitCounter(t, met.skipped.WithLabelValues(skipPhonesUnchecked), 1)
	// The allowance (1024) covers the first 512 records' two numbers.
	if got, want := testutil.ToFloat64(met.recordsBy[1]), float64(n+records.MaxPhoneChecks/2); got != want {
		t.Errorf("%v phones counted, want every mobile and the first %d fixed lines: %v", got, records.MaxPhoneChecks/2, want)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
