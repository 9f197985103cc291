package proxy

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/testserver"
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

// Bodies kept whole for inspection are bounded in sum, whatever the number
// of responses in flight: past the bound a body is inspected as it streams
// and finds the same records. Off the record routes a body may take only
// half the bound; the record routes keep the rest.
func TestHeldBodyBytesAreBounded(t *testing.T) {
	const (
		n     = 12
		part  = 192 << 10 // held whole, a body takes 256 KiB of buffer
		bound = 1 << 20
	)
	release := make(chan struct{})
	var once sync.Once
	releaseAll := func() { once.Do(func() { close(release) }) }
	pad := strings.Repeat("x", part)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := r.URL.Query().Get("i")
		w.Header().Set("Content-Type", "application/json")
		// A phone before the wait and one after: the first is read before
		// the body moves to the streaming path, the second after.
		fmt.Fprintf(w, `{"a":"1390000%04s","pad":"%s`, i, pad)
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprintf(w, `","b":"1380000%04s"}`, i)
	}))
	defer up.Close()
	p, met := scanAllProxy(t, up.URL, 1<<20, nil)
	p.dec.held.max = bound
	front := httptest.NewServer(p)
	defer front.Close()

	var peak atomic.Int64
	stop := make(chan struct{})
	var stopOnce sync.Once
	defer stopOnce.Do(func() { close(stop) })
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			peak.Store(max(peak.Load(), p.dec.held.n.Load()))
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	var wg sync.WaitGroup
	defer func() {
		releaseAll() // on a failure too: the upstream waits for it
		wg.Wait()
	}()
	bodies := make([][]byte, n+1)
	first := make(chan struct{}, n+1) // a client has what was sent before the wait, so the proxy has read it
	get := func(i int, path string) {
		defer wg.Done()
		resp, err := client.RoundTrip(req("GET", fmt.Sprintf("%s%s?i=%d", front.URL, path, i)))
		if err != nil {
			t.Error(err)
			first <- struct{}{}
			return
		}
		head := make([]byte, len(`{"a":"13900000000","pad":"`)+part)
		_, err = io.ReadFull(resp.Body, head)
		first <- struct{}{}
		rest, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			bodies[i] = append(head, rest...)
		}
	}
	for i := range n {
		wg.Add(1)
		go get(i, "/static/page")
	}
	for range n {
		<-first
	}
	offRoute := p.dec.held.n.Load()
	if offRoute > bound/2 {
		t.Errorf("off the record routes %d bytes held by %d bodies, over half the bound of %d", offRoute, n, bound)
	}
	// At most bound/2 / 256 KiB = 2 are held whole; the others went on as
	// they streamed.
	if full := p.dec.held.full.Load(); full < n-2 {
		t.Errorf("%d bodies moved to the streaming path, want %d at least", full, n-2)
	}
	// A record route's body still fits whole beside them.
	full := p.dec.held.full.Load()
	wg.Add(1)
	go get(n, "/r/page")
	<-first
	if held := p.dec.held.n.Load(); held <= offRoute {
		t.Errorf("the record route's body was not held whole: %d bytes held, %d before it", held, offRoute)
	}
	releaseAll()
	wg.Wait()
	stopOnce.Do(func() { close(stop) })
	<-sampled

	if got := peak.Load(); got > bound {
		t.Errorf("%d bytes held at the peak, over the bound of %d", got, bound)
	}
	if p.dec.held.full.Load() != full {
		t.Errorf("the record route's body was moved off the whole-body path")
	}
	for i, b := range bodies {
		want := fmt.Sprintf(`{"a":"1390000%04d","pad":"%s","b":"1380000%04d"}`, i, pad, i)
		if string(b) != want {
			t.Errorf("body %d: %d bytes, want %d", i, len(b), len(want))
		}
	}
	testserver.WaitFor(t, 10*time.Second, "every body let go", func() bool { return p.dec.held.n.Load() == 0 })
	// Both phones of every body count, streamed or not.
	waitCounterFn(t, func() float64 { return testutil.ToFloat64(met.recordsBy[1]) }, 2*(n+1))
}

// A small body that breaks (a coding that will not decode, fewer bytes than
// its Content-Length) cannot be answered 502: ReverseProxy has written the
// status before it reads the body. The connection is aborted; a client
// sent the bytes as they came (with their Content-Length) gets no response
// at all, and none gets a complete one. The log says why, and the body is
// counted as malformed, or incomplete when the upstream cut it short,
// coded or not.
func TestBrokenSmallBodiesAbortTheConnection(t *testing.T) {
	page := []byte(reviews)
	garbage := []byte(`this is not compressed at all {"reviews":[{"user":{"id":3}}]}`)
	truncated := encode("gzip", page)
	truncated = truncated[:len(truncated)-10]
	for _, tc := range []struct {
		name, enc string
		body      []byte
		short     bool // fewer bytes than the Content-Length, then the upstream hangs up
	}{
		{"truncated-gzip", "gzip", truncated, false},
		{"garbage-gzip", "gzip", garbage, false},
		{"garbage-br", "br", garbage, false},
		{"garbage-zstd", "zstd", garbage, false},
		{"garbage-deflate", "deflate", garbage, false},
		{"short-content-length", "", page, true},
		{"short-content-length-gzip", "gzip", encode("gzip", page), true},
	} {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if tc.enc != "" {
				w.Header().Set("Content-Encoding", tc.enc)
			}
			if !tc.short {
				w.Write(tc.body)
				return
			}
			w.Header().Set("Content-Length", "1000")
			w.Write(tc.body)
			w.(http.Flusher).Flush()
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
		}))
		for _, asIs := range []bool{true, false} {
			name := tc.name + "/decoded"
			ae := "identity"
			if asIs {
				name = tc.name + "/as-is"
				if tc.enc != "" {
					ae = tc.enc
				}
			} else if tc.enc == "" {
				continue
			}
			t.Run(name, func(t *testing.T) {
				var log bytes.Buffer
				var mu sync.Mutex
				p, met := scanAllProxy(t, up.URL, 64<<10, slog.New(slog.NewTextHandler(lockedWriter{&mu, &log}, nil)))
				front := httptest.NewServer(p)
				defer front.Close()
				resp, err := client.RoundTrip(req("GET", front.URL+"/r/x", "Accept-Encoding", ae))
				if err == nil {
					b, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					if asIs {
						t.Errorf("got %s and %d bytes (read: %v); want no response at all", resp.Status, len(b), rerr)
					} else if rerr == nil {
						t.Errorf("got %s and %d bytes as a complete response", resp.Status, len(b))
					}
				}
				reason, cause := skipMalformed, "does not decode as its Content-Encoding says"
				if tc.short {
					reason, cause = skipIncomplete, "unexpected EOF"
				}
				waitCounter(t, met.skipped.WithLabelValues(reason), 1)
				mu.Lock()
				defer mu.Unlock()
				if !strings.Contains(log.String(), cause) {
					t.Errorf("log does not say %q:\n%s", cause, log.String())
				}
			})
		}
		up.Close()
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
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
	// Streamed (the page is past max_body_bytes), and kept whole.
	for _, max := range []int64{16 << 10, 1 << 20} {
		p, met := scanAllProxy(t, up.URL, max, nil)
		front := httptest.NewServer(p)
		defer front.Close()
		resp, err := client.RoundTrip(req("GET", front.URL+"/r/x"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		// Both paths say the body had numbers left uncounted.
		waitCounter(t, met.skipped.WithLabelValues(skipPhonesUnchecked), 1)
		// The allowance (1024) covers the first 512 records' two numbers:
		// every mobile counts, and the first 512 fixed lines.
		want := float64(n + records.MaxPhoneChecks/2)
		testserver.WaitFor(t, 10*time.Second, fmt.Sprintf("max_body_bytes %d: %v phones counted (%v now)", max, want, testutil.ToFloat64(met.recordsBy[1])),
			func() bool { return testutil.ToFloat64(met.recordsBy[1]) == want })
	}
}

func waitCounterFn(t *testing.T, v func() float64, want float64) {
	t.Helper()
	testserver.WaitFor(t, 10*time.Second, fmt.Sprintf("a count of %v", want), func() bool { return v() == want })
}

// A decoyed actor's responses and sprinkled ones are read whole to be
// rewritten. They were held outside the held budget: each of a decoyed
// scraper's connections that did not read kept up to max_body_bytes,
// and sprinkles (a share of everyone's responses on their route) twice
// that. Now they take room in the budget, as bodies off the record routes
// (half of it); without room a decoy is refused and a sprinkle is left
// out, its body inspected on the normal path.
func TestDecoysAndSprinklesAreHeldWithinTheBudget(t *testing.T) {
	const size = 192 << 10
	p, _ := scanAllProxy(t, "http://127.0.0.1:1", 1<<20, nil)
	p.dec.held.max = 512 << 10 // 256 KiB for what is rewritten
	h := keyed.New([]byte("bounds-test-secret-123"))
	p.o.Decoys = canary.NewMaker(h.Derive("decoys"), records.NewScanner([]records.Kind{records.Phone}, []string{"CN"}, h, [4]uint64{}))
	page := func(n int, known bool) *http.Response {
		body := fmt.Sprintf(`{"reviews":[{"user":{"id":1,"phone":"13900001111"}}],"pad":"%s"}`, strings.Repeat("x", n))
		resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), ContentLength: -1}
		if known {
			resp.ContentLength = int64(len(body))
		}
		return resp
	}
	for _, known := range []bool{true, false} {
		t.Run(fmt.Sprintf("decoys, length known %v", known), func(t *testing.T) {
			first, second := page(size, known), page(size, known)
			if err := p.decoy(first, &exchange{}); err != nil || first.StatusCode != 200 {
				t.Fatalf("the first decoy: %v, status %d", err, first.StatusCode)
			}
			if held := p.dec.held.n.Load(); held < size || held > 256<<10 {
				t.Fatalf("%d bytes held for a decoy of %d bytes not yet sent", held, size)
			}
			if err := p.decoy(second, &exchange{}); err != nil || second.StatusCode != http.StatusForbidden {
				t.Fatalf("a decoy without room: %v, status %d, want %d", err, second.StatusCode, http.StatusForbidden)
			}
			first.Body.Close()
			second.Body.Close()
			if held := p.dec.held.n.Load(); held != 0 {
				t.Fatalf("%d bytes still held once both bodies were closed", held)
			}
		})
	}
	t.Run("sprinkles", func(t *testing.T) {
		full := p.dec.held.full.Load()
		first, second := page(100<<10, true), page(100<<10, true)
		x1, x2 := &exchange{sprinkle: "reviews"}, &exchange{sprinkle: "reviews"}
		if err := p.sprinkle(first, x1); err != nil || !x1.inspect {
			t.Fatalf("the first sprinkle: %v, read whole %v", err, x1.inspect)
		}
		if held := p.dec.held.n.Load(); held < 200<<10 {
			t.Fatalf("%d bytes held for a sprinkled body of 100 KiB, sent and inspected", held)
		}
		if err := p.sprinkle(second, x2); err != nil || x2.inspect {
			t.Fatalf("a sprinkle without room: %v, read whole %v", err, x2.inspect)
		}
		if got := p.dec.held.full.Load() - full; got != 1 {
			t.Fatalf("%d bodies counted as without room, want 1", got)
		}
		first.Body.Close()
		if held := p.dec.held.n.Load(); held != 0 {
			t.Fatalf("%d bytes still held once the body was closed", held)
		}
	})
}
